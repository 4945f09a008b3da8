"""The isolation section of docs/reliability.md: runs tests/isolation and tabulates each attack
from each of bob's processes, with the sandbox off and on, as the tests observed it.

Called by tests/reliability/report.py (``scripts/reliability-report``), or alone with
``python -m tests.isolation.report [pytest args]``; kept here, apart from
the reliability figures, so that the two change independently.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ATTACK_ID = re.compile(r"test_attack\[(?P<mode>\w+)-(?P<attack>[\w-]+)-(?P<context>\w+)\]")
OTHER_ID = re.compile(r"(?P<test>test_\w+)\[(?P<mode>\w+)\]")
SHOWN = {
    ("none", "passed"): "works",
    ("sandbox", "passed"): "refused",
    ("sandbox", "xfailed"): "**not refused** (xfail)",
}


def run(extra: list[str] | None = None) -> tuple[int, dict[str, Any]]:
    """Run tests/isolation; (exit code, {"attacks": {attack: {context: {mode: outcome}}},
    "others": {test: {mode: outcome}}})."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "isolation.xml"
        command = [sys.executable, "-m", "pytest", "tests/isolation", "-q"]
        command += ["-p", "no:cacheprovider", f"--junitxml={junit}", *(extra or [])]
        code = subprocess.run(command, cwd=ROOT, check=False).returncode
        outcomes = parse(junit.read_text()) if junit.exists() else {}
    return code, outcomes


def parse(xml: str) -> dict[str, Any]:
    attacks: dict[str, dict[str, dict[str, str]]] = {}
    others: dict[str, dict[str, str]] = {}
    for case in ET.fromstring(xml).iter("testcase"):
        outcome = _outcome(case)
        if found := ATTACK_ID.fullmatch(case.get("name", "")):
            by_context = attacks.setdefault(found["attack"], {})
            by_context.setdefault(found["context"], {})[found["mode"]] = outcome
        elif found := OTHER_ID.fullmatch(case.get("name", "")):
            others.setdefault(found["test"], {})[found["mode"]] = outcome
    return {"attacks": attacks, "others": others}


def _outcome(case: ET.Element) -> str:
    if case.find("failure") is not None or case.find("error") is not None:
        return "failed"
    skipped = case.find("skipped")
    if skipped is not None:
        return "xfailed" if skipped.get("type") == "pytest.xfail" else "skipped"
    return "passed"


def shown(mode: str, outcome: str | None) -> str:
    if outcome is None:
        return "not run"
    return SHOWN.get((mode, outcome), f"**{outcome.upper()}**")


def section(data: dict[str, Any] | None) -> list[str]:
    """The markdown of the isolation section."""
    lines = [
        "",
        "## Isolation: attacks tried and refused",
        "",
        "`tests/isolation` (issue 14): two users, alice and bob, on one real platform. bob's",
        "code (`tests/isolation/tenant/attack.py`) attacks alice and the platform from his",
        "build, his app's process, `rig command` and `rig shell` on a pseudo-terminal. Each",
        "attack runs with `--isolation none` (off: it must **work**, so the attack is real",
        "and its check can fail) and with the sandbox (on: it must be **refused**). The",
        "verdict compares what bob got with the host's truth (the digest of the real file,",
        "alice's planted secret, the file he wrote on disk). What each attack is:",
        "[docs/security.md](security.md#attacks-tried-and-refused). The other tests: the",
        "route takeover (off, bob's kill and bind work and the router still keeps alice's",
        "visitors from him; on, both are refused), exhaustion (off also `--limits off`), and",
        "the platform run by a user who is not root (on, it says what it could not isolate",
        "and a tenant still cannot read the platform's key of the same host uid; off, it can).",
        "",
    ]
    if not data or not data.get("attacks"):
        return [*lines, "Not run yet."]
    attacks: dict[str, dict[str, dict[str, str]]] = data["attacks"]
    contexts = sorted({c for by_context in attacks.values() for c in by_context})
    header = " | ".join(f"{c}: off | {c}: on" for c in contexts)
    lines += [f"| attack | {header} |", "|---|" + "---|---|" * len(contexts)]
    for attack, by_context in sorted(attacks.items()):
        cells = [
            f"{shown('none', by_context.get(c, {}).get('none'))} | "
            f"{shown('sandbox', by_context.get(c, {}).get('sandbox'))}"
            for c in contexts
        ]
        lines.append(f"| {attack} | {' | '.join(cells)} |")
    others: dict[str, dict[str, str]] = data.get("others", {})
    if others:
        lines += ["", "| other test | off | on |", "|---|---|---|"]
        lines += [
            f"| {test} | {modes.get('none', 'not run')} | {modes.get('sandbox', 'not run')} |"
            for test, modes in sorted(others.items())
        ]
    return lines


def main(argv: list[str]) -> int:
    """Only the isolation section again: run tests/isolation (``argv``: more pytest args),
    keep the other figures of the last reliability run, rewrite docs/reliability.md."""
    import json

    from tests.reliability import report as reliability

    code, outcomes = run(argv)
    figures = json.loads(reliability.FIGURES_FILE.read_text())
    figures["values"]["isolation"] = outcomes
    reliability.FIGURES_FILE.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    reliability.REPORT_FILE.write_text(reliability.render(figures))
    print(f"isolation report: wrote {reliability.REPORT_FILE.relative_to(ROOT)}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
