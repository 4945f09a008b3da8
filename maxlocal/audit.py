"""The audit trail of remote sessions: who ran what, where, when, from where, and how it ended.

Shells are recorded as sessions (start, end, exit code), never keystroke by keystroke. The value
of every secret of the target is masked in what is stored, wherever it occurs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from maxlocal.store.audit import AuditLog, NewAuditRow

MASK = "[secret]"


def mask(text: str, secret_values: Iterable[str]) -> str:
    """``text`` with every occurrence of every (non-empty) secret value replaced, longest first."""
    for value in sorted({v for v in secret_values if v}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


SessionStart = NewAuditRow
"""What the trail is told when a session starts: the row it writes, once secrets are masked."""


class AuditTrail:
    def __init__(self, log: AuditLog) -> None:
        self.log = log

    def started(self, start: SessionStart, secret_values: Iterable[str]) -> int:
        """Record a session that starts now; returns the record's id for ``ended``."""
        return self.log.start(replace(start, command=mask(start.command, secret_values)))

    def ended(self, record: int, exit_code: int, duration_s: float, reason: str) -> None:
        self.log.end(record, exit_code, duration_s, reason)
