"""Container-registry credentials for image deploys: ``create registry``, ``list registries``,
``delete registry``.

As ``docker login --password-stdin`` and ``flyctl auth docker`` do: the user name is an option,
the password never is (it would stay in shell history and show in ``ps``): a hidden prompt on a
terminal, else stdin. The platform stores it encrypted and never gives it back.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rig.cli import CommandTree, add_yes_option
from rig.errors import UsageError
from rig.output import Column, Result
from rig.prompt import ask_hidden, confirm

if TYPE_CHECKING:
    from rig.context import Context

COLUMNS = [
    Column("host"),
    Column("username", "USER"),
    Column("updated_at", "UPDATED"),
]
PASSWORD_MAX_BYTES = 8192


def register(tree: CommandTree) -> None:
    parser = tree.add(
        "create registry",
        create_registry,
        "store credentials for a container registry, for `rig deploy --image`",
        examples=[
            "rig create registry registry.example.com --username ci   # hidden prompt",
            'printf %s "$REGISTRY_TOKEN" | rig create registry ghcr.io --username me',
        ],
        description="Store your credentials for a container registry; `rig deploy --image` "
        "pulls that registry's images with them. The password (or token) is read from a hidden "
        "prompt on a terminal, else from stdin, never from the command line; the platform "
        "keeps it encrypted and never shows it. Storing again replaces.",
    )
    parser.add_argument("host", metavar="HOST", help="the registry: HOST or HOST:PORT")
    parser.add_argument("--username", "-u", required=True, metavar="USER", help="the user name")

    tree.add(
        "list registries",
        list_registries,
        "list the registries you stored credentials for (never their passwords)",
        examples=["rig list registries", "rig list registries -o json"],
    )

    parser = tree.add(
        "delete registry",
        delete_registry,
        "forget the credentials stored for a container registry",
        examples=["rig delete registry registry.example.com --yes"],
    )
    parser.add_argument("host", metavar="HOST", help="the registry: HOST or HOST:PORT")
    add_yes_option(parser)


def read_password(ctx: Context, host: str) -> str:
    """A registry password: a hidden prompt on a terminal, else the whole of stdin (one
    trailing newline dropped); never empty."""
    if ctx.interactive:
        password = ask_hidden(ctx, f"Password for {host}: ")
    elif ctx.stdin.isatty():
        raise UsageError(
            f"no password given for {host}", hint="pipe it on stdin (it is never an argument)"
        )
    else:
        password = ctx.stdin.read()
        password = password[:-1] if password.endswith("\n") else password
    if not password:
        raise UsageError(f"empty password for {host}; nothing was changed", hint="give one")
    if len(password.encode("utf-8", "surrogatepass")) > PASSWORD_MAX_BYTES:
        raise UsageError("the password is over 8 KiB", hint="check what was piped in")
    return password


def create_registry(ctx: Context, args: argparse.Namespace) -> Result:
    api = ctx.api()
    password = read_password(ctx, args.host)
    row = api.set_registry(args.host, args.username, password)
    return Result(
        data=row,
        message=f"Stored credentials for {row['host']} (user {row['username']})",
        show_data=False,
    )


def list_registries(ctx: Context, args: argparse.Namespace) -> Result:
    rows = ctx.api().registries()
    return Result(
        data=rows,
        columns=COLUMNS,
        empty="(no registry credentials; store some with `rig create registry HOST --username U`)",
    )


def delete_registry(ctx: Context, args: argparse.Namespace) -> Result:
    confirm(ctx, f"forget the credentials for {args.host}", yes=args.yes)
    ctx.api().delete_registry(args.host)
    return Result(
        data={"host": args.host, "deleted": True},
        message=f"Forgot the credentials for {args.host}",
        show_data=False,
    )
