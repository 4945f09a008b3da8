"""Figures for people: byte sizes, durations, percentages, counts."""

from __future__ import annotations

from typing import Any

_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_bytes(value: Any) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in _BYTE_UNITS:
        if abs(size) < 1024 or unit == _BYTE_UNITS[-1]:
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: Any) -> str:
    """``42s``, ``3m 12s``, ``2h 5m``, ``4d 3h``: the two largest units."""
    if seconds is None:
        return "-"
    total = int(float(seconds))
    if total < 60:
        return f"{max(total, 0)}s"
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size or parts:
            parts.append(f"{total // size}{unit}")
            total %= size
    return " ".join(parts[:2])


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 file``, ``2 files``, ``0 files``."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def human_percent(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f}%"


def human_seconds(seconds: float) -> str:
    """A short elapsed time: ``0.8 s``, ``12.3 s``, ``2m 5s``."""
    return f"{seconds:.1f} s" if seconds < 60 else human_duration(seconds)
