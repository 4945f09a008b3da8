"""Name and key validation, and scope resolution helpers, without a platform."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rig import targets as args
from rig.api.client import Api
from rig.context import Context
from rig.errors import NotFoundError, UsageError


@pytest.mark.parametrize("name", ["a", "shop", "my-project", "a1", "x" * 63, "a-b-c-9"])
def test_valid_names(name: str) -> None:
    assert args.name_problem(name) is None
    assert args.check_name("network", name) == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "empty"),
        ("x" * 64, "at most 63"),
        ("Shop", "lower case"),
        ("9lives", "start with a letter"),
        ("-a", "start with a letter"),
        ("ends-", "end with a letter or digit"),
        ("a_b", "only the letters"),
        ("a.b", "only the letters"),
        ("café", "only the letters"),
    ],
)
def test_invalid_names(name: str, problem: str) -> None:
    assert problem in (args.name_problem(name) or "")
    with pytest.raises(UsageError) as info:
        args.check_name("app", name)
    assert "invalid app name" in info.value.message and info.value.hint


@given(st.from_regex(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True))
def test_every_rfc1035_label_is_accepted(name: str) -> None:
    assert args.name_problem(name) is None


@pytest.mark.parametrize("key", ["A", "_x", "DATABASE_URL", "lower_ok", "K" * 255])
def test_valid_keys(key: str) -> None:
    assert args.key_problem(key) is None


@pytest.mark.parametrize("key", ["", "9A", "A-B", "A B", "PORT", "K" * 256, "É"])
def test_invalid_keys(key: str) -> None:
    with pytest.raises(UsageError):
        args.check_key(key, "secret")


def test_long_bad_names_are_shortened_in_messages() -> None:
    with pytest.raises(UsageError) as info:
        args.check_name("network", "Z" * 500)
    assert len(info.value.message) < 150


def test_names_of_escaped_characters_are_shortened_by_their_escaped_length() -> None:
    # found by test_a_refused_name_is_one_line: 36 characters, each control or astral one
    # shown as up to ten, made a 200-character message when the cut came before the escaping
    name = "0" * 17 + "\x1f" * 6 + "\x08" * 2 + "\ud7fc" + "\U0001195a" * 10
    with pytest.raises(UsageError) as info:
        args.check_name("app", name)
    message = info.value.message
    assert len(message) < 150 and message.startswith("invalid app name '00000000000000000\\x1f")
    assert "...:" in message


class FakeClient:
    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, Any]] = []

    def get(self, path: str, *, params: dict[str, Any] | None = None) -> Any:
        self.calls.append((path, params))
        return self.answers[path]


def context_with(client: FakeClient, **selection: str) -> Context:
    return Context(**selection, api_factory=lambda _: Api(client))  # type: ignore[arg-type]


def ns(**values: Any) -> argparse.Namespace:
    return argparse.Namespace(**values)


def test_scope_from_flags_and_selection() -> None:
    client = FakeClient({"/apps": [{"name": "api", "network": "shop"}]})
    ctx = context_with(client)
    assert args.resolve_scope(ctx, ns(app=None, network="shop")) == args.Scope("shop")
    scope = args.resolve_scope(ctx, ns(app="api", network=None))
    assert scope == args.Scope("shop", "api") and scope.kind == "app"
    assert client.calls == [("/apps", {"name": "api"})]
    # With both flags no lookup is needed.
    client.calls.clear()
    assert args.resolve_scope(ctx, ns(app="api", network="blog")).network == "blog"
    assert client.calls == []
    # The shell's selection fills in for missing flags.
    selected = context_with(client, network="blog", app="web")
    assert args.resolve_scope(selected, ns(app=None, network=None)) == args.Scope("blog", "web")
    assert args.resolve_scope(context_with(client, network="blog"), ns(app=None, network=None)) == (
        args.Scope("blog")
    )
    with pytest.raises(UsageError) as info:
        args.resolve_scope(ctx, ns(app=None, network=None))
    assert "--app" in info.value.hint


def test_find_app_unknown_and_ambiguous() -> None:
    ctx = context_with(FakeClient({"/apps": []}))
    with pytest.raises(NotFoundError):
        args.find_app(ctx, "ghost", None)
    both = [{"name": "api", "network": "shop"}, {"name": "api", "network": "blog"}]
    ctx = context_with(FakeClient({"/apps": both}))
    with pytest.raises(UsageError) as info:
        args.find_app(ctx, "api", None)
    assert "blog, shop" in info.value.message and "--network" in info.value.hint


def test_default_network() -> None:
    one = context_with(FakeClient({"/networks": [{"name": "shop"}]}))
    assert args.default_network(one, ns(network=None)) == "shop"
    none = context_with(FakeClient({"/networks": []}))
    with pytest.raises(UsageError, match="no networks"):
        args.default_network(none, ns(network=None))
    two = context_with(FakeClient({"/networks": [{"name": "a"}, {"name": "b"}]}))
    with pytest.raises(UsageError, match="a, b"):
        args.default_network(two, ns(network=None))
    assert args.default_network(two, ns(network="b")) == "b"
