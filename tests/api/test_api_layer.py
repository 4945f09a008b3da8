"""The fast tier: rig's API layer and command handlers, in this process, against a real platform.

No ``rig`` subprocess: handlers run through :func:`rig.runner.execute` with a Context whose
``api_factory`` hands them an :class:`rig.api.client.Api` on the shared platform (a real
maxlocal on loopback, taken from the pool). What the platform answers is checked against the
shapes ``rig.api`` promises: every endpoint's path, query and headers are rig's, not the test's.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from rig.api.client import Api, At
from rig.api.logs import LogSource
from rig.cli import build_parser
from rig.context import Context
from rig.errors import AlreadyExistsError, NotFoundError
from rig.runner import execute
from rig.transport.http import ApiClient, Tokens
from tests.support.cli import unique_email
from tests.support.platform import Platform


@pytest.fixture
def api(shared_platform: Platform) -> Iterator[Api]:
    user = shared_platform.add_user(unique_email("api"))
    client = ApiClient(shared_platform.url, Tokens(user["token"]))
    try:
        yield Api(client)
    finally:
        client.close()


def run(api: Api, *argv: str, env: dict[str, str] | None = None) -> tuple[int, Any, str]:
    """``rig ARGV -o json`` in this process: exit code, the JSON document, stderr."""
    args = build_parser().parse_args([*argv, "-o", "json"])
    out, err = io.StringIO(), io.StringIO()
    ctx = Context.from_args(args, env=env or {}, stdout=out, stderr=err, stdin=io.StringIO())
    ctx.api_factory = lambda _: api
    code = execute(ctx, args)
    return code, json.loads(out.getvalue()) if out.getvalue() else None, err.getvalue()


def test_networks_and_apps_round_trip(api: Api) -> None:
    assert api.health()["status"] == "ok"
    assert "@" in api.me()["email"]
    assert api.create_network("shop")["name"] == "shop"
    with pytest.raises(AlreadyExistsError):
        api.create_network("shop")
    assert [n["name"] for n in api.networks()] == ["shop"]
    app = api.create_app("shop", "web")
    assert (app["name"], app["network"]) == ("web", "shop")
    assert [a["name"] for a in api.apps(name="web")] == ["web"]
    assert api.apps(network="shop") == api.apps()
    assert api.app("shop", "web")["vars"] == []
    assert [a["name"] for a in api.network("shop")["apps"]] == ["web"]
    assert api.network_status("shop")["network"] == "shop"
    assert api.app_status("shop", "web")["state"] == "created"
    assert api.dashboard()["totals"]["apps"] == 1
    assert api.releases("shop", "web") == []
    api.delete_app("shop", "web")
    with pytest.raises(NotFoundError):
        api.app("shop", "web")
    api.delete_network("shop")
    assert api.networks() == []


def test_vars_secrets_and_the_reveal(api: Api) -> None:
    api.create_network("shop")
    api.create_app("shop", "web")
    web, shop = At("shop", "web"), At("shop")
    change = api.set_env(shop, "vars", {"LOG_LEVEL": "info"})
    assert [r["key"] for r in change.rows] == ["LOG_LEVEL"] and change.releases == []
    api.set_env(web, "secrets", {"TOKEN": "s3cret"}, restart=False)
    assert [(r["key"], r["source"]) for r in api.env(web, "vars")] == [("LOG_LEVEL", "network")]
    assert "value" not in api.env(web, "secrets")[0]
    assert api.reveal_secrets(web, ["TOKEN"]) == {"TOKEN": "s3cret"}
    assert api.delete_env(shop, "vars", "LOG_LEVEL") == []
    assert api.env(web, "vars") == []
    assert [r["kind"] for r in api.audit(network="shop")] == ["reveal"]
    assert api.sessions() == []


def test_a_log_page_says_where_a_follow_continues(api: Api) -> None:
    api.create_network("shop")
    api.create_app("shop", "web")
    page = api.logs(LogSource("app", "shop", "web"), tail=10)
    assert page.records == [] and page.resume_after == page.last_seq
    assert api.logs(LogSource("network", "shop")).records == []
    assert api.logs(LogSource("build", "shop", "web"), release=1).records == []


def test_commands_run_in_process_through_the_runner(api: Api) -> None:
    code, data, _ = run(api, "create", "network", "shop")
    assert (code, data) == (0, api.networks()[0])
    code, data, _ = run(api, "create", "app", "web")  # the only network is the default
    assert (code, data["network"]) == (0, "shop")
    code, data, _ = run(api, "create", "var", "A=1", "B=2", env={"RIG_APP": "web"})
    assert (code, data["set"], data["app"]) == (0, ["A", "B"], "web")
    code, data, _ = run(api, "list", "vars", "--app", "web")
    assert [r["key"] for r in data] == ["A", "B"]
    code, _, err = run(api, "details", "app", "nope")
    assert code == 4 and json.loads(err)["error"]["code"] == "not_found"
