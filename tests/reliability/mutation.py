"""Mutation testing (mutmut) of the modules whose claims matter most, each against the fast
tests that cover it: would the tests notice if the code were wrong?

``python -m tests.reliability.mutation [TARGET ...]`` (scripts/mutation-report): for each
target, a copy of the tracked files in a scratch directory, mutmut run there on the one
modules with the selected tests, and its counts merged into docs/reliability-figures.json
under ``mutation`` (docs/reliability.md is then rendered again). Survivors are listed with
``mutmut show``; each is to be killed by a test or explained in tests/reliability/proofs.md.
Not part of ``./test``: a target takes minutes (the log store: 540 mutants, ~6 min on 2 cores).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.reliability.report import FIGURES_FILE, REPORT_FILE, ROOT, render

MUTMUT = Path(sys.executable).with_name("mutmut")


@dataclass(frozen=True)
class Target:
    modules: tuple[str, ...]  # the files mutated
    tests: tuple[str, ...]  # the tests run against each mutant
    claim: str  # what the module's tests stand for


TARGETS = {
    "logstore": Target(
        ("maxlocal/runtime/logstore.py",),
        ("tests/runtime/test_logstore.py", "tests/runtime/test_logstore_bounds.py"),
        "no log line lost or doubled (the store's seqs, restarts, bounds)",
    ),
    "follow": Target(
        ("rig/transport/follow.py",),
        (
            "tests/realtime/test_realtime_client.py",
            "tests/realtime/test_realtime_sync.py",
            "tests/realtime/test_realtime_units.py",
            "tests/realtime/test_realtime_follower_order.py",
            "tests/unit/test_live_topics.py",
            "tests/unit/test_connection_notices.py",
        ),
        "no log line lost or doubled (the client's resume, gaps, batches)",
    ),
    "bundle": Target(
        ("rig/bundle.py",),
        ("tests/runtime/test_bundle.py", "tests/runtime/test_bundle_rules.py"),
        "no traversal (what goes into an upload)",
    ),
    "artifacts": Target(
        ("maxlocal/runtime/artifacts.py",),
        # test_malicious_archives.py sends the same archives through a platform process,
        # which mutmut cannot see into: the in-process tests are the ones that count here
        ("tests/runtime/test_artifacts.py", "tests/runtime/test_unpack_rules.py"),
        "no traversal (unpacking an upload)",
    ),
    "scoping": Target(
        ("maxlocal/store/networks.py", "maxlocal/store/apps.py", "maxlocal/api/deps.py"),
        # test_isolation.py and the cross-user probes go through a platform process, which
        # mutmut cannot see into: tests/platform/test_scoping.py drives the same code in-process
        ("tests/platform/test_scoping.py",),
        "no cross-user leak (networks and apps looked up by their owner)",
    ),
    "authorize": Target(
        ("maxlocal/live.py",),
        ("tests/platform/test_scoping.py", "tests/unit/test_live_topics.py"),
        "no cross-user leak (who may join which socket topic; whose events they hear)",
    ),
    "sandbox": Target(
        ("maxlocal/runtime/sandbox.py",),
        # real bwrap/setpriv, launched in-process: the argv a mutant builds is the one run
        ("tests/runtime/test_sandbox.py",),
        "no escape (what a tenant process sees, may write, is and may do)",
    ),
}

SETUP_CFG = """\
[mutmut]
source_paths =
    rig
    maxlocal
only_mutate =
{modules}
pytest_add_cli_args_test_selection =
{tests}
pytest_add_cli_args =
    -p
    no:cacheprovider
    -n
    0
"""


def run(name: str, target: Target, scratch: Path) -> dict[str, object]:
    """mutmut on one target in a copy of the tracked files; its counts and survivors."""
    copy = scratch / name
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for path in filter(None, tracked):
        source = ROOT / path.decode()
        if source.is_file():
            (copy / path.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / path.decode())

    def listed(items: tuple[str, ...]) -> str:
        return "\n".join(f"    {item}" for item in items)

    config = SETUP_CFG.format(modules=listed(target.modules), tests=listed(target.tests))
    (copy / "setup.cfg").write_text(config)
    started = time.monotonic()
    done = subprocess.run(
        [str(MUTMUT), "run", "--max-children", "2"], cwd=copy, capture_output=True, text=True
    )
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"mutation-report: mutmut failed on {name}:\n{done.stderr[-3000:]}")
    subprocess.run([str(MUTMUT), "export-cicd-stats"], cwd=copy, capture_output=True, check=True)
    stats = json.loads((copy / "mutants" / "mutmut-cicd-stats.json").read_text())
    results = subprocess.run(
        [str(MUTMUT), "results"], cwd=copy, capture_output=True, text=True, check=True
    ).stdout
    survivors = [
        line.split(":")[0].strip()
        for line in results.splitlines()
        if line.strip().endswith(("survived", "no tests"))
    ]
    for mutant in survivors:
        shown = subprocess.run(
            [str(MUTMUT), "show", mutant], cwd=copy, capture_output=True, text=True
        ).stdout
        diff = [line for line in shown.splitlines() if line.startswith(("-  ", "+  "))]
        print(f"survived: {mutant}\n" + "\n".join(diff), flush=True)
    killed = int(stats["killed"]) + int(stats["timeout"])
    return {
        "module": ", ".join(target.modules),
        "tests": list(target.tests),
        "claim": target.claim,
        "mutants": int(stats["total"]),
        "killed": killed,
        "survived": int(stats["survived"]),
        "no_tests": int(stats["no_tests"]),
        "score": round(100 * killed / max(1, int(stats["total"])), 1),
        "seconds": round(seconds),
        "run_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def main(argv: list[str]) -> int:
    names = argv or ["logstore", "bundle"]
    unknown = [name for name in names if name not in TARGETS]
    if unknown:
        print(f"mutation-report: unknown target {unknown[0]!r}; one of {', '.join(TARGETS)}")
        return 2
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="rig-mutation-") as scratch:
        for name in names:
            result = results[name] = run(name, TARGETS[name], Path(scratch))
            summary = (
                f"{result['killed']}/{result['mutants']} killed ({result['score']} %), "
                f"{result['survived']} survived, {result['no_tests']} with no test, "
                f"in {result['seconds']} s"
            )
            print(f"mutation-report: {name}: {summary}", flush=True)
    # read only now: a reliability report may have rewritten the figures meanwhile
    figures = json.loads(FIGURES_FILE.read_text())
    figures["values"].setdefault("mutation", {}).update(results)
    FIGURES_FILE.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    REPORT_FILE.write_text(render(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
