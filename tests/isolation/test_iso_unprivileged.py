"""The platform run by a user who is not root, as on a developer's machine: it starts, says
what of the sandbox it could not set up and why (health, `rig local status`'s source), and
degrades safely — apps deploy, serve through the router and take `rig command`, and a
tenant still cannot read the platform's own files, although every tenant process now runs
as the platform's one host uid (an unprivileged user namespace hides them). The same read
works with ``--isolation none``: the attack is real, the sandbox is what refuses it.

The platform runs as ``nobody`` with the machine's ``/usr/bin/python3`` and this checkout's
packages (root's interpreter under ``/root`` is not readable to another user); rig runs as
root, as a client on the same machine would.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.apps import GREETING_APP
from tests.support.cli import Rig
from tests.support.nobody import CHECKOUT, NOBODY, as_nobody, seen
from tests.support.platform import Platform

SYSTEM_PYTHON = "/usr/bin/python3"
SITE = Path(httpx.__file__).parents[1]  # this checkout's installed packages
READ_KEY = 'cat "$KEY" >/dev/null 2>&1 && echo read=yes || echo read=no'

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists(SYSTEM_PYTHON) or not shutil.which("setpriv"),
    reason="needs root (to become another user) and /usr/bin/python3",
)


class UnprivilegedPlatform(Platform):
    """A maxlocal server run by ``nobody`` (``setpriv``), in a data directory of its own."""

    def command(self, port: int) -> list[str]:
        return as_nobody([SYSTEM_PYTHON, *super().command(port)[1:]])


@pytest.fixture(params=["auto", "none"], ids=["sandbox", "none"])
def unprivileged(request: pytest.FixtureRequest) -> Iterator[Platform]:
    """A platform of nobody's, with the sandbox as the machine allows it, or off."""
    base = Path(tempfile.mkdtemp(prefix="rig-nobody-"))  # pytest's tmp_path is root's, 0700
    os.chmod(base, 0o755)
    os.chown(base, NOBODY, NOBODY)
    environ = {  # nothing of root's: a user's plain environment, this checkout's packages
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(base),
        "LANG": "C.UTF-8",
        "PYTHONPATH": f"{seen(CHECKOUT)}:{seen(SITE)}",
    }
    platform = UnprivilegedPlatform(base / "data", environ=environ, isolation=request.param)
    platform.log_path = base / "server.log"
    try:
        yield platform.start()
    finally:
        platform.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_not_root_the_platform_says_what_it_could_not_isolate_and_apps_still_run(
    unprivileged: Platform, rig: Rig, tmp_path: Path
) -> None:
    platform = unprivileged
    health = httpx.get(f"{platform.url}/api/v1/health").json()
    isolation, limits = health["isolation"], health["limits"]
    if platform.options["isolation"] == "auto":
        # not root: no uid per app, and no limits; each says why, none silently
        assert isolation["mode"] not in ("none", "uid+namespaces"), isolation
        assert limits["mode"] == "off" and "Permission denied" in limits["detail"], limits
        assert "one host uid" in isolation["detail"], isolation
    server_log = platform.log_path.read_text()
    assert "isolation: " in server_log and "limits: off" in server_log, server_log

    creds = platform.bootstrap()
    rig.login(platform, creds["email"], creds["password"])
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text(GREETING_APP)
    (src / "Procfile").write_text("web: python3 app.py\n")
    rig.ok("create", "network", "home")
    rig.ok("deploy", str(src), "--app", "hello", "--network", "home", "--create")
    served = httpx.get(
        f"http://127.0.0.1:{platform.port}/",
        headers={"Host": f"hello.home.localhost:{platform.port}"},
        timeout=10,
    )
    assert served.status_code == 200 and served.text == "hello", served

    # the attack: read the platform's secrets key, a file of the same host uid as the app
    key = platform.data_dir / "secrets.key"
    assert key.is_file() and key.stat().st_uid == NOBODY
    run = rig("command", f"KEY={key}; {READ_KEY}", "--app", "hello", "--network", "home")
    assert run.code == 0, str(run)
    expected = "read=yes" if platform.options["isolation"] == "none" else "read=no"
    assert expected in run.out, str(run)
