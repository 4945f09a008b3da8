"""Figures that deploy: a rollback through the platform's router, an upload against curl's.

Rollback: the seeded app ``web`` is deployed twice with a small web app that answers its
release's version; each run is ``rig rollback --app web`` (the release before the active
one) timed from its start until the platform's router answers the old version.

Upload: rig's own upload (``rig.transport.upload.upload`` with rig's client, in a fresh
process: ``python -m bench.inproc upload``) of an archive rig prepared, against ``curl -T``
of the same file with the same request (``POST {app}/releases``, the same headers and token).
rig's bundling (gzip) is not in that time: it is CPU, not upload. The client's peak memory
is the whole ``rig deploy`` (bundling and upload) of the same source.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.measure import peak_rss_mb
from bench.platform import APP, NETWORK, Platform, rig_executable

UPLOAD_APP = "upload"
POLL_S = 0.01
SETTLE_TIMEOUT = 120.0
WEB_SOURCE = """\
import http.server, os

VERSION = open("VERSION").read().strip().encode()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(VERSION)))
        self.end_headers()
        self.wfile.write(VERSION)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def _deploy(platform: Platform, source: Path, app: str, *extra: str) -> dict[str, object]:
    command = [rig_executable(), "deploy", str(source), "--app", app, "--network", NETWORK]
    out = subprocess.run(
        [*command, "-o", "json", *extra],
        env=platform.env,
        capture_output=True,
        check=True,
        timeout=600,
    ).stdout
    data: dict[str, object] = json.loads(out)
    return data


def serving(platform: Platform, app: str = APP) -> str:
    """What the app answers through the platform's router ("" when it does not answer 200)."""
    parts = urlsplit(platform.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    try:
        conn.request("GET", "/", headers={"Host": f"{app}.{NETWORK}.localhost"})
        response = conn.getresponse()
        body = response.read().decode(errors="replace").strip()
        return body if response.status == 200 else ""
    except OSError:
        return ""
    finally:
        conn.close()


def deploy_versions(platform: Platform) -> None:
    """Deploy ``web`` as v1 then v2; v2 serves when this returns."""
    source = platform.root / "web"
    source.mkdir()
    (source / "Procfile").write_text("web: python app.py\n")
    (source / "app.py").write_text(WEB_SOURCE)
    for version in ("v1", "v2"):
        (source / "VERSION").write_text(version + "\n")
        _deploy(platform, source, APP)
    if serving(platform) != "v2":
        raise RuntimeError(f"web answers {serving(platform)!r} after deploying v2")


def rollback(platform: Platform) -> float:
    """Seconds from starting ``rig rollback --app web`` to the router serving the other
    version (each rollback makes the one before the active one active again)."""
    old = "v1" if serving(platform) == "v2" else "v2"
    command = [rig_executable(), "rollback", "--app", APP, "--network", NETWORK, "-o", "json"]
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, env=platform.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        while serving(platform) != old:
            if time.perf_counter() - start > SETTLE_TIMEOUT:
                raise TimeoutError(
                    f"web does not serve {old} {SETTLE_TIMEOUT:.0f} s after rollback"
                )
            time.sleep(POLL_S)
        elapsed = time.perf_counter() - start
    finally:
        _, err = proc.communicate(timeout=SETTLE_TIMEOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"rig rollback exited {proc.returncode}: {err[-500:]!r}")
    return elapsed


@dataclass(frozen=True)
class Upload:
    """One upload source: the directory deployed and the archive rig made of it."""

    source: Path
    archive: Path
    size: int
    sha256: str


def prepare_upload(platform: Platform, megabytes: int) -> Upload:
    """A directory with ``megabytes`` MB of random bytes (incompressible: gzip does not
    shrink what is sent), and rig's archive of it."""
    source, archive = platform.root / "upload-src", platform.root / "upload.tar.gz"
    source.mkdir()
    (source / "Procfile").write_text("web: python -m http.server $PORT\n")
    with open(source / "random.bin", "wb") as f:
        for _ in range(megabytes):
            f.write(os.urandom(1_000_000))
    code = (
        "import sys\n"
        "from rig.bundle import plan_bundle\n"
        "from rig.transport.upload import build_archive\n"
        "a = build_archive(plan_bundle(sys.argv[1]), sys.argv[2])\n"
        "print(a.size, a.sha256)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(source), str(archive)],
        env=platform.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    platform.api("POST", f"/networks/{NETWORK}/apps", {"name": UPLOAD_APP})
    return Upload(source, archive, int(out[0]), out[1])


def releases_url(platform: Platform) -> str:
    return f"{platform.url}/api/v1/networks/{NETWORK}/apps/{UPLOAD_APP}/releases"


def settle(platform: Platform) -> None:
    """Wait until no release of the upload app is unpacking, building or starting, so that
    the next upload does not share the machine with the last one's work."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    path = f"/networks/{NETWORK}/apps/{UPLOAD_APP}/releases"
    while any(
        r["status"] in ("pending", "building", "starting") for r in platform.api("GET", path)
    ):
        if time.monotonic() > deadline:
            raise TimeoutError("a release of the upload app does not settle")
        time.sleep(0.1)


def rig_upload(platform: Platform, upload: Upload) -> tuple[float, float]:
    """(seconds, peak MB of that process) for rig's upload of the archive."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.inproc", "upload", "1", str(upload.archive), upload.sha256],
        env=platform.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(out)
    settle(platform)
    return data["seconds"], data["peak_mb"]


def curl_upload(platform: Platform, upload: Upload) -> float:
    """Seconds (curl's own ``time_total``) for ``curl -T`` of the same archive, same request."""
    curl = shutil.which("curl")
    if curl is None:
        raise FileNotFoundError("curl")
    out = subprocess.run(
        [
            curl,
            "--silent",
            "--show-error",
            "--fail",
            "--output",
            os.devnull,
            "--write-out",
            "%{time_total}",
            "-X",
            "POST",
            "-T",
            str(upload.archive),
            "-H",
            "Expect:",  # no 100-continue wait: rig does not send one either
            "-H",
            "Content-Type: application/gzip",
            "-H",
            f"X-Checksum-Sha256: {upload.sha256}",
            "-H",
            f"Idempotency-Key: {uuid.uuid4().hex}",
            "-H",
            f"Authorization: Bearer {platform.token}",
            releases_url(platform),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    settle(platform)
    return float(out)


def deploy_peak_mb(platform: Platform, upload: Upload) -> float:
    """Peak memory of ``rig deploy --detach`` of the source: bundling and upload."""
    command = [rig_executable(), "deploy", str(upload.source), "--app", UPLOAD_APP]
    peak = peak_rss_mb([*command, "--network", NETWORK, "--detach", "-o", "json"], platform.env)
    settle(platform)
    return peak
