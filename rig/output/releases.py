"""What people are told about releases: the log tail of one that failed, and the releases a
var or secret change made."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from rig.output.terminal import safe_text
from rig.output.units import counted

if TYPE_CHECKING:
    from rig.api.releases import ReleaseFailed
    from rig.targets import Scope

LOG_TAIL_SHOWN = 30


def show_failure(failure: ReleaseFailed, stream: IO[str]) -> None:
    """The last lines of the failed phase's log, for people (``-o json`` carries them instead)."""
    if not failure.log_tail:
        return
    tail = failure.log_tail[-LOG_TAIL_SHOWN:]
    last = counted(len(tail), "line") if len(tail) > 1 else "line"
    stream.write(f"Last {last} of the {failure.phase or 'release'} log:\n")
    for line in tail:
        stream.write(f"  | {safe_text(line)}\n")
    stream.flush()


def restart_notice(
    scope: Scope,
    keys: list[str],
    made: Sequence[tuple[str | None, str]],
    listing: Sequence[Mapping[str, Any]] = (),
) -> str:
    """``"\nRestarting api with changed keys: ..."`` when the platform made releases ``made``
    ((app, number) each) for a config change, else ``""``. Secrets are named with their new
    digest; at network scope each release is named with its app."""
    if not made:
        return ""
    digests = {row.get("key"): row.get("digest") for row in listing}
    changed = [f"{k} (digest {digests[k]})" if digests.get(k) else k for k in keys]
    if scope.app:
        plural = "s" if len(made) > 1 else ""
        which = f"release{plural} {', '.join(number for _, number in made)}"
        return f"\nRestarting {scope.app} with changed keys: {', '.join(changed)} ({which})"
    which = ", ".join(
        f"{app} release {number}" if app else f"release {number}" for app, number in made
    )
    return (
        f"\nRestarting the apps of network {scope.network} with changed keys: "
        f"{', '.join(changed)} ({which})"
    )
