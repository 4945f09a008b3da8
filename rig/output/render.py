"""Turning a Result into text on a stream."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import IO, Any

from rig.errors import RigError
from rig.output.result import Column, Result
from rig.output.terminal import safe_lines, safe_text

JSON = "json"
TABLE = "table"


def render(result: Result, fmt: str, out: IO[str]) -> None:
    if fmt == JSON:
        _render_json(result, out)
    else:
        _render_text(result, out)
    out.flush()


def render_error(error: RigError, fmt: str, err: IO[str]) -> None:
    if fmt == JSON:
        err.write(json.dumps(error.to_json()) + "\n")
    else:
        hint = f" (hint: {safe_text(error.hint)})" if error.hint else ""
        err.write(f"rig: {safe_text(error.message)}{hint}\n")
    err.flush()


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


# json.dumps with options builds an encoder per call: a follow prints thousands of lines a second
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def _line_encoder() -> Callable[[Any], str]:
    """``_LINE_ENCODER.encode`` with one C encoder made once (``encode`` makes one per call,
    half the cost of a log line); records come from JSON, so never hold themselves."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _LINE_ENCODER.encode
    chunks = make(None, str, json.encoder.encode_basestring, None, ": ", ", ", False, False, True)
    return lambda record: "".join(chunks(record, 0))


_encode_line = _line_encoder()


def _render_json(result: Result, out: IO[str]) -> None:
    if result.lines is not None:
        for record in result.lines:
            out.write(_encode_line(record) + "\n")
            if result.flush_lines:
                out.flush()
        return
    data = result.data if result.data is not None else {}
    out.write(to_json(data) + "\n")


def _render_text(result: Result, out: IO[str]) -> None:
    if result.message:
        # on a terminal, for people; piped, a message may be a document (`env pull -`)
        out.write((safe_lines(result.message) if out.isatty() else result.message) + "\n")
    if result.lines is not None:
        fmt = result.line_format or (lambda r: json.dumps(r, default=str))
        for record in result.lines:
            out.write(fmt(record) + "\n")
            if result.flush_lines:
                out.flush()
        return
    data = result.view if result.view is not None else result.data
    if not result.show_data or data is None:
        return
    if isinstance(data, list):
        out.write(table(data, result.columns, result.empty) + "\n")
    elif isinstance(data, dict):
        out.write(record_text(data, result.fields, result.sections, result.empty))
    else:
        out.write(f"{data}\n")


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value) or "-"
    return safe_text(str(value))


def table(rows: Sequence[dict[str, Any]], columns: Sequence[Column] | None, empty: str) -> str:
    if not rows:
        return empty
    cols = list(columns) if columns else [Column(k) for k in rows[0]]
    from tabulate import tabulate  # costs ~80 ms to import: only when a table is drawn

    body = [
        [safe_text(c.format(r.get(c.key))) if c.format else cell(r.get(c.key)) for c in cols]
        for r in rows
    ]
    return tabulate(body, headers=[c.title for c in cols], tablefmt="simple", disable_numparse=True)


def record_text(
    data: dict[str, Any],
    fields: Sequence[str] | None,
    sections: dict[str, Sequence[Column]],
    empty: str,
) -> str:
    keys = list(fields) if fields else list(data)
    scalars = [k for k in keys if k not in sections and not isinstance(data.get(k), (list, dict))]
    width = max((len(k) for k in scalars), default=0)
    lines = [
        f"{k.replace('_', ' ').capitalize() + ':':<{width + 2}}{cell(data.get(k))}" for k in scalars
    ]
    text = "\n".join(lines) + ("\n" if lines else "")
    for key in keys:
        value = data.get(key)
        if key in sections or isinstance(value, list):
            rows = value if isinstance(value, list) else []
            title = key.replace("_", " ").capitalize()
            text += f"\n{title}:\n" + _indent(table(rows, sections.get(key), empty)) + "\n"
    return text


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())
