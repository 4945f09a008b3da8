"""Apps: ``create app``, ``list apps``, ``delete app``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rig import namecache
from rig.cli import CommandTree, add_name_argument, add_network_option, add_yes_option
from rig.output import Column, Result
from rig.prompt import confirm
from rig.targets import app_network, check_name, default_network, network_arg

if TYPE_CHECKING:
    from rig.context import Context

COLUMNS = [
    Column("name"),
    Column("network"),
    Column("hostname"),
    Column("state"),
    Column("created_at", "CREATED"),
]


def register(tree: CommandTree) -> None:
    parser = tree.add(
        "create app",
        create_app,
        "create an app in a network (a readable name is generated when none is given)",
        examples=[
            "rig create app api --network my-project",
            "rig create app api   # when you have one network",
        ],
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="an RFC 1035 label, e.g. api")
    add_network_option(parser, "the network (may be omitted when you have only one)")

    parser = tree.add(
        "list apps",
        list_apps,
        "list your apps, in every network or in one",
        examples=["rig list apps", "rig list apps --network my-project -o json"],
    )
    add_network_option(parser, "only the apps of this network")

    parser = tree.add(
        "delete app",
        delete_app,
        "delete an app",
        examples=["rig delete app api --network my-project", "rig delete app api --yes"],
    )
    add_name_argument(parser, "app", optional=False)
    add_network_option(parser, "the app's network (found when the app name is unique)")
    add_yes_option(parser)


def create_app(ctx: Context, args: argparse.Namespace) -> Result:
    name = check_name("app", args.name) if args.name is not None else None
    network = default_network(ctx, args)
    app = ctx.api().create_app(network, name)
    namecache.update(namecache.APP, add=[f"{network}/{app['name']}"])
    return Result(
        data=app,
        message=f"Created app {app['name']} in network {network}: {app.get('hostname', '')}",
        show_data=False,
    )


def list_apps(ctx: Context, args: argparse.Namespace) -> Result:
    network = network_arg(ctx, args)
    api = ctx.api()
    rows = api.apps(network)
    if network and not rows:
        api.network(network)  # none, or no such network: say which
    found = [f"{r['network']}/{r['name']}" for r in rows]
    namecache.update(namecache.APP, add=found, replace=f"{network}/" if network else "")
    where = f" in network {network}" if network else ""
    return Result(
        data=rows, columns=COLUMNS, empty=f"(no apps{where}; create one with `rig create app`)"
    )


def delete_app(ctx: Context, args: argparse.Namespace) -> Result:
    name = check_name("app", args.name)
    network = app_network(ctx, args, name)
    api = ctx.api()
    api.app(network, name)
    confirm(ctx, f"delete app {name} (network {network})", yes=args.yes)
    api.delete_app(network, name)
    namecache.update(namecache.APP, remove=[f"{network}/{name}"])
    return Result(
        data={"network": network, "app": name, "deleted": True},
        message=f"Deleted app {name} from network {network}",
        show_data=False,
    )
