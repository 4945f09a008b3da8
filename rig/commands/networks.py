"""Networks: ``create network``, ``list networks``, ``delete network``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rig import namecache
from rig.cli import CommandTree, add_name_argument, add_yes_option
from rig.output import Column, Result
from rig.output.units import counted
from rig.prompt import confirm
from rig.targets import check_name

if TYPE_CHECKING:
    from rig.context import Context

COLUMNS = [Column("name"), Column("domain"), Column("apps"), Column("created_at", "CREATED")]


def register(tree: CommandTree) -> None:
    parser = tree.add(
        "create network",
        create_network,
        "create a network (a readable name is generated when none is given)",
        examples=["rig create network my-project", "rig create network -o json"],
    )
    parser.add_argument(
        "name", nargs="?", metavar="NAME", help="an RFC 1035 label, e.g. my-project"
    )

    tree.add(
        "list networks",
        list_networks,
        "list your networks",
        examples=["rig list networks", "rig list networks -o json"],
    )

    parser = tree.add(
        "delete network",
        delete_network,
        "delete a network (with --force, also its apps)",
        examples=["rig delete network my-project", "rig delete network old --force --yes"],
    )
    add_name_argument(parser, "network", optional=False)
    parser.add_argument("--force", action="store_true", help="also delete the network's apps")
    add_yes_option(parser)


def create_network(ctx: Context, args: argparse.Namespace) -> Result:
    network = ctx.api().create_network(
        check_name("network", args.name) if args.name is not None else None
    )
    namecache.update(namecache.NETWORK, add=[network["name"]])
    return Result(
        data=network,
        message=f"Created network {network['name']} ({network.get('domain', '')})",
        show_data=False,
    )


def list_networks(ctx: Context, args: argparse.Namespace) -> Result:
    rows = ctx.api().networks()
    namecache.update(namecache.NETWORK, add=[r["name"] for r in rows], replace="")
    return Result(
        data=rows, columns=COLUMNS, empty="(no networks yet; create one with `rig create network`)"
    )


def delete_network(ctx: Context, args: argparse.Namespace) -> Result:
    name = check_name("network", args.name)
    api = ctx.api()
    network = api.network(name)
    apps = [a["name"] for a in network.get("apps") or []]
    what = f"network {name}"
    if apps and args.force:
        what += f" and its {counted(len(apps), 'app')} ({', '.join(apps)})"
    confirm(ctx, f"delete {what}", yes=args.yes)
    api.delete_network(name, force=args.force)
    namecache.update(namecache.NETWORK, remove=[name])
    namecache.update(namecache.APP, remove=[f"{name}/{app}" for app in apps])
    return Result(
        data={"network": name, "deleted": True, "apps_deleted": apps if args.force else []},
        message=f"Deleted {what}",
        show_data=False,
    )
