"""Issue 19, item 4: a second ``rig local start --data OTHER`` gets a login context of its own
(``local-other``) instead of repointing ``local``, so the first platform's apps stay reachable
by name; ``rig local status|stop --context NAME`` act on that context's platform."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import Rig


@pytest.fixture
def two(rig: Rig, tmp_path: Path) -> Iterator[tuple[Rig, Path, Path]]:
    rig.env["XDG_DATA_HOME"] = str(tmp_path / "xdg")  # the default data directory
    default, other = (tmp_path / "xdg" / "rig" / "local").resolve(), (tmp_path / "Other").resolve()
    yield rig, default, other
    rig("local", "stop", "--data", str(other))
    rig("local", "stop", "--data", str(default))


def test_each_platform_has_its_own_context(two: tuple[Rig, Path, Path]) -> None:
    rig, default, other = two
    first = rig.ok("local", "start", "--port", "0", "-o", "json").json()
    assert (first["context"], first["data_dir"]) == ("local", str(default))
    rig.ok("create", "network", "first-net")

    second = rig.ok("local", "start", "--port", "0", "--data", str(other))
    assert "context 'local-other' is now current" in second.out, str(second)
    contexts = rig.contexts()
    assert contexts["current"] == "local-other"
    assert contexts["contexts"]["local"]["api"].startswith(first["url"])
    assert contexts["contexts"]["local-other"]["api"] != contexts["contexts"]["local"]["api"]

    # The first platform is still reachable by its context; the second is the current one.
    names = rig.ok("list", "networks", "--context", "local", "-o", "json").json()
    assert [n["name"] for n in names] == ["first-net"]
    assert rig.ok("list", "networks", "-o", "json").json() == []

    # Started again, a platform keeps its context.
    again = rig.ok("local", "start", "--port", "0", "--data", str(other), "-o", "json").json()
    assert again["context"] == "local-other"

    status = rig.ok("local", "status", "--context", "local", "-o", "json").json()
    assert (status["pid"], status["context"]) == (first["pid"], "local")
    stopped = rig.ok("local", "stop", "--context", "local-other", "-o", "json").json()
    assert stopped["stopped"] is True and stopped["data_dir"] == str(other)
    assert rig.ok("local", "status", "--context", "local", "-o", "json").json()["running"]
