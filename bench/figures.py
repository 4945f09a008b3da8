"""The figures of the performance issue: what runs, against which reference, to what target."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from bench import logs as log_driver
from bench.measure import interleaved, median, peak_rss_mb, percentile, run_once
from bench.platform import Platform, rig_executable

PYTHON = sys.executable
HTTPX_GET = (
    "import os, httpx\n"
    "httpx.get(os.environ['BENCH_URL'], headers={'Authorization': 'Bearer ' + "
    "os.environ['BENCH_TOKEN']}).raise_for_status()\n"
)
NOT_YET = "not measurable yet"
LATENCY_INTERVAL = 0.005  # seconds between the lines whose latency is measured


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


def start_up(platform: Platform, runs: int) -> list[Figure]:
    """Wall times of one-shot commands, each against references run in the same rounds."""
    rig, env = rig_executable(), platform.env
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
        figure("rig --version", ms["rig --version"], "ms", Target("≤ 3x", 3, True), python),
        figure("rig --help", ms["rig --help"], "ms", Target("≤ 5x", 5, True), python),
        figure(
            "rig list apps -o json",
            ms["rig list apps -o json"],
            "ms",
            Target("≤ 10x", 10, True),
            python,
            store,
        ),
        figure(
            "rig list apps -o json",
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
