"""``restart app``, ``stop app``, ``start app``: one handler, three platform actions."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from rig.cli import CommandTree, add_name_argument, add_network_option
from rig.errors import RigError
from rig.output import Result
from rig.targets import app_ref

if TYPE_CHECKING:
    from rig.context import Context

BAD_STATES = frozenset({"failed", "crashed"})


@dataclass(frozen=True)
class Action:
    verb: str
    done: str
    help: str
    word_help: str  # of the word alone, in `rig --help`


ACTIONS = (
    Action(
        "restart",
        "Restarted",
        "restart an app's processes (waits until it is healthy)",
        "restart an app",
    ),
    Action(
        "stop",
        "Stopped",
        "stop an app's processes; its releases and config are kept",
        "stop an app (its releases and config are kept)",
    ),
    Action(
        "start",
        "Started",
        "start a stopped app again (waits until it is healthy)",
        "start a stopped app",
    ),
)


def register(tree: CommandTree) -> None:
    for action in ACTIONS:
        tree.group(action.verb, action.word_help)
        parser = tree.add(
            f"{action.verb} app",
            partial(run_action, action),
            action.help,
            examples=[
                f"rig {action.verb} app api",
                f"rig {action.verb} app api --network shop -o json",
            ],
        )
        add_name_argument(parser, "app")
        add_network_option(parser, "the app's network (found when the app name is unique)")


def run_action(action: Action, ctx: Context, args: argparse.Namespace) -> Result:
    ref = app_ref(ctx, args, args.name)
    status = ctx.api().lifecycle(ref.network, ref.app, action.verb)
    state = status.get("state")
    if action.verb != "stop" and state in BAD_STATES:
        raise RigError(
            f"{ref.app} did not come up: it is {state}",
            hint=f"see `rig logs app {ref.app} --network {ref.network} --tail 50`",
        )
    release = status.get("release")
    return Result(
        data=status,
        message=f"{action.done} {ref.label}: {state}"
        + (f", release {release}" if release is not None else ""),
        show_data=False,
    )
