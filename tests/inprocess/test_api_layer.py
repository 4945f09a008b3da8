"""rig's API layer and command handlers, in this process, against maxlocal in this process.

No subprocess on either side (tests/support/inprocess.py): ``api`` is an
:class:`rig.api.client.Api` on the in-process platform, ``user_rig`` runs commands through
:func:`rig.runner.execute` as the same user. What the platform answers is checked against the
shapes ``rig.api`` promises: every endpoint's path, query and headers are rig's, not the test's.
"""

from __future__ import annotations

import pytest

from rig.api.client import Api, At
from rig.api.logs import LogSource
from rig.errors import AlreadyExistsError, NotFoundError
from tests.support.inprocess import InProcessRig


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


def test_commands_run_in_process_through_the_runner(api: Api, user_rig: InProcessRig) -> None:
    run = user_rig.ok("create", "network", "shop", "-o", "json")
    assert run.json() == api.networks()[0]
    run = user_rig.ok("create", "app", "web", "-o", "json")  # the only network is the default
    assert run.json()["network"] == "shop"
    run = user_rig.ok("create", "var", "A=1", "B=2", "-o", "json", env={"RIG_APP": "web"})
    assert (run.json()["set"], run.json()["app"]) == (["A", "B"], "web")
    run = user_rig.ok("list", "vars", "--app", "web", "-o", "json")
    assert [r["key"] for r in run.json()] == ["A", "B"]
    run = user_rig("details", "app", "nope", "-o", "json")
    assert run.code == 4 and run.error_json()["error"]["code"] == "not_found"
