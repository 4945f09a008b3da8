"""What a command acts on: names and keys checked against the platform's rules, and which
network or app a command means.

Every command that takes ``--network``/``--app`` resolves them here, so the
rules are the same everywhere. A flag wins; else, from the first of these that
names a network or an app (which then gives both):

1. the shell's selection (``ctx.network``/``ctx.app``, set by ``use``);
2. the environment, ``RIG_NETWORK`` and ``RIG_APP``;
3. the project file, the nearest ``rig.toml`` (``[app] name``, ``network``).

An app without a network is looked up among the user's apps.
"""

from __future__ import annotations

import argparse
import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rig.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from rig.context import Context

NAME_MAX = 63
KEY_MAX = 255
RESERVED_KEYS = frozenset({"PORT"})
_NAME_RE = re.compile(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?")
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def name_problem(name: str) -> str | None:
    """Why ``name`` is not an RFC 1035 label, or None."""
    if not name:
        return "must not be empty"
    if len(name) > NAME_MAX:
        return f"must be at most {NAME_MAX} characters"
    if _NAME_RE.fullmatch(name):
        return None
    if name.lower() != name:
        return "must be lower case"
    if not name[0].isascii() or not name[0].isalpha():
        return "must start with a letter"
    if name.endswith("-"):
        return "must end with a letter or digit"
    return "may contain only the letters a-z, digits and '-'"


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a usable var or secret key, or None."""
    if not key:
        return "must not be empty"
    if len(key) > KEY_MAX:
        return f"must be at most {KEY_MAX} characters"
    if not _KEY_RE.fullmatch(key):
        return "must start with a letter or '_' and contain only letters, digits and '_'"
    if key in RESERVED_KEYS:
        return "is reserved (the platform sets it)"
    return None


def check_name(kind: str, name: str) -> str:
    problem = name_problem(name)
    if problem:
        raise UsageError(
            f"invalid {kind} name {_shown(name)}: {problem}",
            hint="use 1-63 characters of a-z, 0-9 and '-', starting with a letter, e.g. my-project",
        )
    return name


def check_key(key: str, kind: str = "var") -> str:
    problem = key_problem(key)
    if problem:
        raise UsageError(f"invalid {kind} key {_shown(key)}: {problem}", hint="e.g. DATABASE_URL")
    return key


def _shown(text: str, limit: int = 72) -> str:
    """``text`` quoted for an error message, shortened so argv mistakes stay one line: cut on
    its escaped form, since one control or astral character can take ten escaped places."""
    if len(shown := repr(text)) <= limit:
        return shown
    cut = text[:limit]
    while len(repr(cut)) > limit - 3:
        cut = cut[:-1]
    return repr(cut) + "..."


FLAG = "flag"
SELECTION = "shell selection"
ENVIRONMENT = "environment"
PROJECT = "project file"


@dataclass(frozen=True)
class Defaults:
    """The network and app a command means when no flag names them, and where they came from."""

    network: str | None = None
    app: str | None = None
    source: str = ""
    detail: str = ""


def defaults(ctx: Context) -> Defaults:
    """The shell's selection, else ``RIG_NETWORK``/``RIG_APP``, else the nearest ``rig.toml``."""
    if ctx.network or ctx.app:
        return Defaults(ctx.network, ctx.app, SELECTION, "set with `use` in the shell")
    return configured(ctx.env)


def configured(env: Mapping[str, str]) -> Defaults:
    """``RIG_NETWORK``/``RIG_APP`` in ``env``, else the nearest ``rig.toml``: the defaults that
    hold outside the shell, where one-shot ``rig status`` alone finds its app."""
    network, app = env.get("RIG_NETWORK") or None, env.get("RIG_APP") or None
    if network or app:
        return Defaults(network, app, ENVIRONMENT, "RIG_NETWORK / RIG_APP")
    from rig.project import find_project

    project = find_project()
    if project and (project.network or project.app):
        return Defaults(project.network, project.app, PROJECT, str(project.path))
    return Defaults()


def network_arg(ctx: Context, args: argparse.Namespace) -> str | None:
    """``--network`` if given, else the default network (see :func:`defaults`); validated."""
    network = getattr(args, "network", None) or defaults(ctx).network
    return check_name("network", network) if network else None


def network_ref(ctx: Context, args: argparse.Namespace, name: str | None, command: str) -> str:
    """The network a ``rig COMMAND [NAME]`` means: ``name``, else the default network, else
    the network of the default app (only ``RIG_APP`` set: that app's network)."""
    network = _once("network", name, args)
    network = check_name("network", network) if network else network_arg(ctx, args)
    app = None if network else defaults(ctx).app
    if app:
        network = find_app(ctx, app, None)
    if not network:
        raise UsageError(
            "say which network",
            hint=f"rig {command} NAME (or `use network NET` in the shell, or `rig init` for "
            "a rig.toml)",
        )
    return network


def default_network(ctx: Context, args: argparse.Namespace) -> str:
    """The network for a new app: ``--network``, the selection, or the user's only network."""
    network = network_arg(ctx, args)
    if network:
        return network
    names = [n["name"] for n in ctx.api().networks()]
    if len(names) == 1:
        return str(names[0])
    if not names:
        raise UsageError(
            "you have no networks yet", hint="create one with `rig create network NAME`"
        )
    raise UsageError(
        f"which network? You have {len(names)}: {', '.join(names)}",
        hint="pass --network NET",
    )


def find_app(ctx: Context, app: str, network: str | None) -> str:
    """The network of app ``app``: ``network`` if given, else found among the user's apps."""
    check_name("app", app)
    if network:
        return check_name("network", network)
    matches = ctx.api().apps(name=app)
    networks = sorted({str(a["network"]) for a in matches if a.get("name") == app})
    if not networks:
        raise NotFoundError(f"app {app!r} not found", hint=_app_hint(ctx, app))
    if len(networks) > 1:
        raise UsageError(
            f"app {app!r} exists in {len(networks)} networks: {', '.join(networks)}",
            hint="pass --network NET to say which",
        )
    return networks[0]


def _app_hint(ctx: Context, app: str) -> str:
    """A did-you-mean from the user's app names (one more request, on the error path only)."""
    from rig.suggest import hint_with_suggestion

    names = {str(a.get("name")) for a in ctx.api().apps()}
    return hint_with_suggestion(app, names, "run `rig list apps` to see your apps")


def app_network(ctx: Context, args: argparse.Namespace, app: str) -> str:
    """The network of ``app`` for a command: ``--network``, the default network, or looked up."""
    return find_app(ctx, app, getattr(args, "network", None) or defaults(ctx).network)


def default_app(ctx: Context, args: argparse.Namespace) -> str | None:
    """``--app`` if given, else the default app (see :func:`defaults`)."""
    return getattr(args, "app", None) or defaults(ctx).app


@dataclass(frozen=True)
class Scope:
    """A network, or an app within its network: where vars and secrets are set."""

    network: str
    app: str | None = None

    @property
    def kind(self) -> str:
        return "app" if self.app else "network"

    @property
    def label(self) -> str:
        return f"app {self.app} (network {self.network})" if self.app else f"network {self.network}"

    @property
    def flags(self) -> str:
        return (
            f"--app {self.app} --network {self.network}"
            if self.app
            else f"--network {self.network}"
        )

    def to_json(self) -> dict[str, Any]:
        return {"network": self.network, "app": self.app}


def resolve_scope(ctx: Context, args: argparse.Namespace) -> Scope:
    """The app or network named by ``--app``/``--network``, else by :func:`defaults`."""
    app = getattr(args, "app", None)
    network = getattr(args, "network", None)
    if app:
        return Scope(app_network(ctx, args, app), app)
    if network:
        return Scope(check_name("network", network))
    chosen = defaults(ctx)
    if chosen.app:
        return Scope(find_app(ctx, chosen.app, chosen.network), chosen.app)
    if chosen.network:
        return Scope(check_name("network", chosen.network))
    raise UsageError(
        "say which app or network",
        hint="pass --app APP or --network NET (or name them in rig.toml: `rig init`)",
    )


def _once(kind: str, name: str | None, args: argparse.Namespace) -> str | None:
    """``name``, the command's NAME, unless ``--app``/``--network`` names another one."""
    flag = getattr(args, kind, None)
    if name and flag and flag != name:
        raise UsageError(
            f"two {kind}s named: {name!r} and --{kind} {flag!r}",
            hint=f"name the {kind} once, as NAME or with --{kind}",
        )
    return name


class AppRef(Scope):
    """A :class:`Scope` that names an app (no dataclass of its own: start-up time)."""

    app: str


def app_ref(ctx: Context, args: argparse.Namespace, name: str | None = None) -> AppRef:
    """The app named by ``name``, ``--app`` or the shell's selection, with its network."""
    app = _once("app", name, args) or default_app(ctx, args)
    if not app:
        how = f"rig {args.command} NAME" if hasattr(args, "name") else "pass --app APP"
        raise UsageError(
            "say which app",
            hint=f"{how} (or `use app APP` in the shell, or `rig init` for a rig.toml)",
        )
    app = check_name("app", app)
    return AppRef(app_network(ctx, args, app), app)


def selected_network(ctx: Context, name: str) -> str:
    """Network ``name`` once the platform has said it exists: what the shell's ``use`` selects."""
    check_name("network", name)
    ctx.api().network(name)
    return name


def selected_app(ctx: Context, name: str, network: str | None) -> tuple[str, str]:
    """The (network, app) that ``name`` (``APP`` or ``NET/APP``) means for the shell's ``use``
    and ``watch``: in the selected ``network`` first, else found by name."""
    where, _, app = name.rpartition("/")
    check_name("app", app)
    if where:
        check_name("network", where)
        ctx.api().app(where, app)
        return where, app
    if network:
        with contextlib.suppress(NotFoundError):
            ctx.api().app(network, app)
            return network, app
    return find_app(ctx, app, None), app
