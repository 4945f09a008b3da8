"""Each instance of a scaled app runs in a cgroup of its own with the app's limits: one
instance that blows its memory limit is killed (and told, and restarted) alone; the others
keep their processes, and their own whole limit, and serve on."""

from __future__ import annotations

from pathlib import Path

import httpx

from maxlocal.runtime.cgroups import Cgroups, MiB, Resources
from maxlocal.runtime.supervisor import LocalProcessDriver, Release, State
from tests.deploy.conftest import wait_for
from tests.support.runtime import PY, Events

WEB = """\
import http.server, os, threading, time

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\\n")

# web.1 holds more than half the limit: in one group shared by both, the kernel would kill
# it, the largest, when web.2 grows
ballast = b"x" * (28 * 1024 * 1024) if os.environ["MAX_INSTANCE"] == "web.1" else b""
server = http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Hello)
if os.environ["MAX_INSTANCE"] == "web.2":  # healthy first, then past the limit
    threading.Timer(1.5, lambda: bytearray(200 * 1024 * 1024)).start()
server.serve_forever()
"""


def test_one_instance_out_of_memory_is_killed_alone(
    limited: LocalProcessDriver, cgroups: Cgroups, events: Events, tmp_path: Path
) -> None:
    (tmp_path / "web.py").write_text(WEB)
    limits = Resources(memory=48 * MiB, processes=64)
    release = Release(
        "net/two", 1, tmp_path, {"web": f"{PY} web.py"}, resources=limits, instances=2
    )
    status = limited.start(release)
    assert status.state == State.RUNNING
    first = next(i for i in status.instances if i["name"] == "web.1")
    for parent in cgroups.parents.values():  # one group per instance, for every controller
        groups = sorted(p.name for p in parent.glob("net.two/release-*") if p.is_dir())
        assert [g.split(".", 2)[-1] for g in groups] == ["web.1", "web.2"], groups

    told = "web was killed: out of memory (limit 48 MiB); restarting in"
    wait_for(lambda: any(line.startswith(told) for *_, line, _ in events.logs), 30)
    crashes = [d for _, _, s, d in events.states if s == State.CRASHED]
    assert {d["instance"] for d in crashes} == {"web.2"}, crashes
    assert crashes[0]["reason"] == "was killed: out of memory (limit 48 MiB)"
    now = {i["name"]: i for i in limited.status("net/two").instances}
    assert now["web.1"]["pid"] == first["pid"] and now["web.1"]["up"], now
    answer = httpx.get(f"http://127.0.0.1:{first['port']}/", trust_env=False, timeout=10)
    assert answer.text == "ok\n"
    limited.stop("net/two")
