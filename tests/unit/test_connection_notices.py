"""The reconnect notice a follow prints on stderr: once per outage, with a reason only
when there is one to give (never "connection lost (connection lost)" nor "()")."""

from __future__ import annotations

import io

import pytest

from rig.transport.follow import ConnectionNotices
from rig.transport.socket import Connected, Reconnecting


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("connection lost", "connection lost; reconnecting…"),
        ("", "connection lost; reconnecting…"),
        (
            "the platform is shutting down",
            "connection lost (the platform is shutting down); reconnecting…",
        ),
    ],
)
def test_one_notice_per_outage_and_one_when_it_is_over(reason: str, said: str) -> None:
    stream = io.StringIO()
    notices = ConnectionNotices(stream)
    notices(Reconnecting(1, 0.1, reason))
    notices(Reconnecting(2, 0.2, reason))
    notices(Connected())
    notices(Connected())
    assert stream.getvalue().splitlines() == [said, "reconnected"]
