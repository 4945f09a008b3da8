"""Configuration as code against a real platform: export, edit, apply, diff."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.cli import Rig


@pytest.fixture
def shop(logged_in: Rig) -> Rig:
    logged_in.ok("create", "network", "shop")
    logged_in.ok("create", "app", "api", "--network", "shop")
    logged_in.ok("create", "app", "web", "--network", "shop")
    logged_in.ok("create", "var", "REGION=eu", "--network", "shop")
    logged_in.ok("create", "var", "LOG_LEVEL=info", "WORKERS=2", "OLD=x", "--app", "api")
    logged_in.ok("create", "secret", "DB_PASSWORD", "hunter2-secret", "--app", "api")
    return logged_in


def state(rig: Rig, *scope: str) -> dict[str, object]:
    rows = rig.ok("list", "vars", *scope, "-o", "json").json()
    secrets = rig.ok("list", "secrets", *scope, "-o", "json").json()
    return {
        "vars": {r["key"]: r["value"] for r in rows},
        "secrets": {r["key"]: r["digest"] for r in secrets},
    }


def test_export_edit_apply_changes_exactly_the_edit_then_no_drift(
    shop: Rig, tmp_path: Path
) -> None:
    path = tmp_path / "api.yaml"
    run = shop.ok("details", "app", "api", "--export", str(path))
    assert "api.yaml" in run.out
    text = path.read_text()
    assert "hunter2-secret" not in text
    doc = yaml.safe_load(text)
    assert doc["kind"] == "app" and doc["network"] == "shop" and doc["name"] == "api"
    assert doc["vars"] == {"LOG_LEVEL": "info", "OLD": "x", "WORKERS": "2"}  # not REGION
    digest = doc["secrets"]["DB_PASSWORD"]
    assert len(digest) == 12

    assert yaml.safe_load(shop.ok("details", "app", "api", "--export", "-").out) == doc
    assert shop("diff", "-f", str(path)).code == 0
    before_web = state(shop, "--app", "web")
    before_net = state(shop, "--network", "shop")

    doc["vars"]["WORKERS"] = "4"
    doc["vars"]["NEW"] = "yes"
    del doc["vars"]["OLD"]
    path.write_text(yaml.safe_dump(doc))

    drift = shop("diff", "-f", str(path), "-o", "json")
    assert drift.code == 1, str(drift)
    assert {(c["action"], c["key"]) for c in drift.json()["changes"]} == {
        ("change", "WORKERS"),
        ("add", "NEW"),
        ("remove", "OLD"),
    }

    dry = shop.ok("apply", "-f", str(path), "--dry-run")
    assert "Would apply 3 changes" in dry.out and "change var WORKERS: '2' -> '4'" in dry.out
    assert state(shop, "--app", "api")["vars"]["WORKERS"] == "2"

    shop.ok("apply", "-f", str(path))
    after = state(shop, "--app", "api")
    assert after["vars"] == {"LOG_LEVEL": "info", "WORKERS": "4", "NEW": "yes", "REGION": "eu"}
    assert after["secrets"] == {"DB_PASSWORD": digest}
    assert state(shop, "--app", "web") == before_web
    assert state(shop, "--network", "shop") == before_net

    assert shop("diff", "-f", str(path)).code == 0
    again = shop.ok("apply", "-f", str(path))
    assert "Nothing to do" in again.out


def test_network_document_creates_everything_and_reports_missing_secrets(
    shop: Rig, tmp_path: Path
) -> None:
    exported = tmp_path / "shop.json"
    shop.ok("details", "network", "shop", "--export", str(exported))
    doc = yaml.safe_load(exported.read_text())
    assert [a["name"] for a in doc["apps"]] == ["api", "web"]
    assert doc["vars"] == {"REGION": "eu"}

    doc["name"] = "staging"
    doc["apps"][1]["secrets"] = {"API_KEY": None}
    path = tmp_path / "staging.yml"
    path.write_text(yaml.safe_dump(doc))
    run = shop("apply", "-f", str(path))
    assert run.code == 1, str(run)
    assert "create network staging" in run.out
    assert "secret DB_PASSWORD is missing" in run.out and "secret API_KEY is missing" in run.out
    assert "rig create secret API_KEY --app web --network staging" in run.out
    assert state(shop, "--app", "api", "--network", "staging")["vars"] == {
        "LOG_LEVEL": "info",
        "OLD": "x",
        "WORKERS": "2",
        "REGION": "eu",
    }
    assert state(shop, "--app", "web", "--network", "staging")["secrets"] == {}

    shop.ok("create", "secret", "DB_PASSWORD", "other", "--app", "api", "--network", "staging")
    shop.ok("create", "secret", "API_KEY", "k", "--app", "web", "--network", "staging")
    differs = shop("diff", "-f", str(path), "-o", "json")
    assert differs.code == 1
    assert [(c["action"], c["key"]) for c in differs.json()["changes"]] == [
        ("differs", "DB_PASSWORD")
    ]

    shop.ok("create", "app", "extra", "--network", "staging")
    doc["apps"][0]["secrets"] = {"DB_PASSWORD": None}
    path.write_text(yaml.safe_dump(doc))
    kept = shop.ok("apply", "-f", str(path))
    assert "app extra exists only on the platform (kept; --prune deletes it)" in kept.out
    shop.ok("apply", "-f", str(path), "--prune")
    assert shop.ok("diff", "-f", str(path)).code == 0
    names = [
        a["name"] for a in shop.ok("list", "apps", "--network", "staging", "-o", "json").json()
    ]
    assert names == ["api", "web"]


def test_bad_documents_name_the_field(logged_in: Rig, tmp_path: Path) -> None:
    cases = {
        "version: 2\nkind: app\n": "version: must be 1",
        "version: 1\nkind: app\nnetwork: shop\nname: api\nvars: {DEBUG: true}\n": "vars.DEBUG",
        "version: 1\nkind: app\nnetwork: Shop\nname: api\n": "network: 'Shop' must be lower",
        "version: 1\nkind: network\nname: shop\napps: [{name: api, colour: red}]\n": "apps[0]",
        "version: 1\nkind: app\nnetwork: shop\nname: api\nsecrets: {A: 3}\n": "never a value",
    }
    for text, expected in cases.items():
        path = tmp_path / "bad.yaml"
        path.write_text(text)
        run = logged_in("apply", "-f", str(path))
        assert run.code == 2 and expected in run.err, str(run)
    out = tmp_path / "x.txt"
    run = logged_in("details", "network", "nope", "--export", str(out))
    assert run.code == 4
