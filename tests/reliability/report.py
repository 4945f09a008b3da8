"""Runs the reliability suite and writes docs/reliability.md from the figures it records.

``python -m tests.reliability.report [--load] [pytest args]``; scripts/reliability-report
is the way to call it. Without ``--load`` the load figures of the last load run are kept;
``--render`` only rewrites the page from the last figures (docs/reliability-figures.json).
Exits non-zero when a test fails or a figure that must be zero is not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.isolation import report as isolation

ROOT = Path(__file__).resolve().parents[2]
FIGURES_FILE = ROOT / "docs" / "reliability-figures.json"
REPORT_FILE = ROOT / "docs" / "reliability.md"
MUST_BE_ZERO = (
    "tracebacks",
    "schemathesis_500s",
    "schema_mismatches",
    "cross_user_leaks",
    "lines_lost",
    "lines_doubled",
)
# Counts that a run must reach, with what fixes them: a count that follows timing or which
# tests ran could otherwise shrink unnoticed (a run with -k, a test that stopped counting).
MINIMUMS: dict[str, tuple[int, str]] = {
    "faults_injected": (108, "one per fault block; fixed by the tests' parameters"),
    "inputs_tried": (
        4500,
        "the hypothesis tests' 5300 examples, less argv with -f, and the bad answers",
    ),
    "schemathesis_cases": (1200, "up to 30 per operation; fewer where the schema allows few"),
    "cross_user_probes": (
        78,
        "one per route and key, one per topic join; the events received in 3 s add a few",
    ),
    "secret_exposure_checks": (41, "35 outputs, and 2 per form of giving a secret (3 forms)"),
    "token_storage_checks": (8, "fixed by the tests"),
    "lines_followed": (60, "the follow test waits for 20 lines before the kill and 40 after"),
}


def run_suite(load: bool, extra: list[str]) -> tuple[int, dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "figures.json"
        env = {**os.environ, "RIG_RELIABILITY_FIGURES": str(target)}
        marker = [] if load else ["-m", "not load"]
        command = [sys.executable, "-m", "pytest", "tests/reliability", "-q", *marker, *extra]
        code = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
        figures = json.loads(target.read_text()) if target.exists() else {}
    return code, figures


def merge(new: dict[str, Any], load: bool) -> dict[str, Any]:
    """The new figures, with the last load run's kept when this run had none, and the last
    mutation scores (scripts/mutation-report writes those)."""
    merged = {"counts": new.get("counts", {}), "values": new.get("values", {})}
    merged["tests"] = new.get("tests", {})
    merged["generated_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    previous = json.loads(FIGURES_FILE.read_text()) if FIGURES_FILE.exists() else {}
    if "mutation" in previous.get("values", {}):
        merged["values"]["mutation"] = previous["values"]["mutation"]
    if not load and previous:
        if "load" in previous.get("values", {}):
            merged["values"]["load"] = previous["values"]["load"]
            merged["load_generated_at"] = previous.get("load_generated_at")
    elif load:
        merged["load_generated_at"] = merged["generated_at"]
    return merged


def render(figures: dict[str, Any]) -> str:
    counts: dict[str, int] = figures["counts"]
    values: dict[str, Any] = figures["values"]

    def n(name: str) -> int:
        return int(counts.get(name, 0))

    def at_least(name: str) -> str:
        return f"≥ {MINIMUMS[name][0]}"

    def fewer(name: str) -> str:
        minimum, why = MINIMUMS[name]
        return f"fewer than {minimum} ({why})"

    # (figure, value, must be, what makes it fail)
    rows = [
        (
            "Faults injected",
            n("faults_injected"),
            at_least("faults_injected"),
            fewer("faults_injected"),
        ),
        (
            "Faults survived",
            n("faults_survived"),
            f"= {n('faults_injected')}",
            "any behaviour asserted for a fault not holding (its exit code, one clear line, "
            "the state intact; per fault below), or a fault asserting nothing",
        ),
        (
            "Faults run in-process (rig's main() in the test)",
            n("faults_in_process"),
            "—",
            "— (a label: these do not start rig as a process)",
        ),
        (
            "Inputs tried (argv, names, bad answers)",
            n("inputs_tried"),
            at_least("inputs_tried"),
            fewer("inputs_tried"),
        ),
        ("Tracebacks seen", n("tracebacks"), "0", "rig printing a traceback for any input"),
        (
            "schemathesis cases",
            n("schemathesis_cases"),
            at_least("schemathesis_cases"),
            fewer("schemathesis_cases"),
        ),
        (
            "schemathesis operations",
            values.get("schemathesis_operations", 0),
            "every one",
            "an operation of the OpenAPI document not exercised",
        ),
        ("Answers with a 5xx", n("schemathesis_500s"), "0", "any generated request answered 5xx"),
        (
            "Answers not matching the schema (distinct)",
            n("schema_mismatches"),
            "0",
            "an answer its OpenAPI schema does not allow",
        ),
        (
            "Cross-user probes",
            n("cross_user_probes"),
            at_least("cross_user_probes"),
            fewer("cross_user_probes"),
        ),
        (
            "Routes probed (the platform's own route table)",
            values.get("cross_user_endpoints", 0),
            "every one",
            "a route with no stated no-leak rule (tests/reliability/test_cross_user_probes.py "
            "`policy`)",
        ),
        (
            "Socket topic patterns probed (the socket's own table)",
            values.get("cross_user_topic_patterns", 0),
            "every one",
            "a pattern none of whose topics naming the owner's resources the owner can join",
        ),
        (
            "Cross-user leaks",
            n("cross_user_leaks"),
            "0",
            "a 2xx on the owner's resource; the owner's email, values, release message, token "
            "name, checksum, network or app name in an answer (an error may repeat what was "
            "asked); a listing naming them; a join of their topic; their event on ours",
        ),
        (
            "Secret-exposure checks",
            n("secret_exposure_checks"),
            at_least("secret_exposure_checks"),
            f"{fewer('secret_exposure_checks')}; a secret in an output at any verbosity, the "
            "platform's log or database, the shell history, or another process's arguments "
            "(stdin, argument and KEY=VALUE forms)",
        ),
        (
            "Token-storage checks",
            n("token_storage_checks"),
            at_least("token_storage_checks"),
            fewer("token_storage_checks"),
        ),
        (
            "Log lines followed",
            n("lines_followed"),
            at_least("lines_followed"),
            fewer("lines_followed"),
        ),
        (
            "Log lines lost",
            n("lines_lost"),
            "0",
            "a line the app wrote (its own counter, per run) not shown by `rig logs -f`, "
            "a run it saw begin not shown from its first line, or a seq skipped",
        ),
        (
            "Log lines doubled",
            n("lines_doubled"),
            "0",
            "a line or seq shown twice",
        ),
    ]
    tests = figures.get("tests", {})
    lines = [
        "# Reliability and security: the figures",
        "",
        "Generated by `scripts/reliability-report` (add `--load` for the load test) from the",
        "suite in `tests/reliability`. Do not edit by hand. How the tests themselves are held",
        "to account (mutation testing, CI's reruns and skips): [the proofs](#the-proofs).",
        "",
        f"Last run: {figures['generated_at']}; tests passed {tests.get('passed', 0)}, "
        f"failed {tests.get('failed', 0)}, skipped {tests.get('skipped', 0)}.",
        "",
        "| figure | value | must be | fails when |",
        "|---|---:|---|---|",
        *(f"| {label} | {value} | {must} | {fails} |" for label, value, must, fails in rows),
        "",
        "## Load",
        "",
    ]
    load = values.get("load")
    if load:
        lines += [
            f"Last load run: {figures.get('load_generated_at')}: {load['clients']} clients "
            f"creating, listing and deleting and {load['followers']} `rig logs -f` followers "
            f"for {load['seconds']:.0f} s.",
            "",
            "| figure | value | must be | fails when |",
            "|---|---:|---|---|",
            f"| Requests | {load['requests']} | — | — (a measure of the load) |",
            f"| Errors | {load['errors']} | 0 | a request answered with an error, or a "
            "follower not ending with 130 or with a traceback |",
            f"| Log lines followed | {load['lines_followed']} | — | — |",
            f"| Lost / doubled | {load['lines_lost']} / {load['lines_doubled']} | 0 / 0 | "
            "as for the follow above, over every follower |",
            f"| Platform RSS before / peak (MiB) | {load['rss_baseline_mib']} / "
            f"{load['rss_peak_mib']} | peak - before < 150 | the platform growing by "
            "150 MiB or more |",
        ]
    else:
        lines.append("Not run yet: `scripts/reliability-report --load`.")
    lines += [
        "",
        "## Faults, one by one",
        "",
        "Where rig ran: *process in a terminal* (its own process on a pseudo-terminal; Ctrl+C",
        "is the terminal's ^C to its foreground process group), *process* (its own process,",
        "on pipes), *in-process* (rig's `main()` in the test's process), *platform only* (the",
        "fault is the platform's, met over HTTP). Survived: every behaviour listed held.",
        "",
        "| fault | where | injected | survived | behaviours asserted |",
        "|---|---|---:|---:|---|",
    ]
    faults: dict[str, dict[str, Any]] = values.get("faults", {})
    lines += [
        f"| {kind} | {f['where']} | {f['injected']} | {f['survived']} | {', '.join(f['checks'])} |"
        for kind, f in sorted(faults.items())
    ]
    mutation: dict[str, dict[str, Any]] = values.get("mutation", {})
    lines += [
        "",
        "## Mutation testing",
        "",
        "`scripts/mutation-report [TARGET ...]` (mutmut): each module mutated, its fast tests run",
        "against every mutant. Score: mutants killed (a test failed, or timed out) of all made.",
        "Each survivor is killed by a test or explained under [the proofs](#the-proofs).",
        "",
    ]
    if mutation:
        lines += [
            "| target | module | tests | claim | mutants | killed | survived | no test | score |",
            "|---|---|---|---|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {name} | `{m['module']}` | {', '.join(f'`{t}`' for t in m['tests'])} | "
            f"{m['claim']} | {m['mutants']} | {m['killed']} | {m['survived']} | "
            f"{m['no_tests']} | {m['score']} % |"
            for name, m in sorted(mutation.items())
        ]
    else:
        lines.append("Not run yet.")
    lines += isolation.section(values.get("isolation"))
    proofs = Path(__file__).with_name("proofs.md")  # written by hand: how the tests are held
    if proofs.exists():
        lines += ["", proofs.read_text().rstrip()]
    return "\n".join(lines) + "\n"


def failures(figures: dict[str, Any]) -> list[str]:
    counts = figures["counts"]
    wrong = [f"{name} = {counts[name]}" for name in MUST_BE_ZERO if counts.get(name)]
    wrong += [
        f"{name} = {counts.get(name, 0)}, fewer than its minimum {minimum} ({why})"
        for name, (minimum, why) in MINIMUMS.items()
        if counts.get(name, 0) < minimum
    ]
    if counts.get("faults_survived", 0) != counts.get("faults_injected", 0):
        wrong.append("some injected faults were not survived")
    load = figures["values"].get("load") or {}
    if load.get("errors") or load.get("lines_lost") or load.get("lines_doubled"):
        wrong.append(f"load run: {load}")
    return wrong


def main(argv: list[str]) -> int:
    if argv == ["--render"]:  # the last run's figures again, e.g. after proofs.md changed
        REPORT_FILE.write_text(render(json.loads(FIGURES_FILE.read_text())))
        return 0
    load = "--load" in argv
    extra = [a for a in argv if a != "--load"]
    code, new = run_suite(load, extra)
    if not new:
        print("reliability-report: the suite recorded no figures", file=sys.stderr)
        return code or 1
    figures = merge(new, load)
    isolation_code, figures["values"]["isolation"] = isolation.run()
    FIGURES_FILE.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    REPORT_FILE.write_text(render(figures))
    wrong = failures(figures)
    for problem in wrong:
        print(f"reliability-report: {problem}", file=sys.stderr)
    print(f"reliability-report: wrote {REPORT_FILE.relative_to(ROOT)}")
    return code or isolation_code or (1 if wrong else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
