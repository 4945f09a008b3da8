"""What a command runs against: output settings, the login context, and the selected network/app.

A Context is built once per command from the global options and the
environment, and handed to the handler. It opens the API client lazily, so
commands that never talk to the platform never import the HTTP stack.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from rig.api.client import Api
    from rig.transport.http import ApiClient


@dataclass
class Context:
    output: str = "table"
    color: bool = True
    plain: bool = False
    verbose: int = 0
    context_name: str | None = None
    api_url: str | None = None
    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    # The shell's selection; one-shot commands leave these empty.
    network: str | None = None
    app: str | None = None
    _client: ApiClient | None = field(default=None, repr=False)
    _api: Api | None = field(default=None, repr=False)
    _on_close: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Context:
        plain_env = os.environ.get("RIG_PLAIN", "") not in ("", "0")
        plain = plain_env or bool(getattr(args, "plain", False))
        no_color = plain or bool(getattr(args, "no_color", False)) or "NO_COLOR" in os.environ
        if getattr(args, "insecure", False):
            from rig.transport.security import INSECURE_ENV

            os.environ[INSECURE_ENV] = "1"
        return cls(
            output=getattr(args, "output", None) or "table",
            color=not no_color and sys.stdout.isatty(),
            plain=plain,
            verbose=getattr(args, "verbose", 0) or 0,
            context_name=getattr(args, "context", None) or os.environ.get("RIG_CONTEXT") or None,
            api_url=getattr(args, "api", None) or os.environ.get("RIG_API") or None,
        )

    @property
    def json(self) -> bool:
        return self.output == "json"

    @property
    def interactive(self) -> bool:
        """True when a person can answer a prompt (stdin and stderr are terminals)."""
        return self.stdin.isatty() and self.stderr.isatty()

    def client(self) -> ApiClient:
        if self._client is None:
            from rig.transport.session import open_client

            self._client = open_client(self)
        return self._client

    def api(self) -> Api:
        """The platform's API (:mod:`rig.api`) for this command's login, opened on first use."""
        if self._api is None or self._api.client is not self._client:
            from rig.api.client import Api

            self._api = Api(self.client())
        return self._api

    def on_close(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` when the command is over or, in the shell, its job is killed (then from
        another thread): how a follow blocked on the socket is woken to leave its channels."""
        self._on_close.append(hook)

    def close(self) -> None:
        hooks, self._on_close = self._on_close, []
        for hook in hooks:
            hook()
        if self._client is not None:
            self._client.close()
            self._client = None
            self._api = None
