"""The seccomp filter (maxlocal/runtime/seccomp.py): bob calling the kernel the way container
escapes do (a user namespace of his own, keyrings, mounts, file handles, perf, eBPF,
userfaultfd, ptrace, turning ASLR off, io_uring, setns, the kernel log) from his build, his
app, ``rig command`` and a ``rig shell`` terminal.

Without the sandbox each call reaches the kernel (its answer is not EPERM); in the sandbox
each is refused with EPERM. The same sandbox without the filter shows it is the filter that
refuses (the kernel answers otherwise), and what tenants run (sh, Python with threads and
subprocesses, Node with workers) works under it. The calls are harmless on the host without
a filter (see tenant/syscalls.py).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from maxlocal.runtime import sandbox
from maxlocal.runtime.proc import child_env, launch
from maxlocal.runtime.sandbox import APP_UIDS, Isolation, Sandbox
from maxlocal.runtime.seccomp import NO_FILTER, compile_filter
from tests.deploy.conftest import archive, routed
from tests.isolation.world import BOB_NET, PYTHON, TENANT, World, shell_transcript

PROBE = TENANT / "syscalls.py"
INTERPRETER = Path(os.path.realpath(sys.base_prefix))
REPORT = re.compile(r"SYSCALLS (\{.*\})")
KERNEL_REFUSES_ANYWAY = {"syslog"}
"""Refused to an unprivileged uid by the kernel itself (``dmesg_restrict``), filter or not."""


def calls(text: str) -> dict[str, str]:
    found = REPORT.findall(text)
    assert found, f"no SYSCALLS report in:\n{text[-3000:]}"
    return dict(json.loads(found[-1]))


def assert_refused_only_in_sandbox(world: World, got: dict[str, str]) -> None:
    assert len(got) >= 12, got
    if world.mode == "none":
        assert not [name for name, answer in got.items() if answer == "EPERM"], got
    else:
        assert {name: "EPERM" for name in got} == got


@pytest.fixture
def isolation() -> Isolation:
    chosen = sandbox.choose(sandbox.SANDBOX, [INTERPRETER])
    assert chosen.seccomp.active, chosen.detail
    return chosen


def run(box: Sandbox, argv: list[str]) -> subprocess.CompletedProcess[str]:
    proc = launch(argv, Path("/tmp"), child_env({}), sandbox=box,
                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    out, _ = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(argv, proc.returncode, out.decode(), "")


def probe_box(isolation: Isolation) -> Sandbox:
    box = isolation.sandbox(APP_UIDS + 11, read_only=[TENANT])
    assert box is not None
    return box


def test_the_filter_is_what_refuses_the_calls(isolation: Isolation) -> None:
    box = probe_box(isolation)
    refused = calls(run(box, [PYTHON, str(PROBE)]).stdout)
    assert {name: "EPERM" for name in refused} == refused
    unfiltered = calls(
        run(dataclasses.replace(box, seccomp=NO_FILTER), [PYTHON, str(PROBE)]).stdout
    )
    assert unfiltered.keys() == refused.keys()
    reached = {name for name, answer in unfiltered.items() if answer != "EPERM"}
    assert reached == set(unfiltered) - KERNEL_REFUSES_ANYWAY, unfiltered


def test_shells_python_and_node_work_under_the_filter(isolation: Isolation) -> None:
    box = probe_box(isolation)
    python = run(box, [PYTHON, "-c", (
        "import asyncio, subprocess, threading\n"
        "t = threading.Thread(target=print, args=('thread',)); t.start(); t.join()\n"
        "print(subprocess.run(['sh', '-c', 'echo sh $((6 * 7)) | cat'], capture_output=True,"
        " text=True).stdout.strip())\n"
        "async def main():\n"
        "    p = await asyncio.create_subprocess_exec('true'); print('asyncio', await p.wait())\n"
        "asyncio.run(main())\n"
    )])  # fmt: skip
    assert (python.returncode, python.stdout.split()) == (0, ["thread", "sh", "42", "asyncio", "0"])
    node = run(box, ["node", "-e", (
        "const {Worker} = require('worker_threads');"
        "const {execFileSync} = require('child_process');"
        "const w = new Worker("
        "'require(\"worker_threads\").parentPort.postMessage(7)', {eval: true});"
        "w.on('message', m => { console.log('worker', m,"
        " execFileSync('sh', ['-c', 'echo child']).toString().trim()); w.terminate(); });"
    )])  # fmt: skip
    assert (node.returncode, node.stdout.strip()) == (0, "worker 7 child"), node.stdout


def test_without_libseccomp_the_platform_says_so_and_runs_unfiltered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pyseccomp", None)  # what an import finds nothing as
    assert not compile_filter().active
    chosen = sandbox.choose(sandbox.SANDBOX, [INTERPRETER])
    assert chosen.active and not chosen.seccomp.active
    said = "; no seccomp filter (libseccomp unavailable: import of pyseccomp halted; "
    assert chosen.detail.endswith(said + "None in sys.modules)"), chosen.detail
    box = probe_box(chosen)
    assert "--seccomp" not in run(box, ["/bin/true"]).args
    assert calls(run(box, [PYTHON, str(PROBE)]).stdout)["unshare_user"] == "ok"


def test_health_says_the_filter_is_on(world: World) -> None:
    url = f"{world.platform.url}/api/v1/health"
    detail = httpx.get(url, trust_env=False).json()["isolation"]["detail"]
    if world.mode == "none":
        assert "seccomp" not in detail
    else:
        assert re.search(r"; seccomp: \d+ kernel calls and namespace flags refused(;|$)", detail)


def test_bob_s_command_is_refused_the_calls(world: World) -> None:
    run = world.command(f"{PYTHON} -c {_inline()}")
    assert run.code == 0, str(run)
    assert_refused_only_in_sandbox(world, calls(run.out))


def test_bob_s_shell_is_refused_the_calls(world: World) -> None:
    assert_refused_only_in_sandbox(
        world, calls(shell_transcript(world, f"{PYTHON} -c {_inline()}; exit"))
    )


def test_bob_s_build_and_app_are_refused_the_calls(world: World) -> None:
    api = world.bob_api
    assert api.http.post(f"/networks/{BOB_NET}/apps", json={"name": "prober"}).is_success
    source = archive({
        "syscalls.py": PROBE.read_text(),
        "rig.toml": f"build = '{PYTHON} syscalls.py'\n",
        "Procfile": f"web: {PYTHON} syscalls.py serve\n",
    })  # fmt: skip
    deployed: dict[str, Any] = api.deploy(BOB_NET, "prober", source)
    assert deployed["status"] == "active", deployed
    build = "\n".join(str(r["line"]) for r in api.logs(BOB_NET, "prober", "build"))
    assert_refused_only_in_sandbox(world, calls(build))
    page = routed(world.platform, BOB_NET, "prober")
    assert page.status_code == 200, page.text
    assert_refused_only_in_sandbox(world, page.json())


def _inline() -> str:
    """The probe as a ``python3 -c`` argument for a shell (exec sessions run no file of ours)."""
    import shlex

    return shlex.quote(PROBE.read_text().replace('if __name__ == "__main__":', "if True:"))
