"""Figures of isolation (issue 14): what the sandbox costs, each against the same thing
without it, measured side by side in one run.

- App start-up: an app's web process launched as the platform launches it (``proc.spawn``
  with the sandbox the platform's isolation makes for an app: bwrap, the identity drop)
  until its port accepts connections, against the same launch without a sandbox. The
  figure is the time added per process start; its note breaks a start of ``/bin/true``
  down by layer (the cgroup join, bwrap with the platform's mounts, the identity drop and
  signal resets, the seccomp filter), each against the layer below, in the same turns.
- ``rig command 'true'`` round trip against a platform whose processes run sandboxed,
  against the same command against a second platform started with ``--isolation none``
  (each with the same small app deployed).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench import platform as platforms
from bench.deploys import WEB_SOURCE, _deploy
from bench.figures import Figure, Target, figure, not_measurable
from bench.measure import interleaved, median, percentile, run_once
from bench.platform import NETWORK, Platform, rig_executable

APP = "svc-00"  # one of the seeded apps, deployed for exec sessions
ADDED_MS = Target("≤ 50 ms added", 50)
COMMAND_RATIO = Target("≤ 1.3x without the sandbox", 1.3, on_ratio=True)
START_NAME = "app start-up: process launch → port accepting"
COMMAND_NAME = "rig command 'true' round trip, sandboxed"
LISTEN_TIMEOUT = 30.0


def isolation(platform: Platform, runs: int) -> list[Figure]:
    from maxlocal.builders.toolbox import Toolbox
    from maxlocal.runtime import sandbox

    chosen = sandbox.choose(sandbox.AUTO, Toolbox(platform.root / "cache").sandbox_paths())
    if not chosen.active:
        why = f"no sandbox on this machine ({chosen.detail})"
        return [
            not_measurable(START_NAME, "ms", ADDED_MS, why),
            not_measurable(COMMAND_NAME, "ms", COMMAND_RATIO, why),
        ]
    return [app_start_up(chosen, runs), command_round_trip(platform, runs)]


def spread(samples: list[float]) -> str:
    """``12.3 ms (p10-p90 8.1-30.2)`` of samples in seconds."""
    low, high = (percentile(samples, f) * 1000 for f in (0.1, 0.9))
    return f"{median(samples) * 1000:.1f} ms (p10-p90 {low:.1f}-{high:.1f})"


def start_breakdown(chosen: object, runs: int) -> str:
    """Where a sandboxed start's time goes: ``/bin/true`` launched bare, with the cgroup
    join only, by bwrap with the platform's mounts only, in the whole sandbox without and
    with the seccomp filter, and as the platform launches it (sandbox and cgroup)."""
    import dataclasses
    import uuid

    from maxlocal.runtime.cgroups import Cgroups
    from maxlocal.runtime.proc import child_env, launch
    from maxlocal.runtime.sandbox import APP_UIDS, Isolation
    from maxlocal.runtime.seccomp import NO_FILTER

    assert isinstance(chosen, Isolation)
    box = chosen.sandbox(APP_UIDS + 2)
    assert box is not None
    cgroups = Cgroups.detect(f"bench-{uuid.uuid4().hex[:8]}")
    group = cgroups.group(("bench/start", "x"), cgroups.defaults)
    env, here = child_env({}), Path("/tmp")

    def start(**how: object) -> Callable[[], float]:
        def once() -> float:
            began = time.perf_counter()
            proc = launch(["/bin/true"], here, env, **how)  # type: ignore[arg-type]
            if proc.wait() != 0:
                raise RuntimeError(f"/bin/true exited {proc.returncode} ({how})")
            return time.perf_counter() - began

        return once

    mounts = [*box.prefix, "--chdir", "/tmp", "--", "/bin/true"]
    subjects: dict[str, Callable[[], float]] = {
        "bare": start(),
        "bwrap with the mounts only": partial(run_once, mounts, env),
        "+ setpriv and signal resets": start(sandbox=dataclasses.replace(box, seccomp=NO_FILTER)),
        "+ seccomp filter": start(sandbox=box),
    }
    if group is not None:
        subjects["cgroup join only"] = start(cgroup=group)
        subjects["the platform's launch (sandbox + cgroup)"] = start(sandbox=box, cgroup=group)
    try:
        samples = interleaved(runs, subjects)
    finally:
        if group is not None:
            group.kill()
        cgroups.close()
    parts = ", ".join(f"{name} {spread(values)}" for name, values in samples.items())
    return f"/bin/true per start: {parts}"


def app_start_up(chosen: object, runs: int) -> Figure:
    """Launch → listening of a small Python web app, with and without the app sandbox."""
    from maxlocal.runtime.proc import child_env, spawn, terminate_group
    from maxlocal.runtime.sandbox import APP_UIDS, Isolation

    assert isinstance(chosen, Isolation)
    release = Path(tempfile.mkdtemp(prefix="rig-bench-release-"))
    home = release.with_name(release.name + "-home")
    home.mkdir()
    (release / "app.py").write_text(WEB_SOURCE)
    (release / "VERSION").write_text("v1\n")
    uid = APP_UIDS + 1
    for path in (release, home):
        chosen.give(path, uid)
    box = chosen.sandbox(uid, read_only=[release], writable=[home])
    python = os.path.realpath(sys.base_prefix) + "/bin/python3"

    def start(sandboxed: bool) -> float:
        port = _free_port()
        env = child_env({}, release, home=home, port=port)
        began = time.perf_counter()
        proc = spawn(f"exec {python} app.py", release, env, merge_stderr=True,
                     sandbox=box if sandboxed else None)  # fmt: skip
        try:
            _wait_listening(port, proc)
            return time.perf_counter() - began
        finally:
            terminate_group(proc, grace=2.0)
            if proc.stdout is not None:
                proc.stdout.close()

    samples = interleaved(runs, {"sandbox": partial(start, True), "none": partial(start, False)})
    with_ms, without_ms = (median(samples[name]) * 1000 for name in ("sandbox", "none"))
    return figure(
        START_NAME,
        with_ms - without_ms,
        "ms",
        ADDED_MS,
        note=f"added by the sandbox ({chosen.mode}): {spread(samples['sandbox'])} sandboxed, "
        f"{spread(samples['none'])} without, over {runs} interleaved starts each, load "
        f"{os.getloadavg()[0]:.1f}; {start_breakdown(chosen, runs)}",
    )


def command_round_trip(sandboxed: Platform, runs: int) -> Figure:
    """``rig command --app svc-00 'true'`` on the bench's (sandboxed) platform and on one
    started with ``--isolation none``, in turns."""
    bare = platforms.start(isolation="none")
    try:
        for target in (sandboxed, bare):
            _deploy_small(target)
        command = [rig_executable(), "command", "--app", APP, "--network", NETWORK, "true"]
        subjects = {
            "sandbox": partial(run_once, command, sandboxed.env),
            "none": partial(run_once, command, bare.env),
        }
        samples = interleaved(runs, subjects)
    finally:
        platforms.stop(bare)
    with_ms, without_ms = (median(samples[name]) * 1000 for name in ("sandbox", "none"))
    return figure(
        COMMAND_NAME,
        with_ms,
        "ms",
        COMMAND_RATIO,
        reference=("same, --isolation none", without_ms),
        note=f"two platforms, the same app, {runs} interleaved runs each",
    )


def _deploy_small(platform: Platform) -> None:
    source = platform.root / "isolation-app"
    source.mkdir(exist_ok=True)
    (source / "Procfile").write_text("web: python3 app.py\n")
    (source / "app.py").write_text(WEB_SOURCE)
    (source / "VERSION").write_text("v1\n")
    _deploy(platform, source, APP)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + LISTEN_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"the bench app exited {proc.returncode}: {out[-500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.002)
    raise RuntimeError(f"the bench app did not listen on {port} within {LISTEN_TIMEOUT:.0f} s")
