"""Shared by the namespace tests (``runtime.netns`` and ``runtime.egress``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from maxlocal.runtime.netns import Namespaces


@pytest.fixture(params=["root", "userns"])
def spaces(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Namespaces]:
    """Both ways of making them: ``ip netns`` as root, and a holder in a user namespace as
    a platform that is not root does (here run by root: the same tools and joins)."""
    if request.param == "userns":
        monkeypatch.setattr(os, "geteuid", lambda: 1000)
    made = Namespaces.choose(tmp_path, True)
    assert made.active, made.describe()
    assert (made.tools is not None and made.tools.userns) == (request.param == "userns")
    yield made
    made.close()
