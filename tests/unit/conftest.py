from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def fake_hosts_over_plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests talk to made-up hosts (http://max.test) through in-memory transports."""
    monkeypatch.setenv("RIG_INSECURE", "1")
