"""The sandbox of tenant processes, with the machine's real bubblewrap and setpriv: what a
process in it is, sees and can signal, and that the platform's controls (group signals,
exit codes, a terminal and its size) still work through it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from maxlocal.remote.sessions import Ended, SessionManager
from maxlocal.runtime import sandbox
from maxlocal.runtime.proc import child_env, launch, spawn, terminate_group
from maxlocal.runtime.sandbox import APP_UIDS, Isolation, Sandbox

INTERPRETER = Path(os.path.realpath(sys.base_prefix))
ANYWHERE = Path("/tmp")  # a working directory every sandbox has (its own /tmp)


@pytest.fixture(scope="module")
def isolation() -> Isolation:
    chosen = sandbox.choose(sandbox.SANDBOX, [INTERPRETER])
    expected = sandbox.UID_MODE if os.geteuid() == 0 else sandbox.USERNS_MODE
    assert chosen.mode == expected, chosen.detail
    return chosen


def run(box: Sandbox | None, script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = launch(["/bin/sh", "-c", script], cwd, child_env({}), sandbox=box,
                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    out, _ = proc.communicate(timeout=30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(), "")


def test_none_is_one_trust_domain_and_makes_no_sandbox() -> None:
    off = sandbox.choose(sandbox.NONE)
    assert not off.active and off.sandbox(APP_UIDS + 1) is None
    assert sandbox.describe(off.mode, off.detail).startswith("none — one trust domain")


def test_a_tenant_sees_only_the_system_and_what_it_is_given(
    isolation: Isolation, tmp_path: Path
) -> None:
    mine, shown, secret = tmp_path / "home", tmp_path / "release", tmp_path / "platform-data"
    for folder in (mine, shown, secret):
        folder.mkdir()
    (secret / "secrets.key").write_text("k")
    (shown / "app.py").write_text("print('hi')\n")
    uid = APP_UIDS + 7
    isolation.give(mine, uid)
    box = isolation.sandbox(uid, read_only=[shown], writable=[mine])
    host_tmp = Path("/tmp") / f"host-only-{os.getpid()}"
    host_tmp.write_text("x")
    try:
        done = run(box, f"""
            id -u; grep NoNewPrivs /proc/self/status; grep CapEff /proc/self/status
            cat {shown}/app.py
            echo w > {mine}/w && echo home-writable
            echo w > {shown}/w 2>/dev/null || echo release-read-only
            ls {secret} 2>/dev/null || echo no-platform-data
            ls {host_tmp} 2>/dev/null || echo private-tmp
            ls {Path.home()}/.config 2>/dev/null || echo no-operator-home
            cat /etc/shadow 2>/dev/null || echo no-shadow
            {INTERPRETER}/bin/python3 -c 'print("interpreter", 6 * 7)'
        """, shown)  # fmt: skip
    finally:
        host_tmp.unlink()
    lines = done.stdout.split("\n")
    if isolation.separate_uids:
        assert lines[0] == str(uid)
        assert lines[2].split() == ["CapEff:", "0000000000000000"]
    assert lines[1].split() == ["NoNewPrivs:", "1"]
    for expected in ("print('hi')", "home-writable", "release-read-only", "no-platform-data",
                     "private-tmp", "no-operator-home", "no-shadow", "interpreter 42"):  # fmt: skip
        assert expected in lines, done.stdout
    assert (mine / "w").read_text() == "w\n" and not (shown / "w").exists()
    assert done.returncode == 0


def test_a_tenant_has_its_own_pids_and_cannot_signal_the_platform(
    isolation: Isolation, tmp_path: Path
) -> None:
    box = isolation.sandbox(APP_UIDS + 8)
    done = run(box, f"ls /proc | grep -c '^[0-9]'; kill -0 {os.getpid()} 2>&1 || echo no-signal",
               ANYWHERE)  # fmt: skip
    count, *rest = done.stdout.split("\n")
    assert int(count) <= 4, done.stdout  # bwrap's init, sh, ls, grep
    assert "no-signal" in rest


def test_a_group_sigterm_reaches_the_app_and_its_exit_code_comes_back(
    isolation: Isolation, tmp_path: Path
) -> None:
    box = isolation.sandbox(APP_UIDS + 9)
    script = "trap 'echo stopping; exit 3' TERM; echo ready; while :; do sleep 0.05; done"
    proc = spawn(script, ANYWHERE, child_env({}), merge_stderr=True, sandbox=box)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    assert terminate_group(proc, grace=10) == 3
    assert proc.stdout.read().endswith(b"stopping\n")  # after sh's "Terminated" of a sleep


def test_a_tenant_killed_by_a_signal_is_reported_as_without_the_sandbox(
    isolation: Isolation, tmp_path: Path
) -> None:
    box = isolation.sandbox(APP_UIDS + 10)
    assert run(box, "kill -KILL $$", ANYWHERE).returncode == -signal.SIGKILL
    assert run(box, "exit 42", ANYWHERE).returncode == 42


def test_a_shell_in_the_sandbox_gets_a_terminal_its_size_and_its_exit_code(
    isolation: Isolation, tmp_path: Path
) -> None:
    box = isolation.sandbox(APP_UIDS + 11, writable=[tmp_path])
    output, ended, done = bytearray(), list[Ended](), threading.Event()

    def on_exit(end: Ended) -> None:
        ended.append(end)
        done.set()

    session = SessionManager().start_shell(
        tmp_path, child_env({}), 80, 24, output.extend, on_exit, sandbox=box
    )
    session.write(b"tty; stty size\n")
    wait_for(lambda: b"24 80" in output, "stty size")
    session.resize(120, 40)
    session.write(b"stty size; exit 5\n")
    wait_for(done.is_set, "the shell's exit")
    assert b"not a tty" not in output and b"40 120" in output
    assert ended[0].code == 5


def wait_for(condition: Callable[[], object], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_what_a_tenant_built_is_sealed_against_every_tenant(
    isolation: Isolation, tmp_path: Path
) -> None:
    if not isolation.separate_uids:
        return  # one host uid: the read-only mounts are what protects it (tested above)
    env_dir, uid = tmp_path / "cache" / "envs" / "python-abc", APP_UIDS + 12
    release, home = tmp_path / "release", tmp_path / "home"
    for folder in (release, home):
        folder.mkdir()
        isolation.give(folder, uid)
    box = sandbox.BuildBox(isolation, uid, release, home)
    box.open(env_dir)
    built = run(box.step(env_dir), f"echo lib > {env_dir}/lib.py; chmod 6777 {env_dir}/lib.py",
                release)  # fmt: skip
    assert built.returncode == 0, built.stdout
    box.seal(env_dir)
    info = (env_dir / "lib.py").stat()
    assert (info.st_uid, oct(info.st_mode & 0o7777)) == (os.getuid(), "0o755")
    later = run(isolation.sandbox(uid, writable=[env_dir]), f"echo evil >> {env_dir}/lib.py",
                ANYWHERE)  # fmt: skip
    assert later.returncode != 0 and (env_dir / "lib.py").read_text() == "lib\n"


def test_without_bubblewrap_auto_falls_back_and_sandbox_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_which = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda name, path=None: None if name == "bwrap" else real_which(name)
    )
    fallback = sandbox.choose(sandbox.AUTO)
    assert fallback.mode == sandbox.NO_MODE
    assert fallback.detail == "bwrap not found: install bubblewrap (scripts/install-system-deps)"
    with pytest.raises(sandbox.IsolationUnavailable, match="bwrap not found"):
        sandbox.choose(sandbox.SANDBOX)


def test_what_a_tenant_detaches_dies_with_its_sandbox_at_the_group_kill(
    isolation: Isolation,
) -> None:
    box = isolation.sandbox(APP_UIDS + 13)
    marker = f"{time.monotonic_ns() % 1000}.{os.getpid()}"
    proc = spawn(f"setsid sleep {marker} & echo detached", ANYWHERE, child_env({}),
                 merge_stderr=True, sandbox=box)  # fmt: skip
    assert proc.wait(30) == 0  # bwrap reports the command's exit at once

    def detached() -> list[psutil.Process]:
        return [
            p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", marker]
        ]

    wait_for(detached, "the detached process")
    terminate_group(proc, grace=0.5)
    wait_for(lambda: not detached(), "the detached process to be gone", timeout=10)
