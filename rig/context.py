"""What a command runs against: its streams and environment, output settings, the login
context, TLS settings, and the selected network/app.

A Context is built once per command from the global options and the environment
(:meth:`Context.from_args`), and handed to the handler: the one injectable environment. A
handler reads environment variables from ``ctx.env``, writes to ``ctx.stdout``/``ctx.stderr``,
and reaches the platform through ``ctx.api()``, which ``api_factory`` makes (tests hand in
their own). The API is opened lazily, so commands that never talk to the platform never
import the HTTP stack.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from rig.config import TlsSettings, flag, tls_settings

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
    insecure: bool = False  # --insecure: see tls
    env: Mapping[str, str] = field(default_factory=lambda: os.environ, repr=False)
    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    # The shell's selection; one-shot commands leave these empty.
    network: str | None = None
    app: str | None = None
    in_shell: bool = False  # run by the rig shell (whose history masks secrets)
    api_factory: Callable[[Context], Api] | None = field(default=None, repr=False)
    _tls: TlsSettings | None = field(default=None, repr=False)
    _client: ApiClient | None = field(default=None, repr=False)
    _api: Api | None = field(default=None, repr=False)
    _on_close: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @classmethod
    def from_args(
        cls,
        args: argparse.Namespace,
        *,
        env: Mapping[str, str] | None = None,
        stdin: IO[str] | None = None,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
    ) -> Context:
        """The context for global options ``args`` in environment ``env`` (default: this
        process's); colour only when its own ``stdout`` is a terminal."""
        env = os.environ if env is None else env
        stdout = stdout or sys.stdout
        plain = flag(env, "RIG_PLAIN") or bool(getattr(args, "plain", False))
        no_color = plain or bool(getattr(args, "no_color", False)) or "NO_COLOR" in env
        return cls(
            output=getattr(args, "output", None) or "table",
            color=not no_color and stdout.isatty(),
            plain=plain,
            verbose=getattr(args, "verbose", 0) or 0,
            context_name=getattr(args, "context", None) or env.get("RIG_CONTEXT") or None,
            api_url=getattr(args, "api", None) or env.get("RIG_API") or None,
            insecure=bool(getattr(args, "insecure", False)),
            env=env,
            stdin=stdin or sys.stdin,
            stdout=stdout,
            stderr=stderr or sys.stderr,
        )

    @property
    def tls(self) -> TlsSettings:
        """How this command connects, from ``--insecure`` and its environment (``RIG_INSECURE``,
        ``RIG_CA_BUNDLE``, ``RIG_TIMEOUT``); read when first needed, so a bad ``RIG_TIMEOUT``
        fails only a command that connects."""
        if self._tls is None:
            self._tls = tls_settings(self.env, insecure=self.insecure)
        return self._tls

    @property
    def json(self) -> bool:
        return self.output == "json"

    @property
    def interactive(self) -> bool:
        """True when a person can answer a prompt (stdin and stderr are terminals)."""
        return self.stdin.isatty() and self.stderr.isatty()

    def api(self) -> Api:
        """The platform's API (:mod:`rig.api`) for this command's login, opened on first use
        by ``api_factory`` (default: the stored login's, :func:`open_api`)."""
        if self._api is None:
            self._api = (self.api_factory or open_api)(self)
            self._client = self._api.client
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


def open_api(ctx: Context) -> Api:
    """The API for ``ctx``'s login: its context's stored tokens, or ``RIG_TOKEN``."""
    from rig.api.client import Api
    from rig.transport.session import open_client

    return Api(open_client(ctx))
