"""The shell's pure parts: masking, transcripts, the selection store, jobs, the name cache."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from rig.errors import UnreachableError
from rig.repl import status
from rig.repl.completion import (
    NameCache,
    Names,
    app_choices,
    qualified_app_choices,
    release_choices,
)
from rig.repl.history import MASK, mask_line
from rig.repl.jobs import DONE, FAILED, KILLED, Batcher, JobManager
from rig.repl.selection import Selection, SelectionStore
from rig.repl.shell import background_line
from rig.repl.state import state_dir
from rig.repl.transcript import escape, matches, parse


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("create secret DB hunter2", f"create secret DB {MASK}"),
        ("create secret DB hunter2 --app api", f"create secret DB {MASK} --app api"),
        ("create secret --app api DB 'two words'", f"create secret --app api DB {MASK}"),
        ("create secret A=1 B=2", f"create secret A={MASK} B={MASK}"),
        ("create secret DB -", "create secret DB -"),
        ("create secret DB", "create secret DB"),
        ("login --token mxt_abc --api http://x", f"login --token {MASK} --api http://x"),
        ("login --token=mxt_abc", f"login --token={MASK}"),
        ("create var LOG=debug", "create var LOG=debug"),
        ("list apps", "list apps"),
        ("create secret DB 'unclosed", f"create secret {MASK}"),
    ],
)
def test_secret_values_are_masked(line: str, masked: str) -> None:
    assert mask_line(line) == masked


def test_transcript_parse_and_match() -> None:
    transcript = parse(
        "comment\nsetup: none\nrig> list apps\nNAME  /\\d+/\nrig local:n/a> use none\nok\n"
    )
    assert transcript.setup == "none"
    assert [(s.prompt, s.line) for s in transcript.steps] == [
        ("rig> ", "list apps"),
        ("rig local:n/a> ", "use none"),
    ]
    assert matches(transcript.steps[0].expected, "\x1b[1mNAME\x1b[0m  42   \n")
    assert not matches(transcript.steps[0].expected, "NAME  x")
    assert matches(escape("a/b http://x/"), "a/b http://x/")
    assert parse("no prompts at all").setup == "local"


def test_selection_is_kept_per_login_context(tmp_path: Path) -> None:
    store = SelectionStore(tmp_path / "selection.json")
    store.save("local", Selection("shop", "api"))
    store.save("prod", Selection("web"))
    assert (store.load("local").network, store.load("local").app) == ("shop", "api")
    assert store.load("prod").app is None
    assert store.load("other").network is None
    assert "restored" in store.load("local").source
    store.save("local", Selection())
    assert store.load("local").network is None
    assert (tmp_path / "selection.json").stat().st_mode & 0o777 == 0o600


def test_state_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RIG_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert state_dir() == tmp_path / "rig"
    monkeypatch.setenv("RIG_STATE_DIR", str(tmp_path / "s"))
    assert state_dir() == tmp_path / "s"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("list apps &", "list apps"),
        ("list apps&", "list apps"),
        ("list apps", None),
        ("create var X='a &", None),
        ("&", None),
    ],
)
def test_background_line(line: str, expected: str | None) -> None:
    assert background_line(line) == expected


def test_jobs_run_report_and_can_be_killed() -> None:
    notes: list[str] = []
    manager = JobManager(notes.append)
    job = manager.start("say hi", lambda j: j.stdout.write("hi\nthere") and 0)
    assert job.wait(15)
    release = threading.Event()

    def slow(j):  # type: ignore[no-untyped-def]
        j.on_cancel(release.set)
        release.wait(5)
        j.stdout.write("never shown\n")
        return 0

    slow_job = manager.start("slow", slow)
    failing = manager.start("fail", lambda j: 4)
    assert failing.wait(15) and failing.state == FAILED
    assert [j.id for j in manager.running()] == [slow_job.id]
    manager.kill(slow_job)
    manager.flush()
    lines = "\n".join(notes).splitlines()
    assert job.state == DONE and slow_job.state == KILLED
    assert "[1] hi" in lines and "[1] there" in lines
    assert not any("never shown" in line for line in lines)
    assert not any(line.startswith("[2]") for line in lines)


def test_fg_prints_the_lines_not_shown_yet_first_and_nothing_goes_above_the_prompt_after() -> None:
    notes: list[str] = []
    handed_on = ["[1] handed on as the prompt went away"]  # still in cmd2's queue
    manager = JobManager(notes.append, lambda: [handed_on.pop()] if handed_on else [])
    manager.hold()  # a command runs: nothing goes above the prompt
    wrote, go = threading.Event(), threading.Event()

    def talk(j):  # type: ignore[no-untyped-def]
        j.stdout.write("before fg\n")
        wrote.set()
        go.wait(5)
        j.stdout.write("in fg\n")
        return 0

    job = manager.start("talk", talk)
    assert wrote.wait(15)
    printed: list[str] = []

    def write(line: str) -> None:
        printed.append(line)
        go.set()  # the job's next line races the hand-over to the terminal

    manager.foreground(job, write)
    manager.flush()
    assert printed == ["[1] handed on as the prompt went away", "[1] before fg", "talk", "in fg"]
    assert notes == [] and job.state == DONE

    wrote.clear()

    def last_words(j):  # type: ignore[no-untyped-def]
        killed = threading.Event()
        j.on_cancel(killed.set)
        j.stdout.write("last words\n")
        wrote.set()
        killed.wait(5)  # its next write raises
        j.stdout.write("never shown\n")
        return 0

    chatty = manager.start("chatty", last_words)
    assert wrote.wait(15)
    killed: list[str] = []
    manager.kill(chatty, killed.append)  # its lines first, then the shell reports the kill
    manager.flush()
    assert killed == ["[2] last words"] and notes == []


def test_job_lines_are_printed_in_batches_and_a_flood_is_counted() -> None:
    printed: list[str] = []
    batcher = Batcher(printed.append, interval=0.2, limit=3)
    for number in range(5):
        batcher.add(f"line {number}")
    batcher.flush()
    assert printed == [
        "-- 2 lines not shown: too many to print above the prompt --\nline 2\nline 3\nline 4"
    ]
    batcher.add("late")
    deadline = time.monotonic() + 15
    while len(printed) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert printed[1] == "late"


def test_name_cache_swaps_names_and_reports_failures() -> None:
    calls: list[frozenset[tuple[str, str | None]]] = []
    fail = False

    def fetch(scopes: frozenset[tuple[str, str | None]]) -> Names:
        calls.append(scopes)
        if fail:
            raise UnreachableError("cannot reach the platform")
        return Names(("shop", "blog"), (("shop", "api"), ("blog", "web"), ("blog", "api")))

    cache = NameCache(fetch, interval=0.05)
    cache.start()
    deadline = time.monotonic() + 15
    while not cache.names.networks and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.names.networks == ("shop", "blog")
    assert cache.connection.state == status.CONNECTED
    fail = True
    cache.invalidate()
    while cache.connection.state == status.CONNECTED and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.connection.state == status.UNREACHABLE
    assert cache.names.networks == ("shop", "blog")  # the last good names stay
    cache.stop()

    class Host:
        selection = Selection("blog")

    Host.cache = cache  # type: ignore[attr-defined]
    assert [c.text for c in app_choices(Host(), {})] == ["web", "api"]
    assert [c.text for c in app_choices(Host(), {"network": ["shop"]})] == ["api"]
    texts = [c.text for c in qualified_app_choices(Host())]
    assert texts[:2] == ["web", "api"] and "shop/api" in texts


def test_release_numbers_complete_from_the_cache_newest_first() -> None:
    from cmd2 import CompletionError

    def fetch(scopes: frozenset[tuple[str, str | None]]) -> Names:
        releases = {scope: (3, 2, 1) for scope in scopes if scope == ("shop", "api")}
        return Names(("shop",), (("shop", "api"),), releases=releases)  # type: ignore[arg-type]

    cache = NameCache(fetch)

    class Host:
        selection = Selection("shop", "api")

    Host.cache = cache  # type: ignore[attr-defined]
    with pytest.raises(CompletionError, match="press Tab again"):
        release_choices(Host(), {})
    cache.refresh()
    assert [c.text for c in release_choices(Host(), {})] == ["3", "2", "1"]
    assert [c.text for c in release_choices(Host(), {"app": ["api"], "network": ["shop"]})] == [
        "3",
        "2",
        "1",
    ]
    Host.selection = Selection("shop")
    with pytest.raises(CompletionError, match="--app"):
        release_choices(Host(), {})


def test_while_the_socket_is_down_polls_do_not_claim_it_is_connected() -> None:
    cache = NameCache(lambda scopes: Names(("shop",)))
    cache.refresh()
    assert cache.connection.state == status.CONNECTED
    cache.follow_socket(False)
    cache.connection.set(status.RECONNECTING, "connection refused")
    cache.refresh()
    assert cache.connection.state == status.RECONNECTING
    cache.follow_socket(True)
    cache.connection.set(status.CONNECTED)
    cache.refresh()
    assert cache.connection.state == status.CONNECTED


def test_a_job_is_announced_before_it_writes_anything() -> None:
    shown: list[str] = []
    manager = JobManager(shown.append)
    job = manager.start("talk", lambda j: j.stdout.write("first words\n") and 0, shown.append)
    assert job.wait(15)
    deadline = time.monotonic() + 15  # the end is reported just after the job is over
    while "done" not in "".join(shown) and time.monotonic() < deadline:
        manager.flush()
        time.sleep(0.01)
    lines = "\n".join(shown).splitlines()
    assert lines == ["[1] talk", "[1] first words", "[1] done     talk"], lines


@pytest.mark.parametrize(
    ("argv", "app_selected", "network_selected", "resource"),
    [
        (["status"], "app", "network", "app"),
        (["logs", "-f", "--tail", "3"], "app", "network", "app"),
        (["details", "-o", "json"], None, "network", "network"),
        (["status"], None, None, None),  # nothing selected: argparse asks which
        (["status", "dashboard"], "app", "network", None),  # a resource word is given
        (["logs", "build"], "app", "network", None),
        (["list"], "app", "network", None),  # not a command about one resource
        ([], "app", "network", None),
    ],
)
def test_the_resource_a_bare_command_means(
    argv: list[str], app_selected: str | None, network_selected: str | None, resource: str | None
) -> None:
    selection = Selection(network_selected and "shop", app_selected and "api")
    assert selection.resource_for(argv) == resource


def test_help_names_a_heading_for_every_command() -> None:
    """A command added later is listed under "Other commands" until it gets a heading:
    today there is none there, and the internal ``__complete`` is never listed."""
    from rig.repl import help
    from rig.repl.parsers import build_command_parsers

    _, helps = build_command_parsers()
    listing = help.listing(helps, {"use": "select"})
    assert help.OTHER not in listing and "__complete" not in listing
    assert all(f"  {word} " in listing for word, text in helps.items() if text)
