"""Login contexts: ``context list | use | delete`` (and ``list contexts``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rig.cli import CommandTree, completes
from rig.config import Contexts
from rig.output import Column, Result

if TYPE_CHECKING:
    from rig.context import Context

COLUMNS = [
    Column("current", "", format=lambda v: "*" if v else ""),
    Column("name"),
    Column("api", "API"),
    Column("user"),
    Column("store"),
    Column("logged_in"),
]


def register(tree: CommandTree) -> None:
    tree.group("context", "manage login contexts; show what commands here run against")
    examples = ["rig context list", "rig list contexts -o json"]
    tree.add(
        "context list",
        list_contexts,
        "list login contexts (* marks the current one)",
        examples=examples,
    )
    tree.add(
        "list contexts",
        list_contexts,
        "list login contexts (* marks the current one)",
        examples=examples,
    )

    parser = tree.add(
        "context use",
        use_context,
        "make a context the current one",
        examples=["rig context use local"],
    )
    completes(parser.add_argument("name", metavar="NAME", help="the context"), "context")

    parser = tree.add(
        "context delete",
        delete_context,
        "log out of a context and forget it",
        examples=["rig context delete staging"],
    )
    completes(parser.add_argument("name", metavar="NAME", help="the context"), "context")


def list_contexts(ctx: Context, args: argparse.Namespace) -> Result:
    from rig.api.auth import has_session

    contexts = Contexts.load()
    rows = [
        {
            "name": name,
            "current": name == contexts.current,
            "api": entry.api,
            "user": entry.user,
            "store": entry.store,
            "logged_in": has_session(name, entry),
        }
        for name, entry in sorted(contexts.contexts.items())
    ]
    return Result(
        data=rows, columns=COLUMNS, empty="(no contexts; run `rig login` or `rig local start`)"
    )


def use_context(ctx: Context, args: argparse.Namespace) -> Result:
    contexts = Contexts.load()
    entry = contexts.require(args.name)
    contexts.current = args.name
    contexts.save()
    return Result(
        data={"context": args.name, "api": entry.api, "user": entry.user},
        message=f"Now using context {args.name} ({entry.user or '?'} at {entry.api})",
        show_data=False,
    )


def delete_context(ctx: Context, args: argparse.Namespace) -> Result:
    from rig.api.auth import delete_context as session_delete

    Contexts.load().require(args.name)
    result = session_delete(args.name)
    note = f": {result['note']}" if result["note"] else ""
    return Result(data=result, message=f"Deleted context {args.name}{note}", show_data=False)
