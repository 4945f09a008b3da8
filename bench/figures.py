"""The figures of the performance issue: what runs, against which reference, to what target."""

from __future__ import annotations

import http.client
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from bench import deploys
from bench import logs as log_driver
from bench.measure import interleaved, median, peak_rss_mb, percentile, run_once
from bench.platform import APP, EXTRA_APPS, Platform, rig_executable

PYTHON = sys.executable
HTTPX_GET = (
    "import os, httpx\n"
    "httpx.get(os.environ['BENCH_URL'], headers={'Authorization': 'Bearer ' + "
    "os.environ['BENCH_TOKEN']}).raise_for_status()\n"
)
NOT_YET = "not measurable yet"
LATENCY_INTERVAL = 0.005  # seconds between the lines whose latency is measured
PARALLEL = 10  # one-shot commands run at once


@dataclass(frozen=True)
class Target:
    text: str
    limit: float
    on_ratio: bool = False
    at_least: bool = False

    def met(self, value: float | None, ratio: float | None) -> bool:
        measured = ratio if self.on_ratio else value
        if measured is None:
            return False
        return measured >= self.limit if self.at_least else measured <= self.limit


@dataclass
class Figure:
    name: str
    value: float | None
    unit: str
    target: str
    passed: bool
    reference_name: str = ""
    reference: float | None = None
    ratio: float | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def figure(
    name: str,
    value: float | None,
    unit: str,
    target: Target,
    reference: tuple[str, float] | None = None,
    note: str = "",
) -> Figure:
    ratio = value / reference[1] if reference and value is not None else None
    return Figure(
        name,
        value,
        unit,
        target.text,
        target.met(value, ratio),
        reference[0] if reference else "",
        reference[1] if reference else None,
        ratio,
        note,
    )


def not_measurable(name: str, unit: str, target: Target, why: str) -> Figure:
    return figure(name, None, unit, target, note=f"{NOT_YET}: {why}")


def start_up(
    platform: Platform, runs: int, rig: str | None = None, where: str = ""
) -> list[Figure]:
    """Wall times of one-shot commands, each against references run in the same rounds; ``rig``
    another install of it (bench/dist.py: the lean one), named ``where`` in the figures."""
    rig, env = rig or rig_executable(), platform.env
    suffix = f" ({where})" if where else ""
    list_url = f"{platform.url}/api/v1/apps"
    ref_env = {**env, "BENCH_URL": list_url, "BENCH_TOKEN": platform.token}
    subjects = {
        "python -c pass": partial(run_once, [PYTHON, "-c", "pass"], env),
        "rig --version": partial(run_once, [rig, "--version"], env),
        "rig --help": partial(run_once, [rig, "--help"], env),
        "rig list apps -o json": partial(run_once, [rig, "list", "apps", "-o", "json"], env),
        "httpx.get of /api/v1/apps": partial(run_once, [PYTHON, "-c", HTTPX_GET], ref_env),
    }
    ms = {name: median(values) * 1000 for name, values in interleaved(runs, subjects).items()}
    python, httpx_get = (
        ("python -c pass", ms["python -c pass"]),
        (
            "httpx.get of /api/v1/apps",
            ms["httpx.get of /api/v1/apps"],
        ),
    )
    store = f"token in the {platform.store} store"
    return [
        figure(
            "rig --version" + suffix, ms["rig --version"], "ms", Target("≤ 3x", 3, True), python
        ),
        figure("rig --help" + suffix, ms["rig --help"], "ms", Target("≤ 5x", 5, True), python),
        figure(
            "rig list apps -o json" + suffix,
            ms["rig list apps -o json"],
            "ms",
            Target("≤ 10x", 10, True),
            python,
            store,
        ),
        figure(
            "rig list apps -o json" + suffix,
            ms["rig list apps -o json"],
            "ms",
            Target("≤ 0.5x", 0.5, True),
            httpx_get,
            store,
        ),
    ]


def memory(platform: Platform, runs: int) -> Figure:
    command = [rig_executable(), "list", "apps", "-o", "json"]
    peak = median([peak_rss_mb(command, platform.env) for _ in range(runs)])
    return figure("peak memory of rig list apps -o json", peak, "MB", Target("≤ 30 MB", 30))


def shell_prompt(platform: Platform, runs: int) -> Figure:
    """Time from starting ``rig`` on a terminal until its prompt is on the screen."""

    def prompt() -> float:
        import pexpect

        start = time.perf_counter()
        child = pexpect.spawn(
            rig_executable(), env=platform.env, encoding="utf-8", timeout=30, dimensions=(30, 120)
        )
        try:
            child.expect(r"rig default[^>\r\n]*>")
            elapsed = time.perf_counter() - start
            child.sendeof()
            child.expect(pexpect.EOF)
        finally:
            child.close(force=True)
        return elapsed

    subjects: dict[str, Callable[[], float]] = {
        "import cmd2": partial(run_once, [PYTHON, "-c", "import cmd2"], platform.env),
        "shell": prompt,
    }
    ms = {name: median(values) * 1000 for name, values in interleaved(runs, subjects).items()}
    return figure(
        "shell: time to first prompt",
        ms["shell"],
        "ms",
        Target("≤ 2x", 2, True),
        ('python -c "import cmd2"', ms["import cmd2"]),
    )


def _inproc(platform: Platform, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [PYTHON, "-m", "bench.inproc", *args],
        env=platform.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data: dict[str, Any] = json.loads(out)
    return data


def completion(platform: Platform, calls: int) -> Figure:
    data = _inproc(platform, "completion", str(calls))
    target = Target("≤ 5 ms, no request", 5)
    result = figure(
        "Tab completion of an app name, cache warm",
        data["ms"],
        "ms",
        target,
        note=f"{data['connections']} connections made; offered {data['offered']}",
    )
    result.passed = result.passed and data["connections"] == 0 and bool(data["offered"])
    return result


def fresh_name(platform: Platform, runs: int, missing: str | None) -> Figure:
    """An app created elsewhere (another terminal) while the shell idles: how soon Tab
    completes its name, which only the shell socket's event can bring (bench/inproc.py)."""
    name, target = "shell: a name created elsewhere, completable after", Target("≤ 1 s", 1000)
    if missing:
        return not_measurable(name, "ms", target, missing)
    data = _inproc(platform, "fresh", str(runs))
    return figure(name, data["ms"], "ms", target, note=f"max {data['max_ms']:.0f} ms")


def socket_missing(platform: Platform) -> str | None:
    """Why the platform's socket cannot be measured, or None when it accepts a WebSocket."""
    parts = urlsplit(platform.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    try:
        conn.request(
            "GET",
            f"/socket/websocket?vsn=2.0.0&token={platform.token}",
            headers={
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        )
        status = conn.getresponse().status
    finally:
        conn.close()
    return None if status == 101 else f"the platform answers {status} on /socket/websocket"


def socket_join(platform: Platform, runs: int, missing: str | None) -> Figure:
    name, target = "socket connect + join on loopback", Target("≤ 50 ms", 50)
    if missing:
        return not_measurable(name, "ms", target, missing)
    data = _inproc(platform, "join", str(runs), platform.url, platform.token)
    return figure(name, data["ms"], "ms", target)


def logs(
    platform: Platform, socket_missing: str | None, lines: int, seconds: float, idle_s: float
) -> list[Figure]:
    """Latency of ``lines`` lines written 5 ms apart, a flood of ``seconds`` and the CPU of a
    follow idle for ``idle_s``, through a deployed app, the platform and ``rig logs app -f -o
    json`` (see bench/logs.py)."""
    p50, p99 = Target("≤ 5 ms", 5), Target("≤ 20 ms", 20)
    rate = Target("≥ 50,000 lines/s", 50_000, at_least=True)
    idle = Target("≤ 0.5 %", 0.5)
    names = (
        "log latency p50: app writes → rig prints",
        f"log latency p99 over {lines:,} lines",
        "log throughput in -o json, nothing lost",
        f"idle rig logs app -f for {idle_s:g} s: CPU",
    )
    if socket_missing:
        return [
            not_measurable(names[0], "ms", p50, socket_missing),
            not_measurable(names[1], "ms", p99, socket_missing),
            not_measurable(names[2], "lines/s", rate, socket_missing),
            not_measurable(names[3], "%", idle, socket_missing),
        ]
    app = log_driver.deploy(platform)
    ms = log_driver.latencies(app, lines, LATENCY_INTERVAL)
    flood = log_driver.flood(app, seconds)
    cpu = log_driver.idle_cpu(app, idle_s)
    result = figure(
        names[2],
        flood.rate,
        "lines/s",
        rate,
        note=f"{flood.printed:,} of {flood.lines:,} lines printed in {flood.seconds:.1f} s"
        + ("" if flood.contiguous else "; seqs not contiguous"),
    )
    result.passed = result.passed and flood.complete
    return [
        figure(names[0], median(ms), "ms", p50),
        figure(names[1], percentile(ms, 0.99), "ms", p99, note=f"max {max(ms):.1f} ms"),
        result,
        figure(names[3], cpu, "%", idle),
    ]


def rollback(platform: Platform, runs: int) -> Figure:
    """``rig rollback --app web`` until the router serves the old release (bench/deploys.py)."""
    deploys.deploy_versions(platform)
    seconds = [deploys.rollback(platform) for _ in range(runs)]
    return figure(
        "rollback: rig rollback → old release serving",
        median(seconds),
        "s",
        Target("≤ 2 s", 2),
        note=f"max {max(seconds):.2f} s over {runs} rollbacks, polled through the router",
    )


def upload(platform: Platform, megabytes: int, runs: int) -> list[Figure]:
    """rig's upload of a ``megabytes`` MB deploy against ``curl -T`` of the same archive."""
    speed = Target("≥ 0.8x curl", 0.8, on_ratio=True, at_least=True)
    peak_target = Target("≤ 50 MB", 50)
    names = (f"upload of a {megabytes} MB deploy", f"peak memory of rig deploy of {megabytes} MB")
    if shutil.which("curl") is None:
        return [
            not_measurable(names[0], "MB/s", speed, "curl is not installed (the reference)"),
            figure(
                names[1],
                deploys.deploy_peak_mb(platform, deploys.prepare_upload(platform, megabytes)),
                "MB",
                peak_target,
            ),
        ]
    prepared = deploys.prepare_upload(platform, megabytes)
    rig_s: list[float] = []
    rig_peak: list[float] = []
    curl_s: list[float] = []
    for _ in range(runs):
        seconds, peak = deploys.rig_upload(platform, prepared)
        rig_s.append(seconds)
        rig_peak.append(peak)
        curl_s.append(deploys.curl_upload(platform, prepared))
    deploy_peak = median([deploys.deploy_peak_mb(platform, prepared) for _ in range(runs)])
    size_mb = prepared.size / 1e6
    rate = size_mb / median(rig_s)
    note = (
        f"{size_mb:,.1f} MB archive of random bytes made by rig, uploaded by rig's upload "
        f"(bundling not timed: it is gzip, CPU-bound) and by curl -T, same POST, headers and "
        f"token; rig upload {median(rig_s):.2f} s, curl {median(curl_s):.2f} s"
    )
    return [
        figure(names[0], rate, "MB/s", speed, ("curl -T", size_mb / median(curl_s)), note),
        figure(
            names[1],
            deploy_peak,
            "MB",
            peak_target,
            note=f"whole rig deploy --detach (bundle + upload); the upload alone: "
            f"{median(rig_peak):.1f} MB",
        ),
    ]


def concurrent(platform: Platform, alone_runs: int, rounds: int) -> Figure:
    """10 ``rig list apps -o json`` at once while one rig process follows 20 apps' logs on
    one socket: the worst of them against the median of the same 10 at once without the
    follows, i.e. what the follows cost a command. (Against one command run by itself the
    ratio is set by the cores: 10 processes share 2; the note says that floor.)"""
    command = [rig_executable(), "list", "apps", "-o", "json"]
    run_once(command, platform.env)  # warm-up
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    alone = [run_once(command, platform.env) for _ in range(alone_runs)]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_ms = 1000 * (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    cpu_ms /= alone_runs
    without = _parallel(command, platform.env, rounds)  # the same load without the follows
    apps = [APP, *(f"svc-{i:02d}" for i in range(EXTRA_APPS))]
    follower = subprocess.Popen(
        [PYTHON, "-m", "bench.inproc", "follows", "0", *apps],
        env=platform.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        ready = follower.stdout.readline()
        if not ready:
            raise RuntimeError(f"the follower of 20 apps ended: {follower.stderr!r}")
        times = _parallel(command, platform.env, rounds)
        if follower.poll() is not None:
            raise RuntimeError("the follower of 20 apps ended during the commands")
    finally:
        follower.kill()
        follower.wait(10)
    base = median(without) * 1000
    worst = max(times) * 1000
    alone_ms = median(alone) * 1000
    return figure(
        f"{PARALLEL} parallel rig list apps + {len(apps)} follows on one socket: worst",
        worst,
        "ms",
        Target("≤ 2x", 2, on_ratio=True),
        (f"{PARALLEL} parallel without the follows, median", base),
        note=f"median with the follows {median(times) * 1000:.0f} ms over {rounds} rounds of "
        f"{PARALLEL}; one command by itself {alone_ms:.0f} ms using {cpu_ms:.0f} ms of CPU, so "
        f"{PARALLEL} at once on {os.cpu_count()} cores take at least "
        f"{PARALLEL * cpu_ms / (os.cpu_count() or 1):.0f} ms ({worst / alone_ms:.2f}x alone)",
    )


def _parallel(command: list[str], env: dict[str, str], rounds: int) -> list[float]:
    """Wall times of ``command`` run ``PARALLEL`` at once, ``rounds`` times."""
    times: list[float] = []
    for _ in range(rounds):
        with ThreadPoolExecutor(PARALLEL) as pool:
            times += pool.map(lambda _: run_once(command, env), range(PARALLEL))
    return times
