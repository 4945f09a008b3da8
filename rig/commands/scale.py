"""``scale app``: how many web processes an app runs; the router balances over them."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rig.cli import CommandTree, add_name_argument, add_network_option
from rig.errors import RigError
from rig.output import Result
from rig.targets import app_ref

if TYPE_CHECKING:
    from rig.context import Context

MAX_INSTANCES = 16
"""The platform's own limit (a larger count is refused there too, with 422)."""


def register(tree: CommandTree) -> None:
    tree.group("scale", "run several instances of an app's web process")
    parser = tree.add(
        "scale app",
        scale_app,
        "run N web processes of the app; the router balances requests over the healthy ones",
        examples=["rig scale app api --instances 3", "rig scale app api --instances 1 -o json"],
    )
    add_name_argument(parser, "app")
    add_network_option(parser, "the app's network (found when the app name is unique)")
    parser.add_argument(
        "--instances",
        type=_count,
        required=True,
        metavar="N",
        help=f"how many web processes to run (1 to {MAX_INSTANCES})",
    )


def _count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_INSTANCES:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 1 to {MAX_INSTANCES}, got {text!r}"
        )
    return int(text)


def scale_app(ctx: Context, args: argparse.Namespace) -> Result:
    ref = app_ref(ctx, args, args.name)
    status = ctx.api().scale(ref.network, ref.app, args.instances)
    if status.get("state") in ("failed", "crashed"):
        raise RigError(
            f"{ref.app} did not come up: it is {status.get('state')}",
            hint=f"see `rig logs app {ref.app} --network {ref.network} --tail 50`",
        )
    running = [i for i in status.get("instances", []) if i.get("type") == "web"]
    now = f"{len(running)} running" if status.get("release") is not None else "not deployed yet"
    return Result(
        data=status,
        message=f"Scaled {ref.label} to {args.instances} web instances ({now})",
        show_data=False,
    )
