"""The swarm runtime beside the process runtime (issue 17): the same app and the same
measurements on a platform of each, in turns, reported side by side (no target: the figures
say what a container engine costs, which is not something to gate on yet).

- deploy to serving: ``rig deploy`` of a small web app to a new app, from its start until
  the platform's router answers the app's version (bench/deploys.py's app and poll);
- rollback: bench/deploys.py's ``rollback`` (``rig rollback`` until the router serves the
  other version);
- exec round trip: ``rig command --app web true`` (on swarm, a ``docker exec`` into a task);
- log latency p50/p99: bench/logs.py's latencies, the app writing ``lat`` lines 5 ms apart
  (on swarm they go through the engine's container log).

The process figures come from a platform started here too (not the bench's sandboxed one),
so both platforms are fresh and differ only in ``--runtime``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from bench import deploys
from bench import logs as log_driver
from bench import platform as platforms
from bench.figures import LATENCY_INTERVAL, Figure, Target, figure, not_measurable
from bench.measure import interleaved, median, percentile, run_once
from bench.platform import APP, NETWORK, Platform, rig_executable

REPORTED = Target("reported", float("inf"))
RUNTIMES = ("process", "swarm")


def runtimes(deploys_n: int, rollbacks: int, commands: int, log_lines: int) -> list[Figure]:
    """The swarm runtime's rows, each with the process runtime's as its reference."""
    names = (
        "swarm: deploy to serving",
        "swarm: rollback until the old version serves",
        "swarm: rig command true round trip",
        "swarm: log latency p50",
        f"swarm: log latency p99 over {log_lines:,} lines",
    )
    try:
        from maxlocal.runtime.swarm import engine

        engine.connect().close()
    except Exception as exc:  # no engine on this machine: said, not measured
        why = f"no Docker engine ({exc}); scripts/docker-up starts one"
        return [not_measurable(name, "ms", REPORTED, why) for name in names]
    started = {name: platforms.start(runtime=name) for name in RUNTIMES}
    try:
        deploy_s = interleaved(
            deploys_n, {name: _deploy_to_serving(p) for name, p in started.items()}
        )
        for p in started.values():
            deploys.deploy_versions(p)
        rollback_s = interleaved(
            rollbacks, {name: partial(deploys.rollback, p) for name, p in started.items()}
        )
        command = [rig_executable(), "command", "--app", APP, "--network", NETWORK, "true"]
        command_s = interleaved(
            commands, {name: partial(run_once, command, p.env) for name, p in started.items()}
        )
        latency_ms = {
            name: log_driver.latencies(log_driver.deploy(p), log_lines, LATENCY_INTERVAL)
            for name, p in started.items()
        }
    finally:
        for p in started.values():
            platforms.stop(p)

    def row(name: str, samples: dict[str, list[float]], scale: float, note: str) -> Figure:
        swarm, process = (median(samples[r]) * scale for r in ("swarm", "process"))
        return figure(name, swarm, "ms", REPORTED, ("process runtime", process), note)

    p99 = {r: percentile(latency_ms[r], 0.99) for r in RUNTIMES}
    return [
        row(names[0], deploy_s, 1000, f"median of {deploys_n} deploys, a new app each (after 1)"),
        row(names[1], rollback_s, 1000, f"median of {rollbacks}, interleaved"),
        row(names[2], command_s, 1000, f"median of {commands}, interleaved"),
        row(names[3], latency_ms, 1, f"{log_lines:,} lines written 5 ms apart"),
        figure(
            names[4],
            p99["swarm"],
            "ms",
            REPORTED,
            ("process runtime", p99["process"]),
            note=f"max {max(latency_ms['swarm']):.1f} ms (swarm), "
            f"{max(latency_ms['process']):.1f} ms (process)",
        ),
    ]


def _deploy_to_serving(platform: Platform) -> Callable[[], float]:
    """A measurement: ``rig deploy`` of the small web app to a new app, until it serves."""
    count = iter(range(1_000))
    source = platform.root / "dts"
    source.mkdir()
    (source / "Procfile").write_text("web: python3 app.py\n")
    (source / "app.py").write_text(deploys.WEB_SOURCE)
    (source / "VERSION").write_text("v1\n")

    def once() -> float:
        app = f"dts-{next(count)}"
        platform.api("POST", f"/networks/{NETWORK}/apps", {"name": app})
        start = time.perf_counter()
        deploys._deploy(platform, source, app)
        while deploys.serving(platform, app) != "v1":
            if time.perf_counter() - start > deploys.SETTLE_TIMEOUT:
                raise TimeoutError(f"{app} does not serve v1")
            time.sleep(deploys.POLL_S)
        return time.perf_counter() - start

    return once
