"""Where a remote session runs: the topic that names it, and what the platform resolves it to."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from maxlocal.names import name_problem
from maxlocal.runtime.cgroups import Cgroup
from maxlocal.runtime.sandbox import Sandbox

PREFIX = "exec:"
NETWORK_PREFIX = "network:"


@dataclass(frozen=True)
class ExecTopic:
    """``exec:<network>/<app>`` (an app) or ``exec:network:<network>`` (a network)."""

    network: str
    app: str | None = None

    @property
    def key(self) -> str:
        """``shop/api`` for an app, ``shop`` for a network: how the session registry names it."""
        return f"{self.network}/{self.app}" if self.app else self.network


def parse_topic(topic: str) -> ExecTopic | None:
    if not topic.startswith(PREFIX):
        return None
    rest = topic.removeprefix(PREFIX)
    if rest.startswith(NETWORK_PREFIX):
        network, app = rest.removeprefix(NETWORK_PREFIX), None
    else:
        network, slash, app = rest.partition("/")
        if not slash or name_problem(app):
            return None
    return None if name_problem(network) else ExecTopic(network, app)


@dataclass(frozen=True)
class Target:
    """What a session runs with. ``env`` is the whole environment of its processes (what the
    app's own processes get: ``runtime.proc.child_env`` of its vars and secrets); ``label``
    names it for people (the shell's prompt); ``secret_values`` are masked in the audit."""

    cwd: Path
    env: Mapping[str, str]
    label: str
    secret_values: Collection[str] = ()
    sandbox: Sandbox | None = None
    """The app's own sandbox (``runtime.sandbox``): a session can do what the app can."""
    cgroup: Cgroup | None = None
    """The group its processes join (the app's limits); None when limits are off."""


ResolveTarget = Callable[[str, str], "Target | None"]
"""``resolve_target(user_id, topic)``: the target if the user owns it, else None. Called in a
worker thread, so it may block (database reads)."""
