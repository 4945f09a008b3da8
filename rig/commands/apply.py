"""``apply -f FILE`` and ``diff -f FILE``: make the platform match a configuration document.

The document model, and how it is compared with the platform, is ``rig.configdoc``;
``details app|network NAME --export FILE`` writes one.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from rig import configdoc
from rig.cli import CommandTree
from rig.configdoc import Change, Document
from rig.errors import ExitCode
from rig.output import Result
from rig.targets import Scope

if TYPE_CHECKING:
    from rig.api.client import Api
    from rig.context import Context

STDIN = "-"
DRIFT = ExitCode.FAILURE


def register(tree: CommandTree) -> None:
    parser = tree.add(
        "apply",
        apply,
        "make networks, apps, vars and secret keys match a configuration file",
        examples=[
            "rig apply -f shop.yaml --dry-run   # print the plan, change nothing",
            "rig apply -f shop.yaml",
            "rig details app api --export api.yaml && $EDITOR api.yaml && rig apply -f api.yaml",
        ],
        description="Make the platform match a configuration file (YAML or JSON, as written by "
        "`rig details app|network NAME --export FILE`): create missing networks and apps, set "
        "vars, and delete vars and secrets the file does not list. A secret the file names "
        "but the platform lacks is reported, never created empty; apply then exits 1. "
        "Running it again changes nothing.",
    )
    _file_option(parser)
    parser.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    parser.add_argument(
        "--prune",
        action="store_true",
        help="also delete apps of the network that the file does not list",
    )

    parser = tree.add(
        "diff",
        diff,
        "show drift between a configuration file and the platform (exit 1 when there is some)",
        examples=[
            "rig diff -f shop.yaml",
            "rig diff -f shop.yaml -o json   # in CI: exit 1 on drift",
        ],
        description="Compare a configuration file with the platform, both ways: what the file "
        "has that the platform lacks, what the platform has that the file lacks, and values "
        "that differ (secrets by digest). Exit 0 for no drift, 1 for drift.",
    )
    _file_option(parser)


def _file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--file",
        required=True,
        metavar="FILE",
        help="the configuration file: *.yaml, *.yml or *.json ('-': YAML or JSON on stdin)",
    )


def _load(ctx: Context, name: str) -> Document:
    if name == STDIN:
        return configdoc.load("stdin", ctx.stdin.read())
    return configdoc.load(name)


def _current(api: Api, doc: Document) -> Document | None:
    return configdoc.fetch(api, doc.kind, doc.network, [a.name for a in doc.apps])


def diff(ctx: Context, args: argparse.Namespace) -> Result:
    doc = _load(ctx, args.file)
    changes = configdoc.compare(doc, _current(ctx.api(), doc))
    message = (
        f"No drift: {doc.label} matches {args.file}."
        if not changes
        else f"Drift between {args.file} and the platform ({doc.label}):\n"
        + "\n".join(describe(c) for c in changes)
    )
    return Result(
        data={"file": args.file, "drift": bool(changes), "changes": [c.to_json() for c in changes]},
        message=message,
        show_data=False,
        exit_code=DRIFT if changes else ExitCode.OK,
    )


def apply(ctx: Context, args: argparse.Namespace) -> Result:
    doc = _load(ctx, args.file)
    api = ctx.api()
    changes = configdoc.compare(doc, _current(api, doc))
    planned = [c for c in changes if _actionable(c, args.prune)]
    if not args.dry_run:
        for call in calls(planned):
            call.perform(api)
    left = [c for c in changes if c not in planned]
    data = {
        "file": args.file,
        "dry_run": args.dry_run,
        "changes": [c.to_json() for c in planned],
        "not_applied": [c.to_json() for c in left],
    }
    attention = [c for c in left if c.needs_attention]
    return Result(
        data=data,
        message=_apply_message(doc, args, planned, left),
        show_data=False,
        exit_code=ExitCode.FAILURE if attention else ExitCode.OK,
    )


def _actionable(change: Change, prune: bool) -> bool:
    if change.needs_attention:
        return False
    return change.action != "extra" or prune


def _apply_message(
    doc: Document, args: argparse.Namespace, planned: list[Change], left: list[Change]
) -> str:
    lines: list[str] = []
    if not planned and not left:
        return f"Nothing to do: {doc.label} already matches {args.file}."
    if planned:
        verb = "Would apply" if args.dry_run else "Applied"
        lines.append(f"{verb} {_count(len(planned), 'change')} to {doc.label}:")
        lines += [describe(c) for c in planned]
    if left:
        lines.append(f"Not applied ({len(left)}):")
        lines += [describe(c) + _remedy(c) for c in left]
    return "\n".join(lines)


def _remedy(change: Change) -> str:
    scope = Scope(change.network, change.app)
    if change.action == "extra":
        return " (kept; --prune deletes it)"
    if change.needs_attention:
        return f" (set it with `rig create secret {change.key} {scope.flags}`)"
    return ""


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe(change: Change) -> str:
    """One line for people: a sign, then words (the sign is never the only carrier of meaning)."""
    scope = Scope(change.network, change.app)
    where = "" if change.kind in ("network", "app") else f" on {scope.label}"
    name = change.key or (change.app if change.kind == "app" else change.network)
    what = f"{change.kind} {name}"
    if change.action == "create":
        return f"  + create {what}"
    if change.action == "extra":
        return f"  - {what} exists only on the platform"
    if change.action == "add":
        return f"  + add {what} = {_shown(change.new)}{where}"
    if change.action == "change":
        return f"  ~ change {what}: {_shown(change.old)} -> {_shown(change.new)}{where}"
    if change.action == "remove":
        return f"  - remove {what}{where} (not in the file)"
    if change.action == "missing":
        return f"  ! {what} is missing{where}: it needs a value"
    digests = f"digest {change.old} on the platform, {change.new} in the file"
    return f"  ! {what} differs{where}: {digests}"


def _shown(value: str | None) -> str:
    text = repr(value or "")
    return text if len(text) <= 50 else text[:47] + "..."


@dataclass(frozen=True)
class Call:
    """One API call of a plan: ``action`` is ``create network``, ``create app``, ``delete app``,
    ``delete`` (a var or secret ``key`` of ``kind``) or ``set`` (``values`` of the vars)."""

    action: str
    network: str
    app: str | None = None
    kind: str = ""
    key: str = ""
    values: dict[str, str] | None = None
    restart: bool = True

    def perform(self, api: Api) -> None:
        where = Scope(self.network, self.app)
        if self.action == "create network":
            api.create_network(self.network)
        elif self.action == "create app":
            api.create_app(self.network, self.app)
        elif self.action == "delete app":
            api.delete_app(self.network, str(self.app))
        elif self.action == "delete":
            api.delete_env(where, self.kind, self.key, restart=self.restart)
        else:
            api.set_env(where, "vars", self.values or {}, restart=self.restart)


def calls(changes: Iterable[Change]) -> list[Call]:
    """The requests that settle ``changes``: networks and apps first, then per scope the
    deletions and one PATCH of the vars.

    Only the last request of a scope restarts its apps (``restart=false`` on the others),
    so applying many keys makes one release, not one per key.
    """
    out: list[Call] = []
    scopes: dict[tuple[str, str | None], list[Change]] = {}
    for change in changes:
        if change.action == "create" and change.kind == "network":
            out.append(Call("create network", change.network))
        elif change.action == "create":
            out.append(Call("create app", change.network, change.app))
        elif change.action == "extra":
            out.append(Call("delete app", change.network, change.app))
        else:
            scopes.setdefault((change.network, change.app), []).append(change)
    for (network, app), group in scopes.items():
        requests = [
            Call("delete", network, app, f"{c.kind}s", str(c.key))
            for c in group
            if c.action == "remove"
        ]
        values = {str(c.key): str(c.new) for c in group if c.action in ("add", "change")}
        if values:
            requests.append(Call("set", network, app, values=values))
        out += [replace(r, restart=False) for r in requests[:-1]] + requests[-1:]
    return out
