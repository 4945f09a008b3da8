"""Networks, apps and details: the onboarding steps and every bad input, against a real platform."""

from __future__ import annotations

import json
import re

from tests.support.cli import Rig, single_error_line


def test_onboarding_steps(logged_in: Rig) -> None:
    run = logged_in.ok("create", "network", "my-project")
    assert run.out.strip() == "Created network my-project (my-project.localhost)"
    run = logged_in.ok("create", "app", "api", "--network", "my-project")
    assert run.out.strip() == "Created app api in network my-project: api.my-project.localhost"
    listing = logged_in.ok("list", "apps").out
    assert re.search(r"api\s+my-project\s+api\.my-project\.localhost\s+created", listing)


def test_create_network_with_a_generated_name(logged_in: Rig) -> None:
    network = logged_in.ok("create", "network", "-o", "json").json()
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d+", network["name"])
    assert network["domain"] == f"{network['name']}.localhost"
    names = [n["name"] for n in logged_in.ok("list", "networks", "-o", "json").json()]
    assert names == [network["name"]]


def test_invalid_network_names_are_refused_before_any_request(logged_in: Rig) -> None:
    assert logged_in.platform is not None
    logged_in.platform.stop()  # a request would fail with exit 6
    for name in ("Bad", "9lives", "ends-", "a_b", "x" * 64):
        run = logged_in("create", "network", name)
        assert run.code == 2, str(run)
        assert "invalid network name" in single_error_line(run)
    run = logged_in("create", "app", "No", "--network", "shop", "-o", "json")
    assert run.code == 2 and run.error_json()["error"]["code"] == "invalid_request"


def test_duplicate_names(logged_in: Rig, second_user: Rig) -> None:
    logged_in.ok("create", "network", "shop")
    run = logged_in("create", "network", "shop")
    assert run.code == 5
    assert "already" in single_error_line(run)
    # Network names are unique on the whole platform.
    assert second_user("create", "network", "shop").code == 5
    logged_in.ok("create", "app", "api", "--network", "shop")
    run = logged_in("create", "app", "api", "--network", "shop", "-o", "json")
    assert run.code == 5 and run.error_json()["error"]["code"] == "already_exists"


def test_app_network_is_inferred_or_asked_for(logged_in: Rig) -> None:
    run = logged_in("create", "app", "api")
    assert run.code == 2 and "rig create network" in single_error_line(run)
    logged_in.ok("create", "network", "shop")
    app = logged_in.ok("create", "app", "api", "-o", "json").json()  # the only network
    assert app["network"] == "shop" and app["hostname"] == "api.shop.localhost"
    logged_in.ok("create", "network", "blog")
    run = logged_in("create", "app", "web")
    assert run.code == 2
    line = single_error_line(run)
    assert "blog" in line and "shop" in line and "--network" in line
    generated = logged_in.ok("create", "app", "--network", "blog", "-o", "json").json()
    assert generated["network"] == "blog" and generated["name"]


def test_unknown_and_ambiguous_apps(logged_in: Rig) -> None:
    run = logged_in("details", "app", "ghost")
    assert run.code == 4
    assert "ghost" in single_error_line(run)
    logged_in.ok("create", "network", "shop")
    run = logged_in("details", "app", "ghost", "--network", "shop", "-o", "json")
    assert run.code == 4 and run.error_json()["error"]["code"] == "not_found"
    run = logged_in("list", "vars", "--app", "ghost")
    assert run.code == 4
    logged_in.ok("create", "network", "blog")
    logged_in.ok("create", "app", "api", "--network", "shop")
    logged_in.ok("create", "app", "api", "--network", "blog")
    run = logged_in("details", "app", "api")
    assert run.code == 2
    line = single_error_line(run)
    assert "blog, shop" in line and "--network" in line
    assert (
        logged_in.ok("details", "app", "api", "--network", "blog", "-o", "json").json()["network"]
        == "blog"
    )


def test_list_apps_by_network(logged_in: Rig) -> None:
    logged_in.ok("create", "network", "shop")
    logged_in.ok("create", "network", "blog")
    logged_in.ok("create", "app", "api", "--network", "shop")
    logged_in.ok("create", "app", "web", "--network", "blog")
    apps = logged_in.ok("list", "apps", "-o", "json").json()
    assert [(a["network"], a["name"]) for a in apps] == [("blog", "web"), ("shop", "api")]
    shop = logged_in.ok("list", "apps", "--network", "shop", "-o", "json").json()
    assert [a["name"] for a in shop] == ["api"]
    networks = logged_in.ok("list", "networks", "-o", "json").json()
    assert [(n["name"], n["apps"]) for n in networks] == [("blog", 1), ("shop", 1)]


def test_empty_lists(logged_in: Rig) -> None:
    assert logged_in.ok("list", "networks", "-o", "json").json() == []
    assert "no networks" in logged_in.ok("list", "networks").out
    assert logged_in.ok("list", "apps", "-o", "json").json() == []
    logged_in.ok("create", "network", "bare")
    assert logged_in.ok("list", "apps", "--network", "bare", "-o", "json").json() == []
    assert "no apps in network bare" in logged_in.ok("list", "apps", "--network", "bare").out


def test_listing_the_apps_of_a_network_that_is_not_there_says_so(logged_in: Rig) -> None:
    """Not an empty list, which would read as "no apps yet": the same error as every other
    command naming a missing network (exit 4), with the did-you-mean hint."""
    logged_in.ok("create", "network", "shop")
    line = single_error_line(logged_in("list", "apps", "--network", "shpo"))
    assert "network 'shpo' not found" in line and "did you mean `shop`?" in line
    run = logged_in("list", "apps", "--network", "shpo", "-o", "json")
    assert (run.code, run.out) == (4, "")
    assert json.loads(run.err)["error"]["code"] == "not_found"


def test_details(logged_in: Rig) -> None:
    logged_in.ok("create", "network", "shop")
    logged_in.ok("create", "app", "api", "--network", "shop")
    logged_in.ok("create", "var", "LOG_LEVEL=debug", "--network", "shop")
    network = logged_in.ok("details", "network", "shop", "-o", "json").json()
    assert network["name"] == "shop"
    assert [a["name"] for a in network["apps"]] == ["api"]
    assert [v["key"] for v in network["vars"]] == ["LOG_LEVEL"]
    text = logged_in.ok("details", "network", "shop").out
    assert "Domain:" in text and "Apps:" in text and "LOG_LEVEL" in text
    app = logged_in.ok("details", "app", "api", "-o", "json").json()
    assert app["hostname"] == "api.shop.localhost"
    assert app["vars"][0]["source"] == "network"
    text = logged_in.ok("details", "app", "api").out
    assert "Hostname:" in text and "api.shop.localhost" in text and "Secrets:" in text
    run = logged_in("details", "network", "nowhere")
    assert run.code == 4
    single_error_line(run)


def test_delete_needs_confirmation_off_a_terminal(logged_in: Rig) -> None:
    logged_in.ok("create", "network", "shop")
    logged_in.ok("create", "app", "api", "--network", "shop")
    run = logged_in("delete", "app", "api")
    assert run.code == 2 and "--yes" in single_error_line(run)
    run = logged_in("delete", "network", "shop", "--yes")
    assert run.code == 1 and "force" in single_error_line(run)
    deleted = logged_in.ok("delete", "app", "api", "--yes", "-o", "json").json()
    assert deleted == {"network": "shop", "app": "api", "deleted": True}
    logged_in.ok("create", "app", "web", "--network", "shop")
    run = logged_in.ok("delete", "network", "shop", "--force", "--yes")
    assert "its 1 app (web)" in run.out
    assert logged_in.ok("list", "networks", "-o", "json").json() == []
    run = logged_in("delete", "network", "shop", "--yes")
    assert run.code == 4
    single_error_line(run)
