"""Issue 19, item 2: global options are taken after the command word and after the resource
word, as the README says ("before or after the command"), not only before it or at the end."""

from __future__ import annotations

import pytest

from tests.support.cli import Rig


def test_output_after_the_group_word(hello: Rig) -> None:
    names = [app["name"] for app in hello.ok("list", "-o", "json", "apps").json()]
    assert names == ["hello"]
    assert hello.ok("status", "-o", "json", "app", "hello").json()["app"] == "hello"
    assert hello.ok("status", "app", "-o", "json", "hello").json()["app"] == "hello"


@pytest.mark.parametrize("option", ["--no-color", "--plain", "--insecure"])
def test_flags_after_the_group_word(hello: Rig, option: str) -> None:
    run = hello.ok("status", option, "app", "hello")
    assert "hello" in run.out


def test_verbose_after_the_group_word_logs_requests(hello: Rig) -> None:
    run = hello.ok("status", "-v", "app", "hello")
    assert "hello" in run.out and "GET" in run.err, str(run)


def test_context_and_api_after_the_group_word(hello: Rig) -> None:
    assert hello.platform is not None
    run = hello("list", "--context", "nosuch", "apps")
    assert run.code == 4 and "no context named 'nosuch'" in run.err, str(run)
    run = hello.ok("list", "--api", hello.platform.url, "apps", "-o", "json")
    assert [app["name"] for app in run.json()] == ["hello"]
