"""What a command handler returns."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Column:
    """One column of a table: the key in each row, its header, and an optional formatter."""

    key: str
    header: str = ""
    format: Callable[[Any], str] | None = None

    @property
    def title(self) -> str:
        return self.header or self.key.replace("_", " ").upper()


@dataclass
class Result:
    """Data for ``-o json`` plus hints for the human view.

    - ``data``: what ``-o json`` prints, exactly (a list for lists).
    - ``columns``: for list data, the table's columns (default: every key of the first row).
    - ``fields``: for dict data, which keys to show and in what order (default: all).
    - ``message``: a sentence for people, printed instead of (or before) the data in table mode.
    - ``show_data``: in table mode, whether to render ``data`` after ``message``.
    - ``view``: in table mode, shown instead of ``data`` when people need another shape
      (humanised figures, a flattened list); ``-o json`` never sees it.
    - ``lines``: for streaming commands, an iterable of records printed one per line
      (NDJSON under ``-o json``) as they arrive; ``line_format`` turns one into text.
    - ``flush_lines``: flush the output after each line; False when the source of ``lines``
      flushes it whenever it waits (a log follow: a flood is written in blocks).
    """

    data: Any = None
    columns: Sequence[Column] | None = None
    fields: Sequence[str] | None = None
    message: str | None = None
    show_data: bool = True
    empty: str = "(none)"
    lines: Iterable[Mapping[str, Any]] | None = None
    line_format: Callable[[Any], str] | None = None
    flush_lines: bool = True
    exit_code: int = 0
    sections: dict[str, Sequence[Column]] = field(default_factory=dict)
    view: Any = None
