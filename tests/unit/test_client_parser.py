"""The one-shot parser builds only the command it is given, and parses it as the full tree does."""

from __future__ import annotations

import argparse

import pytest

from rig.cli import build_parser, command_path, command_word
from rig.errors import UsageError


@pytest.mark.parametrize(
    ("argv", "word"),
    [
        (["list", "apps"], "list"),
        (["-o", "json", "list", "apps"], "list"),
        (["--context", "list", "create", "app"], "create"),
        (["--api=http://x", "-v", "--no-color", "status"], "status"),
        (["--output", "json", "--", "logs", "app"], "logs"),
        (["-ojson", "whoami"], "whoami"),
        (["--help"], None),
        (["-o", "json"], None),
        ([], None),
    ],
)
def test_command_word(argv: list[str], word: str | None) -> None:
    assert command_word(build_parser([]), argv) == word


def namespace(parsed: argparse.Namespace) -> dict[str, object]:
    return {k: v for k, v in vars(parsed).items() if k != "handler"}


@pytest.mark.parametrize(
    "argv",
    [
        ["list", "apps", "-o", "json"],
        ["-o", "json", "list", "apps", "--network", "n"],
        ["create", "var", "A=1", "B=2", "--app", "web"],
        ["delete", "app", "web", "--yes", "--context", "c"],
        ["--api", "http://127.0.0.1:1", "whoami"],
        ["login", "--api", "http://127.0.0.1:1", "--token", "t"],
    ],
)
def test_lean_parser_parses_like_the_full_one(argv: list[str]) -> None:
    lean, full = build_parser(argv).parse_args(argv), build_parser().parse_args(argv)
    assert namespace(lean) == namespace(full)


def test_lean_parser_lists_every_command_in_help() -> None:
    assert build_parser(["--help"]).format_help() == build_parser().format_help()


def test_lean_parser_rejects_an_unknown_word_naming_them_all() -> None:
    with pytest.raises(UsageError) as full:
        build_parser().parse_args(["lst", "apps"])
    with pytest.raises(UsageError) as lean:
        build_parser(["lst", "apps"]).parse_args(["lst", "apps"])
    assert lean.value.message == full.value.message
    assert "'list'" in full.value.message and "__complete" not in full.value.message
    assert full.value.hint.startswith("did you mean `list`?")


@pytest.mark.parametrize(
    ("argv", "path"),
    [
        (["-o", "json", "list", "apps"], "list apps"),
        (["list"], "list"),
        (["list", "bogus"], "list"),
        (["logs", "app", "web", "-f"], "logs app"),
        (["deploy", "list"], "deploy"),
        (["lst", "apps"], None),
        (["--help"], None),
    ],
)
def test_command_path(argv: list[str], path: str | None) -> None:
    assert command_path(build_parser([]), argv) == path


def test_a_command_builds_alone_and_its_group_in_full() -> None:
    assert build_parser(["list", "apps"]).parse_args(["list", "apps"]).command == "list apps"
    with pytest.raises(UsageError) as full:
        build_parser().parse_args(["list", "bogus"])
    with pytest.raises(UsageError) as lean:
        build_parser(["list", "bogus"]).parse_args(["list", "bogus"])
    assert lean.value.message == full.value.message
