"""``python -m bench [--quick] [--logs] [--dist] [--out PATH]``: measure rig against the performance
targets.

Starts a local platform, measures every figure (the median of repeated runs, each
reference in the same rounds), prints a table, writes ``bench/results.json`` and exits
1 when a target is missed. ``--quick`` runs each figure a few times and enforces nothing:
it is the smoke test that keeps this suite working. ``--logs`` measures only the socket and
log figures (join, latency, throughput, idle CPU); ``--dist`` only the start-up of the release
artefacts (bench/dist.py, which builds them: not in the smoke run); ``--swarm`` only the swarm
runtime's rows beside the process runtime's (bench/swarm.py).
"""

from __future__ import annotations

import argparse
import compileall
import json
import platform as host
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import builds, dist, figures, isolation, platform, swarm
from bench import router as router_figures
from bench.figures import Figure

RESULTS = Path(__file__).with_name("results.json")


@dataclass(frozen=True)
class Repetitions:
    start_up: int
    memory: int
    shell: int
    completion: int
    fresh: int
    join: int
    log_lines: int
    flood_s: float
    idle_s: float
    upload_mb: int
    uploads: int
    rollbacks: int
    alone: int
    parallel_rounds: int
    builds: int
    isolation: int
    swarm_deploys: int
    swarm_commands: int


FULL = Repetitions(
    start_up=15,
    memory=7,
    shell=7,
    completion=500,
    fresh=10,
    join=20,
    log_lines=1000,
    flood_s=10,
    idle_s=60,
    upload_mb=100,
    uploads=3,
    rollbacks=7,
    alone=7,
    parallel_rounds=3,
    builds=9,
    isolation=15,
    swarm_deploys=5,
    swarm_commands=10,
)
QUICK = Repetitions(
    start_up=2,
    memory=1,
    shell=1,
    completion=20,
    fresh=2,
    join=2,
    log_lines=20,
    flood_s=0.5,
    idle_s=1,
    upload_mb=5,
    uploads=1,
    rollbacks=2,
    alone=2,
    parallel_rounds=1,
    builds=1,
    isolation=2,
    swarm_deploys=1,
    swarm_commands=1,
)


def measure(
    reps: Repetitions, logs_only: bool = False, dist_only: bool = False, swarm_only: bool = False
) -> list[Figure]:
    compileall.compile_dir(Path(__file__).parent.parent / "rig", quiet=1)
    if swarm_only:  # also in the full run; the smoke run of these is tests/bench's own test
        return swarm_rows(reps)
    local = platform.start()
    try:
        if dist_only:
            return dist.start_up(local, reps.start_up)
        socket_missing = figures.socket_missing(local)
        others = (
            []
            if logs_only
            else [
                *figures.start_up(local, reps.start_up),
                figures.memory(local, reps.memory),
                figures.shell_prompt(local, reps.shell),
                figures.completion(local, reps.completion),
                figures.fresh_name(local, reps.fresh, socket_missing),
                *figures.upload(local, reps.upload_mb, reps.uploads),
                figures.concurrent(local, reps.alone, reps.parallel_rounds),
                figures.rollback(local, reps.rollbacks),
                *builds.builds(local, reps.builds),
                *isolation.isolation(local, reps.isolation),
                *router_figures.router(local, quick=reps == QUICK),
                # builds the artefacts (minutes): not in the smoke run; tests/dist runs it
                *([] if reps == QUICK else dist.start_up(local, reps.start_up)),
                *([] if reps == QUICK else swarm_rows(reps)),
            ]
        )
        return [
            *others,
            figures.socket_join(local, reps.join, socket_missing),
            *figures.logs(local, socket_missing, reps.log_lines, reps.flood_s, reps.idle_s),
        ]
    finally:
        platform.stop(local)


def swarm_rows(reps: Repetitions) -> list[Figure]:
    lines = min(reps.log_lines, 500)
    return swarm.runtimes(reps.swarm_deploys, min(reps.rollbacks, 5), reps.swarm_commands, lines)


def table(results: list[Figure]) -> str:
    rows = [("figure", "value", "reference", "ratio", "target", "result")]
    for f in results:
        value = "-" if f.value is None else f"{f.value:,.1f} {f.unit}"
        reference = f"{f.reference:,.1f} {f.unit} ({f.reference_name})" if f.reference else ""
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else ""
        rows.append((f.name, value, reference, ratio, f.target, "pass" if f.passed else "FAIL"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {f.name}: {f.note}" for f in results if f.note]
    return "\n".join(lines + (["", "notes:", *notes] if notes else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few repetitions")
    parser.add_argument("--logs", action="store_true", help="only the socket and log figures")
    parser.add_argument(
        "--dist", action="store_true", help="only the start-up of the release artefacts"
    )
    parser.add_argument(
        "--swarm", action="store_true", help="only the swarm runtime beside the process one"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the results")
    args = parser.parse_args(argv)
    started = time.time()
    results = measure(
        QUICK if args.quick else FULL,
        logs_only=args.logs,
        dist_only=args.dist,
        swarm_only=args.swarm,
    )
    print(table(results))
    report = {
        "quick": args.quick,
        "logs_only": args.logs,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "python": sys.version.split()[0],
        "machine": host.platform(),
        "figures": [f.to_json() for f in results],
        "passed": all(f.passed for f in results),
    }
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    missed = sum(not f.passed for f in results)
    print(f"\n{len(results) - missed}/{len(results)} targets met; results in {args.out}")
    return 0 if args.quick or not missed else 1


if __name__ == "__main__":
    sys.exit(main())
