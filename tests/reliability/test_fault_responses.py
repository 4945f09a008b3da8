"""The platform answering badly: errors, bodies that are not what the API promises, silence.

rig must print one line (``rig: ... (hint: ...)``), exit with the documented code, and
give up on a silent platform after RIG_TIMEOUT seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.reliability.faulty import Behaviour, FaultyServer, answer, hang_up, silent, stalled_body
from tests.reliability.figures import IN_PROCESS, PROCESS, Fault, Figures
from tests.support.cli import Rig, Run, single_error_line
from tests.support.rig_main import run_main

COMMANDS = [
    ("list", "networks"),
    ("whoami",),
    ("create", "network", "shop"),
    ("details", "app", "api", "--network", "shop"),
    ("delete", "app", "api", "--network", "shop", "--yes"),
]
HTML = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
ERROR = b'{"error": {"code": "internal", "message": "internal error in the platform", "hint": ""}}'
BAD_ANSWERS: dict[str, Behaviour] = {
    "500 with the API's error": answer(500, ERROR),
    "500 with no body": answer(500, b""),
    "502 HTML page from a proxy": answer(502, HTML, "text/html"),
    "503 plain text": answer(503, b"upstream connect error\nor disconnect", "text/plain"),
    "200 with malformed JSON": answer(200, b'{"name": "shop", '),
    "200 with an HTML page": answer(200, HTML, "text/html"),
    "200 with JSON of the wrong shape": answer(200, b'"surprise"'),
    "200 with an object where a list is due": answer(200, b'{"unexpected": [1, 2]}'),
    "200 with a list of the wrong shape": answer(200, b'[1, "two", null]'),
    "201 with no body": answer(201, b""),
    "500 with terminal escapes and newlines": answer(
        500, b'{"error": {"message": "bad\\u001b[2J\\nline two", "hint": "\\u001b]0;x\\u0007"}}'
    ),
    "500 with a huge message": answer(500, b'{"error": {"message": "' + b"x" * 5000 + b'"}}'),
}
STRANGE_OBJECT = answer(200, b'{"unexpected": [1, 2], "name": {"nested": null}}')
SLOW_ANSWERS: dict[str, Behaviour] = {
    "no answer at all": silent(),
    "headers, then the body stalls": stalled_body(),
    "connection closed without an answer": hang_up(),
}
TIMEOUT_S = 1.0


@pytest.fixture
def faulty() -> Iterator[FaultyServer]:
    server = FaultyServer().start()
    yield server
    server.stop()


def fault_env(server: FaultyServer, timeout: object = TIMEOUT_S) -> dict[str, str]:
    return {"RIG_TOKEN": "mxt_not-a-real-token", "RIG_API": server.url, "RIG_TIMEOUT": str(timeout)}


def config_files(rig: Rig) -> dict[str, bytes]:
    """rig's saved state (contexts, credentials): a bad answer must leave it as it was."""
    root = rig.config_dir
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def clear_error(fault: Fault, run: Run) -> str:
    """The one ``rig: ... (hint: ...)`` line on stderr, nothing on stdout."""
    line = fault.one_clear_line(run.err, prefix="rig: ")
    fault.held("a hint", "(hint: " in line and run.out == "", run)
    return line


def run_against(rig: Rig, server: FaultyServer, *args: str) -> Run:
    """In this process, for speed: the subprocess runs are the timeout tests below."""
    return run_main(args, rig.config_dir, fault_env(server))


@pytest.mark.parametrize("fault", list(BAD_ANSWERS))
def test_a_bad_answer_is_one_line_and_exit_1(
    rig: Rig, faulty: FaultyServer, figures: Figures, fault: str
) -> None:
    faulty.behaviour = BAD_ANSWERS[fault]
    commands = COMMANDS if "list" not in fault else COMMANDS[:1]
    for command in commands:
        before = config_files(rig)
        with figures.fault(f"bad answer: {fault}", IN_PROCESS) as injected:
            run = run_against(rig, faulty, *command)
            figures.add("inputs_tried")
            injected.exit_code(run.code, 1, detail=run)
            line = clear_error(injected, run)
            plain = len(line) < 500 and "<html" not in line.lower()
            control = {"\x1b", "\x07"} & set(run.err)
            injected.held("no page, no terminal control", plain and not control, line)
            injected.state_intact(config_files(rig) == before, "rig's saved state changed")


@pytest.mark.parametrize("fault", list(BAD_ANSWERS))
def test_a_bad_answer_under_json_output_is_one_error_document(
    rig: Rig, faulty: FaultyServer, figures: Figures, fault: str
) -> None:
    faulty.behaviour = BAD_ANSWERS[fault]
    before = config_files(rig)
    with figures.fault(f"bad answer, -o json: {fault}", IN_PROCESS) as injected:
        run = run_against(rig, faulty, "list", "apps", "-o", "json")
        injected.exit_code(run.code, 1, detail=run)
        line = injected.one_clear_line(run.err)
        document = json.loads(line)
        keys = {"code", "message", "hint"}
        injected.held("one JSON error", run.out == "" and set(document["error"]) == keys, run)
        injected.state_intact(config_files(rig) == before, "rig's saved state changed")


def test_objects_with_unknown_fields_never_crash_rig(
    rig: Rig, faulty: FaultyServer, figures: Figures
) -> None:
    faulty.behaviour = STRANGE_OBJECT
    for command in COMMANDS:
        with figures.fault("objects with unknown fields", IN_PROCESS) as injected:
            run = run_against(rig, faulty, *command)
            figures.add("inputs_tried")
            injected.held("no traceback", "Traceback" not in run.err + run.out, run)
            injected.exit_code(run.code, 0, 1, detail=run)
            if run.code:
                clear_error(injected, run)


@pytest.mark.parametrize("fault", list(SLOW_ANSWERS))
def test_a_silent_platform_is_given_up_on_after_rig_timeout(
    rig: Rig, faulty: FaultyServer, figures: Figures, fault: str
) -> None:
    faulty.behaviour = SLOW_ANSWERS[fault]
    for command in COMMANDS[:2]:
        with figures.fault(f"slow platform: {fault}", PROCESS) as injected:
            start = time.monotonic()
            run = rig(*command, env=fault_env(faulty))
            elapsed = time.monotonic() - start
            injected.exit_code(run.code, 6, detail=run)
            line = clear_error(injected, run)
            injected.held("says the platform", "platform" in line, line)
            injected.held("gives up after RIG_TIMEOUT", elapsed < TIMEOUT_S + 5, f"{elapsed:.1f} s")


def test_rig_timeout_must_be_a_positive_number(rig: Rig, faulty: FaultyServer) -> None:
    for bad in ("abc", "0", "-3", "inf", "nan"):
        run = run_main(["list", "networks"], rig.config_dir, fault_env(faulty, bad))
        assert run.code == 2, str(run)
        assert "RIG_TIMEOUT" in single_error_line(run)
    assert faulty.requests == 0
