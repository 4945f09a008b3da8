"""How the client's results look: tables for lists, key/values with sections for details."""

from __future__ import annotations

import io
import json

from rig.commands.details import SECTIONS
from rig.commands.env import SECRET, VAR
from rig.errors import NotFoundError
from rig.output import Result, render, render_error

ROWS = [
    {"key": "A", "value": "line1\nline2", "source": "app", "overrides": True, "updated_at": "t"},
    {"key": "LONG", "value": "x" * 100, "source": "network", "overrides": False, "updated_at": "t"},
]


def rendered(result: Result, fmt: str = "table") -> str:
    out = io.StringIO()
    render(result, fmt, out)
    return out.getvalue()


def test_var_table_escapes_and_shortens_values() -> None:
    text = rendered(Result(data=ROWS, columns=VAR.columns))
    lines = text.splitlines()
    assert lines[0].split() == ["KEY", "VALUE", "SOURCE", "UPDATED"]
    assert "line1\\nline2" in text and len(lines) == 4
    assert "x" * 57 + "..." in text and "x" * 58 not in text


def test_json_is_the_data_exactly() -> None:
    assert json.loads(rendered(Result(data=ROWS, columns=VAR.columns), "json")) == ROWS


def test_secret_columns_have_no_value() -> None:
    assert [c.key for c in SECRET.columns] == ["key", "digest", "source", "updated_at"]


def test_details_sections() -> None:
    app = {
        "name": "api",
        "network": "shop",
        "hostname": "api.shop.localhost",
        "vars": ROWS[:1],
        "secrets": [{"key": "S", "digest": "abc123", "source": "app", "updated_at": "t"}],
    }
    text = rendered(
        Result(
            data=app, fields=["name", "network", "hostname", "vars", "secrets"], sections=SECTIONS
        )
    )
    assert text.startswith("Name:     api\nNetwork:  shop\nHostname: api.shop.localhost\n")
    assert "\nVars:\n  KEY" in text and "\nSecrets:\n  KEY    DIGEST" in text and "abc123" in text


def test_error_is_one_line_or_one_json_document() -> None:
    err = io.StringIO()
    render_error(NotFoundError("app 'x' not found", "run `rig list apps`"), "table", err)
    assert err.getvalue() == "rig: app 'x' not found (hint: run `rig list apps`)\n"
    err = io.StringIO()
    render_error(NotFoundError("gone", ""), "json", err)
    assert json.loads(err.getvalue()) == {
        "error": {"code": "not_found", "message": "gone", "hint": ""}
    }
