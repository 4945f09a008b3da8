"""``details app`` and ``details network``: a resource with its environment (no secret values)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rig.cli import CommandTree, completes
from rig.commands.apps import COLUMNS as APP_COLUMNS
from rig.commands.args import add_network_option, app_network, check_name
from rig.commands.env import SECRET, VAR
from rig.output import Column, Result

if TYPE_CHECKING:
    from rig.context import Context


def register(tree: CommandTree) -> None:
    parser = tree.add(
        "details app",
        app_details,
        "show an app's configuration: hostname, state, vars and secrets (digests only)",
        examples=["rig details app api", "rig details app api --network my-project -o json"],
    )
    completes(parser.add_argument("name", metavar="NAME", help="the app"), "app")
    add_network_option(parser, "the app's network (found when the app name is unique)")

    parser = tree.add(
        "details network",
        network_details,
        "show a network's configuration: domain, apps, vars and secrets (digests only)",
        examples=["rig details network my-project", "rig details network my-project -o json"],
    )
    completes(parser.add_argument("name", metavar="NAME", help="the network"), "network")


SECTIONS: dict[str, Sequence[Column]] = {
    "apps": APP_COLUMNS,
    "vars": VAR.columns,
    "secrets": SECRET.columns,
}


def app_details(ctx: Context, args: argparse.Namespace) -> Result:
    name = check_name("app", args.name)
    network = app_network(ctx, args, name)
    app = ctx.client().get(f"/networks/{network}/apps/{name}")
    return Result(
        data=app,
        fields=["name", "network", "hostname", "url", "state", "created_at", "vars", "secrets"],
        sections=SECTIONS,
    )


def network_details(ctx: Context, args: argparse.Namespace) -> Result:
    name = check_name("network", args.name)
    network = ctx.client().get(f"/networks/{name}")
    return Result(
        data=network,
        fields=["name", "domain", "created_at", "apps", "vars", "secrets"],
        sections=SECTIONS,
    )
