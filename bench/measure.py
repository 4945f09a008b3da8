"""Timing and memory of commands run as fresh processes, and the statistics the figures use."""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence

Command = Sequence[str]

# Runs ``argv`` as a child and prints the child's peak resident set size in KiB (Linux units).
_PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: the least value with ``fraction`` of all at or below it."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def run_once(command: Command, env: Mapping[str, str]) -> float:
    """Wall time of one run of ``command`` in seconds; a failed run is an error, not a figure."""
    start = time.perf_counter()
    proc = subprocess.run(
        command, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}: {proc.stderr[-500:]!r}")
    return elapsed


def interleaved(
    runs: int, subjects: Mapping[str, Callable[[], float]], warmup: int = 1
) -> dict[str, list[float]]:
    """Each subject ``runs`` times, taking turns so that drift in the machine's load hits all alike.

    The first ``warmup`` rounds are not kept (cold page cache, first byte-compilation).
    """
    samples: dict[str, list[float]] = {name: [] for name in subjects}
    for round_ in range(warmup + runs):
        for name, measure in subjects.items():
            value = measure()
            if round_ >= warmup:
                samples[name].append(value)
    return samples


def peak_rss_mb(command: Command, env: Mapping[str, str]) -> float:
    """Peak memory of one fresh run of ``command``, in MB (10^6 bytes)."""
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, *command],
        env=dict(env),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out.strip()) * 1024 / 1e6
