"""Property tests: rig and the platform agree on every name and key, and no argv makes rig
print a traceback; every refusal is one line with its documented exit code."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maxlocal import names as platform_names
from rig import targets as client_names
from rig.errors import UsageError
from tests.reliability.figures import FIGURES, Figures
from tests.support.rig_main import run_main

# Commands that only talk to the platform (others start servers, write files or run programs).
COMMANDS = [
    "login", "logout", "whoami", "context list", "context use", "context delete", "context show",
    "list contexts", "list networks", "list apps", "list vars", "list secrets", "list releases",
    "list sessions", "create network", "create app", "create var", "create secret",
    "delete network", "delete app", "delete var", "delete secret", "details app",
    "details network", "diff", "rollback", "restart app", "stop app", "start app", "status app",
    "status network", "status dashboard", "logs app", "logs build", "logs network", "audit",
]  # fmt: skip
FLAGS = [
    "--output", "-o", "json", "table", "yaml", "--context", "--api", "--no-color", "--plain",
    "-v", "-vv", "--token", "--email", "--all", "--app", "--network", "--from-file", "-",
    "--no-restart", "--force", "--yes", "-y", "--export", "--to", "--tail", "--since", "--grep",
    "--release", "--dry-run", "--message", "--create", "--detach", "--prune", "--file", "--",
    "-x", "--unknown", "shop", "api", "KEY=value", "KEY", "3", "-1", "10m", "[", "Shop",
]  # fmt: skip
ALLOWED_EXITS = {0, 1, 2, 3, 4, 5, 6}
UNREACHABLE_API = "http://127.0.0.1:9"
VERBOSE_LOG = re.compile(r"rig: (GET|POST|PATCH|PUT|DELETE) ")
ARGV_EXAMPLES = 800

junk = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
word = st.one_of(st.sampled_from(FLAGS), junk)
command = st.one_of(
    st.sampled_from(COMMANDS).map(str.split), st.lists(junk, min_size=1, max_size=2)
)
argv = st.tuples(command, st.lists(word, max_size=8)).map(lambda parts: parts[0] + parts[1])
names = st.one_of(
    st.from_regex(platform_names.NAME_PATTERN, fullmatch=True),
    st.text(st.sampled_from("abcxyz019-_.AZ é"), max_size=70),
    st.text(max_size=80),
)
keys = st.one_of(
    st.from_regex(platform_names.KEY_PATTERN, fullmatch=True),
    st.text(st.sampled_from("aZ_09-. é"), max_size=260),
    st.sampled_from(["PORT", "port", "_", "9A", "A" * 255, "A" * 256]),
    st.text(max_size=40),
)


@settings(max_examples=2000, deadline=None)
@given(names)
def test_rig_and_the_platform_agree_on_names(name: str) -> None:
    FIGURES.add("inputs_tried")
    assert (client_names.name_problem(name) is None) == platform_names.is_valid_name(name), name


@settings(max_examples=2000, deadline=None)
@given(keys)
def test_rig_and_the_platform_agree_on_keys(key: str) -> None:
    FIGURES.add("inputs_tried")
    client_ok = client_names.key_problem(key) is None
    assert client_ok == (platform_names.key_problem(key) is None), key
    if not client_ok:
        with pytest.raises(UsageError) as refused:
            client_names.check_key(key)
        assert refused.value.exit_code == 2 and "\n" not in refused.value.message


@settings(max_examples=500, deadline=None)
@given(names)
def test_a_refused_name_is_one_line(name: str) -> None:
    if client_names.name_problem(name) is not None:
        with pytest.raises(UsageError) as refused:
            client_names.check_name("app", name)
        assert "\n" not in refused.value.message and len(refused.value.message) < 200


@settings(
    max_examples=ARGV_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(argv)
def test_no_argv_makes_a_traceback(tmp_path: Path, figures: Figures, args: list[str]) -> None:
    if any(a in ("--follow", "-f") for a in args):
        return
    env = {"RIG_API": UNREACHABLE_API, "RIG_TOKEN": "mxt_fuzz", "RIG_TIMEOUT": "1"}
    run = run_main(args, tmp_path / "config", env)
    figures.add("inputs_tried")
    shown = f"rig {shlex.join(args)} -> {run.code}\n{run.err}"
    if "Traceback" in run.out + run.err or "internal error" in run.err:
        figures.add("tracebacks")
        pytest.fail(shown)
    assert run.code in ALLOWED_EXITS, shown
    if run.code != 0:
        errors = [line for line in run.err.splitlines() if not VERBOSE_LOG.match(line)]
        assert len(errors) == 1, shown
    if run.code == 2:
        assert run.err.startswith(("rig: ", '{"error"')), shown
