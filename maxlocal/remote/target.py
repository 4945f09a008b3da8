"""Where a remote session runs: the topic that names it, and what the platform resolves it to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from maxlocal.names import name_problem
from maxlocal.runtime.driver import ExecTarget

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


Target = ExecTarget
"""What a session runs with: the runtime driver's answer (``runtime.driver.ExecTarget``)."""

ResolveTarget = Callable[[str, str], "Target | None"]
"""``resolve_target(user_id, topic)``: the target if the user owns it, else None. Called in a
worker thread, so it may block (database reads)."""
