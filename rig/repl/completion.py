"""Names for Tab completion: a cache swapped under a lock, refreshed by a background thread.

As in pgcli, a keystroke only ever reads the last snapshot; the refresher
thread does all the I/O. It refreshes at once after :meth:`NameCache.invalidate`
(called after commands that create or delete something, and by the shell
socket's status events), polls while the shell is idle — rarely while the
socket is connected, every second as the fallback while it is down — and
pauses while a foreground command runs so it never races that command's token
refresh.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from rig.api.client import At
from rig.errors import AuthError, NotFoundError, RigError, UnreachableError
from rig.repl import status
from rig.repl.selection import Selection

POLL_INTERVAL = 1.0
LIVE_POLL_INTERVAL = 15.0  # status events cover networks, apps and releases; not var keys

# (network, app or None): a place that has vars and secrets.
if TYPE_CHECKING:
    from rig.api.client import Api

ScopeKey = tuple[str, str | None]


@dataclass(frozen=True)
class Names:
    networks: tuple[str, ...] = ()
    apps: tuple[tuple[str, str], ...] = ()  # (network, app)
    keys: Mapping[tuple[str, str, str | None], tuple[str, ...]] = field(default_factory=dict)
    contexts: tuple[str, ...] = ()
    releases: Mapping[tuple[str, str], tuple[int, ...]] = field(default_factory=dict)

    def apps_in(self, network: str) -> list[str]:
        return [app for net, app in self.apps if net == network]

    def app_names(self, first_network: str | None = None) -> list[str]:
        """Every app name, those of ``first_network`` first, each once."""
        first = self.apps_in(first_network) if first_network else []
        rest = sorted({app for _, app in self.apps} - set(first))
        return first + rest

    def all_words(self) -> frozenset[str]:
        words = {*self.networks, *(app for _, app in self.apps), *self.contexts}
        for keys in self.keys.values():
            words.update(keys)
        return frozenset(words)


Fetch = Callable[[frozenset[ScopeKey]], Names]


class NameCache:
    def __init__(
        self,
        fetch: Fetch,
        *,
        connection: status.Connection | None = None,
        interval: float | None = None,
    ) -> None:
        self._fetch = fetch
        self.connection = connection or status.Connection()
        self.interval = POLL_INTERVAL if interval is None else interval
        self._lock = threading.Lock()
        self._names = Names()
        self._error = ""
        self._scopes: set[ScopeKey] = set()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: bool | None = None  # the shell socket: None without one

    @property
    def names(self) -> Names:
        with self._lock:
            return self._names

    @property
    def error(self) -> str:
        with self._lock:
            return self._error

    def want(self, scope: ScopeKey) -> bool:
        """Ask for ``scope``'s keys from the next refresh on; True if they are already cached."""
        with self._lock:
            if scope in self._scopes:
                return True
            self._scopes.add(scope)
        self.invalidate()
        return False

    def set_scopes(self, scopes: Iterable[ScopeKey]) -> None:
        with self._lock:
            self._scopes = set(scopes)

    def invalidate(self) -> None:
        """Refresh as soon as the shell is idle (now, if it is)."""
        self._wake.set()

    def follow_socket(self, connected: bool | None) -> None:
        """The shell's socket is connected (its events invalidate: poll rarely), down (poll
        every ``interval``; it alone says when it is connected again), or gone (None)."""
        was, self._live = self._live, connected
        if was and not connected:
            self.invalidate()

    def busy(self) -> None:
        self._idle.clear()

    def idle(self) -> None:
        self._idle.set()

    def clear(self) -> None:
        with self._lock:
            self._names, self._error, self._scopes = Names(), "", set()
        self.invalidate()

    def refresh(self) -> None:
        """Fetch now, in the calling thread, and swap the result in."""
        with self._lock:
            scopes = frozenset(self._scopes)
        try:
            names = self._fetch(scopes)
        except RigError as exc:
            with self._lock:
                self._error = exc.message
            state = _state_for(exc)
            if self._live is None or state == status.LOGGED_OUT:  # else the socket's word stands
                self.connection.set(state, exc.message)
            return
        with self._lock:
            self._names, self._error = names, ""
        if self._live is None:
            self.connection.set(status.CONNECTED)

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="rig-names", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        self._idle.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._idle.wait()
            if self._stopped.is_set():
                return
            self._wake.clear()
            try:
                self.refresh()
            except Exception as exc:  # a bug must not kill completion for the whole session
                self.connection.set(status.UNREACHABLE, f"{type(exc).__name__}: {exc}")
            self._wake.wait(LIVE_POLL_INTERVAL if self._live else self.interval)


def _state_for(error: RigError) -> str:
    if isinstance(error, AuthError):
        return status.LOGGED_OUT
    if isinstance(error, UnreachableError):
        return status.UNREACHABLE
    return status.RECONNECTING


def fetch_names(api_factory: Callable[[], Api], contexts: Callable[[], Sequence[str]]) -> Fetch:
    """A fetch function over the API: networks, apps, and the keys of the wanted scopes."""

    def fetch(scopes: frozenset[ScopeKey]) -> Names:
        context_names = tuple(contexts())
        api = api_factory()
        try:
            networks = tuple(str(n["name"]) for n in api.networks())
            apps = tuple((str(a["network"]), str(a["name"])) for a in api.apps())
            keys: dict[tuple[str, str, str | None], tuple[str, ...]] = {}
            releases: dict[tuple[str, str], tuple[int, ...]] = {}
            for network, app in scopes:
                where = At(network, app)
                try:
                    for kind in ("var", "secret"):
                        items = api.env(where, f"{kind}s")
                        keys[(kind, network, app)] = tuple(str(i["key"]) for i in items)
                    if app:
                        numbers = (int(r["number"]) for r in api.releases(network, app))
                        releases[(network, app)] = tuple(numbers)
                except NotFoundError:
                    continue
        finally:
            api.close()
        return Names(networks, apps, keys, context_names, releases)

    return fetch


class CompletionHost(Protocol):
    cache: NameCache
    selection: Selection


def _names(host: CompletionHost) -> Names:
    from cmd2 import CompletionError

    names = host.cache.names
    error = host.cache.error
    if error and not names.networks and not names.contexts:
        raise CompletionError(f"no names to complete: {error}")
    return names


def _token(arg_tokens: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = arg_tokens.get(name) or []
    return values[0] if values else None


def _choices(values: Iterable[str]) -> Any:
    from cmd2 import Choices

    return Choices.from_values(list(dict.fromkeys(values)), is_sorted=True)


def network_choices(host: CompletionHost) -> Any:
    return _choices(_names(host).networks)


def app_choices(host: CompletionHost, arg_tokens: Mapping[str, Sequence[str]]) -> Any:
    names = _names(host)
    network = _token(arg_tokens, "network")
    if network:
        return _choices(names.apps_in(network))
    return _choices(names.app_names(host.selection.network))


def qualified_app_choices(host: CompletionHost) -> Any:
    """For ``use app``: the selected network's apps, then NET/APP for every app."""
    names = _names(host)
    local = names.apps_in(host.selection.network) if host.selection.network else []
    return _choices([*local, *(f"{net}/{app}" for net, app in names.apps)])


def context_choices(host: CompletionHost) -> Any:
    return _choices(_names(host).contexts)


def _scope(
    host: CompletionHost, arg_tokens: Mapping[str, Sequence[str]], names: Names, what: str
) -> ScopeKey:
    """The (network, app) that ``--network``/``--app`` or the selection name."""
    from cmd2 import CompletionError

    app = _token(arg_tokens, "app") or (
        None if _token(arg_tokens, "network") else host.selection.app
    )
    network = _token(arg_tokens, "network") or host.selection.network
    if network is None and app is not None:
        networks = [net for net, name in names.apps if name == app]
        network = networks[0] if len(networks) == 1 else None
    if network is None:
        raise CompletionError(f"pass --app or --network (or `use` one) to complete {what}")
    return network, app


def _key_choices(host: CompletionHost, arg_tokens: Mapping[str, Sequence[str]], kind: str) -> Any:
    from cmd2 import CompletionError

    names = _names(host)
    scope = _scope(host, arg_tokens, names, f"{kind} keys")
    if not host.cache.want(scope) or (kind, *scope) not in names.keys:
        raise CompletionError(
            f"fetching the {kind} keys of {scope[1] or scope[0]}... press Tab again"
        )
    return _choices(names.keys[(kind, *scope)])


def release_choices(host: CompletionHost, arg_tokens: Mapping[str, Sequence[str]]) -> Any:
    """An app's release numbers, newest first."""
    from cmd2 import CompletionError

    names = _names(host)
    network, app = _scope(host, arg_tokens, names, "release numbers")
    if app is None:
        raise CompletionError("pass --app (or `use app APP`) to complete release numbers")
    if not host.cache.want((network, app)) or (network, app) not in names.releases:
        raise CompletionError(f"fetching the releases of {app}... press Tab again")
    return _choices(str(number) for number in names.releases[(network, app)])


def var_choices(host: CompletionHost, arg_tokens: Mapping[str, Sequence[str]]) -> Any:
    return _key_choices(host, arg_tokens, "var")


def secret_choices(host: CompletionHost, arg_tokens: Mapping[str, Sequence[str]]) -> Any:
    return _key_choices(host, arg_tokens, "secret")


PROVIDERS: dict[str, Callable[..., Any]] = {
    "network": network_choices,
    "app": app_choices,
    "context": context_choices,
    "var": var_choices,
    "secret": secret_choices,
    "release": release_choices,
}


def walk_parsers(parser: argparse.ArgumentParser) -> Iterable[argparse.ArgumentParser]:
    """``parser`` and every subcommand parser below it."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from walk_parsers(sub)


def attach_providers(parser: argparse.ArgumentParser) -> None:
    """Wire every argument tagged with ``complete_kind`` to the provider for its kind."""
    for p in walk_parsers(parser):
        for action in p._actions:
            provider = PROVIDERS.get(getattr(action, "complete_kind", ""))
            if provider is not None:
                action.set_choices_provider(provider)  # type: ignore[attr-defined]
