"""Vars and secrets: ``create``, ``list`` and ``delete`` for both, at app or network scope.

The two differ only in the API path, the table columns, and how careful rig is
with values: a secret's value is never printed, logged or put in a message,
and may come from stdin or a hidden prompt instead of argv.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rig import dotenv
from rig.cli import (
    CommandTree,
    add_restart_option,
    add_scope_options,
    add_yes_option,
    completes,
    restarts,
)
from rig.errors import NotFoundError, UsageError
from rig.output import Column, Result
from rig.output.releases import restart_notice
from rig.output.units import counted
from rig.prompt import ask_hidden, confirm, warn_secret_in_argv
from rig.targets import Scope, check_key, resolve_scope

if TYPE_CHECKING:
    from rig.context import Context

VALUE_MAX_BYTES = 64 * 1024
STDIN = "-"


def _value_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Kind:
    name: str
    secret: bool

    @property
    def plural(self) -> str:
        return self.name + "s"

    def count(self, n: int) -> str:
        return counted(n, self.name, self.plural)

    @property
    def columns(self) -> list[Column]:
        if self.secret:
            return [
                Column("key"),
                Column("digest"),
                Column("source"),
                Column("updated_at", "UPDATED"),
            ]
        return [
            Column("key"),
            Column("value", format=_value_cell),
            Column("source"),
            Column("updated_at", "UPDATED"),
        ]


VAR = Kind("var", secret=False)
SECRET = Kind("secret", secret=True)


def register(tree: CommandTree) -> None:
    for kind in (VAR, SECRET):
        _register_create(tree, kind)
        _register_list(tree, kind)
        _register_delete(tree, kind)


def _register_create(tree: CommandTree, kind: Kind) -> None:
    if kind.secret:
        examples = [
            "rig create secret DB_PASSWORD --app api        # hidden prompt, or stdin when piped",
            'printf %s "$TOKEN" | rig create secret API_TOKEN - --network shop',
            "rig create secret --from-file .env.secrets --app api",
        ]
        value_help = (
            "VALUE '-' or none: stdin, or a hidden prompt on a terminal (a VALUE itself stays "
            "in shell history and shows in ps: rig warns on a terminal)"
        )
    else:
        examples = [
            "rig create var LOG_LEVEL debug --app api",
            "rig create var LOG_LEVEL=debug WORKERS=4 --network shop",
            "rig create var --from-file .env --app api",
        ]
        value_help = "VALUE '-': read it from stdin"
    parser = tree.add(
        f"create {kind.name}",
        partial(create, kind),
        f"set {kind.plural} of an app or network",
        examples=examples,
        secret=kind.secret,
    )
    parser.add_argument(
        "items",
        nargs="*",
        metavar="KEY [VALUE] | KEY=VALUE",
        help=f"a key and its value, or several KEY=VALUE pairs; {value_help}",
    )
    parser.add_argument(
        "--from-file",
        "-f",
        metavar="FILE",
        help="read KEY=VALUE lines from a .env file ('-': stdin)",
    )
    parser.add_argument(
        "--allow-empty",
        action="store_true",
        help="accept an empty value from stdin or the prompt (refused otherwise: an unset "
        "variable or a stray Enter is rarely meant)",
    )
    add_scope_options(parser, kind.plural)
    add_restart_option(parser)


def _register_list(tree: CommandTree, kind: Kind) -> None:
    shown = "digests (never values)" if kind.secret else "values"
    parser = tree.add(
        f"list {kind.plural}",
        partial(list_env, kind),
        f"list the {kind.plural} of an app or network, with {shown} and where each is set",
        examples=[
            f"rig list {kind.plural} --app api",
            f"rig list {kind.plural} --network shop -o json",
        ],
    )
    add_scope_options(parser, kind.plural)


def _register_delete(tree: CommandTree, kind: Kind) -> None:
    parser = tree.add(
        f"delete {kind.name}",
        partial(delete, kind),
        f"delete {kind.plural} of an app or network",
        examples=[
            f"rig delete {kind.name} LOG_LEVEL --app api",
            f"rig delete {kind.name} A B --network shop --yes",
        ],
    )
    completes(
        parser.add_argument("keys", nargs="+", metavar="KEY", help=f"the {kind.name} keys"),
        kind.name,
    )
    add_scope_options(parser, kind.plural)
    add_yes_option(parser)
    add_restart_option(parser)


def create(kind: Kind, ctx: Context, args: argparse.Namespace) -> Result:
    values = collect_values(kind, ctx, args.items, args.from_file, allow_empty=args.allow_empty)
    scope = resolve_scope(ctx, args)
    change = ctx.api().set_env(scope, kind.plural, values, restart=restarts(args))
    listing = change.rows
    keys = list(values)
    restart = restart_notice(scope, keys, change.releases, listing)
    return Result(
        data={**scope.to_json(), "set": keys, kind.plural: listing},
        message=f"Set {kind.count(len(keys))} on {scope.label}: {', '.join(keys)}{restart}",
        show_data=False,
    )


def list_env(kind: Kind, ctx: Context, args: argparse.Namespace) -> Result:
    scope = resolve_scope(ctx, args)
    rows = ctx.api().env(scope, kind.plural)
    columns = kind.columns
    if any("overrides" in row for row in rows):
        columns = [*columns[:-1], Column("overrides"), columns[-1]]
    return Result(data=rows, columns=columns, empty=f"(no {kind.plural} on {scope.label})")


def delete(kind: Kind, ctx: Context, args: argparse.Namespace) -> Result:
    keys = list(dict.fromkeys(check_key(k, kind.name) for k in args.keys))
    scope = resolve_scope(ctx, args)
    api = ctx.api()
    _check_deletable(kind, scope, keys, api.env(scope, kind.plural))
    confirm(
        ctx, f"delete {kind.count(len(keys))} from {scope.label}: {', '.join(keys)}", yes=args.yes
    )
    made = [
        release
        for key in keys
        for release in api.delete_env(scope, kind.plural, key, restart=restarts(args))
    ]
    restart = restart_notice(scope, keys, made)
    return Result(
        data={**scope.to_json(), "deleted": keys},
        message=f"Deleted {kind.count(len(keys))} from {scope.label}: {', '.join(keys)}{restart}",
        show_data=False,
    )


def _check_deletable(kind: Kind, scope: Scope, keys: list[str], rows: list[dict[str, Any]]) -> None:
    """Every key must be set at this very scope, so that nothing is deleted unless all can be."""
    sources = {row.get("key"): row.get("source", scope.kind) for row in rows}
    missing = [k for k in keys if k not in sources]
    inherited = [k for k in keys if k in sources and sources[k] != scope.kind]
    if missing:
        from rig.suggest import hint_with_suggestion

        hint = f"run `rig list {kind.plural} {scope.flags}` to see them"
        raise NotFoundError(
            f"no {kind.name} {', '.join(missing)} on {scope.label}; nothing was deleted",
            hint=hint_with_suggestion(missing[0], map(str, sources), hint)
            if len(missing) == 1
            else hint,
        )
    if inherited:
        raise NotFoundError(
            f"{', '.join(inherited)} set on network {scope.network}, not on app {scope.app}; "
            "nothing was deleted",
            hint=f"to delete for the whole network: "
            f"`rig delete {kind.name} {' '.join(inherited)} --network {scope.network}`",
        )


def collect_values(
    kind: Kind, ctx: Context, items: list[str], from_file: str | None, *, allow_empty: bool = False
) -> dict[str, str]:
    """The keys and values to set, from argv, a .env file, stdin or a hidden prompt; validated."""
    values: dict[str, str] = {}
    if from_file:
        values.update(_read_env_file(ctx, from_file))
    if items:
        values.update(
            _values_from_items(
                kind, ctx, items, stdin_taken=from_file == STDIN, allow_empty=allow_empty
            )
        )
    elif not from_file:
        raise UsageError(
            f"no {kind.name} given",
            hint=f"rig create {kind.name} KEY VALUE, KEY=VALUE ... or --from-file FILE",
        )
    for key, value in values.items():
        check_key(key, kind.name)
        if len(value.encode("utf-8", "surrogatepass")) > VALUE_MAX_BYTES:
            raise UsageError(
                f"the value of {key} is over 64 KiB", hint="keep values to 64 KiB or less"
            )
    return values


def _values_from_items(
    kind: Kind, ctx: Context, items: list[str], *, stdin_taken: bool, allow_empty: bool
) -> dict[str, str]:
    usage_hint = f"rig create {kind.name} KEY VALUE, or KEY=VALUE ..."
    if "=" in items[0]:
        pairs = {}
        for item in items:
            key, sep, value = item.partition("=")
            if not sep:
                raise UsageError(f"expected KEY=VALUE, got {_key_only(item)}", hint=usage_hint)
            pairs[key] = value
        if kind.secret:
            _warn_value_in_argv(ctx, list(pairs))
        return pairs
    key = items[0]
    if len(items) > 2:
        raise UsageError(
            f"too many arguments after {_key_only(key)}",
            hint=usage_hint + " (quote values with spaces)",
        )
    if len(items) == 2 and items[1] != STDIN:
        if kind.secret:
            _warn_value_in_argv(ctx, [key])
        return {key: items[1]}
    if len(items) == 1 and not kind.secret:
        raise UsageError(
            f"no value given for {_key_only(key)}", hint=usage_hint + " ('-' reads stdin)"
        )
    if stdin_taken:
        raise UsageError(
            "stdin cannot give both --from-file - and a value", hint="pass one of them"
        )
    check_key(key, kind.name)
    value = _read_value(kind, ctx, key, prompt=len(items) == 1)
    if not value and not allow_empty:
        raise UsageError(
            f"empty value for {key}; nothing was changed",
            hint=f"give a value, or pass --allow-empty to set an empty {kind.name}",
        )
    return {key: value}


def _warn_value_in_argv(ctx: Context, keys: list[str]) -> None:
    instead = (
        f"`rig create secret {keys[0]} -` reads the value from stdin, "
        f"`rig create secret {keys[0]}` prompts for it"
        if len(keys) == 1
        else "`rig create secret --from-file FILE` reads them from a file or stdin"
    )
    what = "a secret's value" if len(keys) == 1 else "secrets' values"
    warn_secret_in_argv(ctx, what, instead)


def _read_value(kind: Kind, ctx: Context, key: str, *, prompt: bool) -> str:
    """A single value: a hidden prompt (twice) on a terminal, else the whole of stdin."""
    if prompt and ctx.interactive:
        return ask_hidden(ctx, f"Value for {key}: ", confirm_prompt=f"Repeat value for {key}: ")
    if ctx.stdin.isatty() and not ctx.interactive:
        raise UsageError(f"no value given for {key}", hint="pass the value or pipe it on stdin")
    value = ctx.stdin.read()
    return value[:-1] if value.endswith("\n") else value


def _read_env_file(ctx: Context, name: str) -> dict[str, str]:
    try:
        text = ctx.stdin.read() if name == STDIN else Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(
            f"no such file: {name}", hint="check the path given to --from-file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise UsageError(f"cannot read {name}: {reason}") from None
    try:
        return dotenv.parse(text)
    except dotenv.DotenvError as exc:
        raise UsageError(
            f"{name}: {exc}", hint="lines must be KEY=VALUE; quote values with # or newlines"
        ) from None


def _key_only(text: str) -> str:
    """The part of an argument that is safe to repeat in a message: never a value."""
    key = text.partition("=")[0]
    return repr(key if len(key) <= 40 else key[:37] + "...")
