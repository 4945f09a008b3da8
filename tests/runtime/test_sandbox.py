"""The sandbox of tenant processes, with the machine's real bubblewrap and setpriv: what a
process in it is, sees and can signal, and that the platform's controls (group signals,
exit codes, a terminal and its size) still work through it."""

from __future__ import annotations

import functools
import os
import re
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


@pytest.fixture
def isolation() -> Isolation:
    # per test, not per module: mutmut runs against a mutant only the tests that called it
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
    assert off.detail == "turned off by --isolation none"
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
    assert run(box, "exit 128", ANYWHERE).returncode == 128  # an exit, not a signal
    assert run(box, "kill -HUP $$", ANYWHERE).returncode == -signal.SIGHUP  # 129: the first


def test_a_shell_in_the_sandbox_gets_a_terminal_its_size_and_its_exit_code(
    isolation: Isolation, tmp_path: Path
) -> None:
    box = isolation.sandbox(APP_UIDS + 11, writable=[tmp_path])
    output, ended, done = bytearray(), list[Ended](), threading.Event()

    def on_exit(end: Ended) -> None:
        ended.append(end)
        done.set()

    in_box = functools.partial(launch, sandbox=box)  # what the process driver's ExecTarget gives
    session = SessionManager().start_shell(
        tmp_path, child_env({}), 80, 24, output.extend, on_exit, launcher=in_box
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


# -- each confinement claim on its own (these kill the mutants of tests/reliability/mutation.py)

HOST_SECRET_FILES = ("shadow", "shadow-", "gshadow", "gshadow-", "sudoers", "security/opasswd")
HOST_SECRET_DIRS = ("ssh", "sudoers.d", "ssl/private")
HOST_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


# uid+namespaces needs root (CI runs as root); userns mode works for anyone
MODES = [sandbox.UID_MODE, sandbox.USERNS_MODE] if os.geteuid() == 0 else [sandbox.USERNS_MODE]


@pytest.fixture(params=MODES)
def each_mode(request: pytest.FixtureRequest, isolation: Isolation) -> Isolation:
    """Each mode made by hand with the platform's tools: as root, both (userns mode works
    for root too), so the mode an ordinary user gets is tested where CI runs."""
    mode = request.param
    userns = mode == sandbox.USERNS_MODE
    system = sandbox._system_args([INTERPRETER], userns=userns)
    chosen = Isolation(mode, "", isolation.bwrap, isolation.setpriv, isolation.env, system)
    return chosen


def mount_options(box: Sandbox | None) -> dict[str, str]:
    """Each mount point inside ``box`` and whether it is ``ro`` or ``rw``."""
    done = run(box, "cat /proc/self/mountinfo", ANYWHERE)
    assert done.returncode == 0, done.stdout
    fields = (line.split() for line in done.stdout.splitlines())
    return {f[4]: f[5].split(",")[0] for f in fields}


def namespaces(box: Sandbox | None) -> dict[str, str]:
    script = "for n in ipc mnt pid uts user net; do echo $n $(readlink /proc/self/ns/$n); done"
    done = run(box, script, ANYWHERE)
    return dict(line.split(" ", 1) for line in done.stdout.splitlines())


def test_a_tenant_runs_in_its_own_namespaces_with_no_privilege(each_mode: Isolation) -> None:
    uid = APP_UIDS + 13 if each_mode.separate_uids else None
    box = each_mode.sandbox(uid)
    inside, host = namespaces(box), namespaces(None)
    for name in ("ipc", "mnt", "pid", "uts"):
        assert inside[name] != host[name], name
    # a user namespace only where there is no uid of its own (the mounts do the separating)
    assert (inside["user"] != host["user"]) == (not each_mode.separate_uids)
    done = run(box, "hostname; id -u; id -g; grep -E '^(Cap|NoNewPrivs|Groups)' /proc/self/status",
               ANYWHERE)  # fmt: skip
    name, user, group, *status = done.stdout.splitlines()
    assert name == "sandbox"
    fields = dict(line.split(":", 1) for line in status)
    assert {key: value.strip() for key, value in fields.items()} == {
        "Groups": "",
        **{cap: "0000000000000000" for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")},
        "NoNewPrivs": "1",
    }
    if each_mode.separate_uids:
        assert (user, group) == (str(uid), str(uid))


def test_the_system_is_read_only_its_secrets_masked_and_its_links_kept(
    each_mode: Isolation,
) -> None:
    box = each_mode.sandbox(APP_UIDS + 14 if each_mode.separate_uids else None)
    options = mount_options(box)
    for path in ("/usr", "/etc", str(INTERPRETER)):
        assert options[path] == "ro", path
    for path in ("/tmp", "/var/tmp"):
        assert options[path] == "rw", path
    files = [f"/etc/{name}" for name in HOST_SECRET_FILES if os.path.isfile(f"/etc/{name}")]
    dirs = [f"/etc/{name}" for name in HOST_SECRET_DIRS if os.path.isdir(f"/etc/{name}")]
    script = "; ".join(
        [*(f"echo {path} $(stat -c %F {path})" for path in files),
         *(f"echo {path} $(ls -A {path} | wc -l)" for path in dirs),
         *(f"echo {link} $(readlink {link})" for link in HOST_LINKS if os.path.islink(link)),
         "stat -c '%a' /tmp /var/tmp /var", "ls /dev | grep -cx -e null -e vda -e sda"]
    )  # fmt: skip
    lines = run(box, script, ANYWHERE).stdout.splitlines()
    expected = [
        *(f"{path} character special file" for path in files),  # /dev/null over it
        *(f"{path} 0" for path in dirs),  # an empty tmpfs over it
        *(f"{link} {os.readlink(link)}" for link in HOST_LINKS if os.path.islink(link)),
        "1777", "1777", "755", "1",  # bwrap's own /dev: null, none of the host's disks
    ]  # fmt: skip
    assert lines == expected


def test_what_a_caller_names_is_shown_read_only_or_writable_at_its_place(
    each_mode: Isolation, tmp_path: Path
) -> None:
    uid = APP_UIDS + 15 if each_mode.separate_uids else None
    release, home, area = tmp_path / "app" / "release", tmp_path / "home", tmp_path / "area"
    envs, missing, building = tmp_path / "envs", tmp_path / "not-there", area / "envs" / "b"
    for folder in (release, home, area / "uv", envs / "built"):
        folder.mkdir(parents=True)
    (release / ".venv").symlink_to(envs / "built")
    (release / "node_modules").symlink_to(building)
    (release / "app").mkdir()
    (release / "inside").symlink_to(release / "app")  # inside the release: not a layer
    (release / "dangling").symlink_to(tmp_path / "gone")
    box = sandbox.BuildBox(each_mode, uid, release, home, area)
    box.open(building)
    assert sorted(sandbox.linked_layers(release)) == [building, envs / "built"]
    assert sandbox.linked_layers(tmp_path / "no-release") == []
    for folder in (release, home, area / "uv"):
        each_mode.give(folder, uid)
    step = box.step(building)
    options = mount_options(step)
    assert {path: options.get(str(path)) for path in (release, home, area, envs / "built",
                                                       building, missing)} == {
        release: "rw", home: "rw", area: "rw", envs / "built": "ro",
        building: None, missing: None,  # the environment being built: through its area
    }  # fmt: skip
    # one mount: a package in the app's download cache is hardlinked into its environment
    done = run(step, f"echo pkg > {area}/uv/p.whl && ln {area}/uv/p.whl {building}/p.whl && "
               f"stat -c %a {tmp_path} {tmp_path / 'app'}", ANYWHERE)  # fmt: skip
    assert done.stdout.split() == ["755", "755"], done.stdout  # made parents crossable
    assert (building / "p.whl").stat().st_ino == (area / "uv" / "p.whl").stat().st_ino
    assert mount_options(box.step())[str(envs / "built")] == "ro"
    app = each_mode.sandbox(uid, read_only=[release, *sandbox.linked_layers(release)],
                            writable=[home, missing])  # fmt: skip
    options = mount_options(app)
    assert [options.get(str(p)) for p in (release, envs / "built", building, home)] == [
        "ro",
        "ro",
        "ro",
        "rw",
    ]
    assert str(missing) not in options


def test_a_tenant_uid_is_never_root_nor_the_platforms(isolation: Isolation) -> None:
    if not isolation.separate_uids:
        return  # one host uid: nothing to choose
    for uid in (0, os.getuid(), None):
        with pytest.raises(AssertionError):
            isolation.sandbox(uid)
    assert sandbox.app_uid(1) == APP_UIDS + 1
    assert sandbox.network_uid(APP_UIDS - sandbox.NETWORK_UIDS - 1) == APP_UIDS - 1
    with pytest.raises(ValueError, match="beyond the uid range of networks"):
        sandbox.network_uid(APP_UIDS - sandbox.NETWORK_UIDS)


def test_give_and_seal_change_only_what_is_inside_and_follow_no_link(
    isolation: Isolation, tmp_path: Path
) -> None:
    if not isolation.separate_uids:
        return  # ownership only separates tenants that have uids of their own
    uid, env_dir, outside = APP_UIDS + 16, tmp_path / "env", tmp_path / "platform.key"
    (env_dir / "pkg").mkdir(parents=True)
    (env_dir / "pkg" / "mod.py").write_text("x")
    outside.write_text("k")
    outside.chmod(0o640)
    (env_dir / "pkg" / "link").symlink_to(outside)
    isolation.give(env_dir, uid)
    owners = {p.lstat().st_uid for p in (env_dir, env_dir / "pkg", env_dir / "pkg" / "mod.py",
                                         env_dir / "pkg" / "link")}  # fmt: skip
    assert owners == {uid} and outside.stat().st_uid == os.getuid()
    (env_dir / "pkg" / "mod.py").chmod(0o6775)
    (env_dir / "pkg").chmod(0o2777)
    outside.chmod(0o666)
    isolation.seal(env_dir)
    modes = {p.name: (p.lstat().st_uid, p.lstat().st_gid, oct(p.lstat().st_mode & 0o7777))
             for p in (env_dir / "pkg", env_dir / "pkg" / "mod.py")}  # fmt: skip
    me = (os.getuid(), os.getgid())
    assert modes == {"pkg": (*me, "0o755"), "mod.py": (*me, "0o755")}
    assert (env_dir / "pkg" / "link").lstat().st_uid == os.getuid()
    assert oct(outside.stat().st_mode & 0o777) == "0o666"  # the link's target is not sealed
    # given again: only when the top is not the tenant's already
    isolation.give(env_dir, uid)
    assert (env_dir / "pkg" / "mod.py").stat().st_uid == uid
    # a link to a directory given or sealed: nothing behind it changes hands
    platform_dir, link = tmp_path / "platform", tmp_path / "link"
    (platform_dir / "data").mkdir(parents=True)
    link.symlink_to(platform_dir)
    isolation.give(link, uid)
    assert (platform_dir / "data").stat().st_uid == os.getuid()
    # nothing to give or seal, or nobody to give it to: nothing happens
    isolation.give(tmp_path / "missing", uid)
    isolation.seal(tmp_path / "missing")
    isolation.give(platform_dir, None)
    assert (platform_dir / "data").stat().st_uid == os.getuid()


def test_the_mode_is_what_the_machine_allows_and_says_so(
    isolation: Isolation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if isolation.separate_uids:
        pattern = r"bwrap \d[\d.]*; a uid per app, private mount/pid/ipc/uts namespaces"
    else:
        pattern = r"bwrap \d[\d.]*; an unprivileged user namespace \(one host uid\), private .*"
    pattern += r"; seccomp: \d+ kernel calls and namespace flags refused"
    assert re.fullmatch(pattern, isolation.detail), isolation.detail
    assert isolation.describe() == f"{isolation.mode} ({isolation.detail})"
    assert isolation.to_dict() == {"mode": isolation.mode, "detail": isolation.detail}
    broken = tmp_path / "bwrap"
    broken.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
    )
    broken.chmod(0o755)
    real_which = shutil.which
    monkeypatch.setattr(
        shutil,
        "which",
        lambda name, path=None: str(broken) if name == "bwrap" else real_which(name),
    )
    fallback = sandbox.choose(sandbox.AUTO)
    why = "bwrap cannot make a sandbox here: bwrap: No permissions to create new namespace"
    assert (fallback.mode, fallback.detail) == (sandbox.NO_MODE, why)
    with pytest.raises(sandbox.IsolationUnavailable, match=why):
        sandbox.choose(sandbox.SANDBOX)
    broken.write_text("#!/bin/sh\nexit 3\n")
    assert sandbox.choose(sandbox.AUTO).detail == "bwrap cannot make a sandbox here: exit code 3"
    monkeypatch.setattr(shutil, "which", lambda name, path=None: None)
    missing = "bwrap and setpriv and env not found: install bubblewrap"
    assert sandbox.choose(sandbox.AUTO).detail.startswith(missing)


def test_the_tools_come_from_the_system_not_from_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted = tmp_path / "bwrap"
    planted.write_text("#!/bin/sh\nexit 1\n")
    planted.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    chosen = sandbox.choose(sandbox.SANDBOX)
    assert Path(chosen.bwrap).parent in (Path("/usr/bin"), Path("/bin")), chosen.bwrap


def test_an_ordinary_user_gets_a_user_namespace_without_capabilities(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 4242)  # the probe still runs, for real
    chosen = sandbox.choose(sandbox.SANDBOX, [INTERPRETER])
    assert chosen.mode == sandbox.USERNS_MODE and not chosen.separate_uids
    assert chosen.system[:3] == ("--unshare-user", "--cap-drop", "ALL")
    assert "an unprivileged user namespace (one host uid)" in chosen.detail


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
