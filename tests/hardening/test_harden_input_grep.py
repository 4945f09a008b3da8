"""Issue 15, finding 2: a log grep froze the whole platform. ``GET .../logs?grep=^(a+)+$`` on a
line of 27 ``a`` and a ``!`` backtracked for seconds in Python's ``re``, holding the GIL, and
every other request waited. Now ``grep`` is a substring by default, and a regular expression
(``regex=true``) runs on RE2, which takes linear time whatever the pattern."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.deploy.conftest import Api, archive, new_api, wait_for
from tests.hardening.harden_input_helpers import own_platform
from tests.support.platform import Platform

LINE = "a" * 27 + "!"
CATASTROPHIC = "^(a+)+$"
PROMPT_S = 3.0  # the backtracking took 11 s on an idle machine; RE2 and `in` take microseconds
APP_PY = f"""\
import http.server, os
print({LINE!r}, flush=True)
print("error: disk full", flush=True)
http.server.ThreadingHTTPServer(
    ("127.0.0.1", int(os.environ["PORT"])), http.server.SimpleHTTPRequestHandler
).serve_forever()
"""


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, Api, str]]:
    """A platform whose app has logged the line the pattern backtracks on."""
    with own_platform(tmp_path_factory, "grep", health_timeout=150) as platform:
        api = new_api(platform)
        network, app = api.new_app()
        files: dict[str, str | bytes] = {"app.py": APP_PY, "Procfile": "web: python3 app.py\n"}
        assert api.deploy(network, app, archive(files))["status"] == "active"
        path = f"/networks/{network}/apps/{app}/logs"
        wait_for(lambda: any(r["line"] == LINE for r in api.http.get(path).json()), 30)
        yield platform, api, path
        api.http.close()


def timed_in_parallel(
    api: Api, path: str, params: dict[str, str]
) -> tuple[httpx.Response, float, float]:
    """The grep request, and while it runs another request of the platform (its health): the
    grep's answer, how long it took, and how long the other one took."""
    answer: dict[str, Any] = {}

    def grep() -> None:
        started = time.monotonic()
        answer["response"] = api.http.get(path, params=params, timeout=120)
        answer["took"] = time.monotonic() - started

    worker = threading.Thread(target=grep)
    worker.start()
    time.sleep(0.2)
    started = time.monotonic()
    health = api.http.get("/health", timeout=120)
    other = time.monotonic() - started
    worker.join()
    assert health.status_code == 200
    return answer["response"], answer["took"], other


@pytest.mark.parametrize("regex", [False, True], ids=["substring", "regex"])
def test_a_catastrophic_pattern_answers_promptly_and_blocks_nothing(
    logged: tuple[Platform, Api, str], regex: bool
) -> None:
    _, api, path = logged
    params = {"grep": CATASTROPHIC, **({"regex": "true"} if regex else {})}
    response, took, other = timed_in_parallel(api, path, params)
    assert took < PROMPT_S and other < PROMPT_S, (
        f"the grep took {took:.1f} s and a health request meanwhile {other:.1f} s"
    )
    assert response.status_code == 200, response.text
    assert response.json() == []  # no line contains it, nor matches it


def test_grep_is_a_substring_and_regex_true_a_regular_expression(
    logged: tuple[Platform, Api, str],
) -> None:
    _, api, path = logged
    lines = [r["line"] for r in api.http.get(path, params={"grep": "a!"}).json()]
    assert lines == [LINE]
    assert api.http.get(path, params={"grep": "error|warn"}).json() == []  # literal text
    found = api.http.get(path, params={"grep": "error|warn", "regex": "true"}).json()
    assert [r["line"] for r in found] == ["error: disk full"]
    found = api.http.get(path, params={"grep": "^a{27}!$", "regex": "true"}).json()
    assert [r["line"] for r in found] == [LINE]


@pytest.mark.parametrize(
    "pattern", [r"(a)\1", "(?=a)", "a{1001}", "("], ids=["backref", "lookahead", "huge", "bad"]
)
def test_a_regex_re2_cannot_run_is_refused_with_a_clear_answer(
    logged: tuple[Platform, Api, str], pattern: str
) -> None:
    _, api, path = logged
    response = api.http.get(path, params={"grep": pattern, "regex": "true"})
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert message.startswith("grep: not a regular expression RE2 accepts"), message
    assert "\n" not in message
