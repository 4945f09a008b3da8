"""``list releases`` and ``rollback``.

Waiting for the new release to settle is :func:`rig.api.releases.settle`, as for ``deploy``.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rig.cli import CommandTree, add_app_option, add_network_option, completes
from rig.errors import Interrupted, NotFoundError, UsageError
from rig.output import Column, Result
from rig.output.units import human_seconds
from rig.targets import AppRef, app_ref

if TYPE_CHECKING:
    from rig.api.client import Api
    from rig.context import Context

LOG_TAIL_SHOWN = 30


def git_cell(git: Any) -> str:
    if not isinstance(git, dict) or not git.get("commit"):
        return "-"
    text = str(git["commit"])[:7]
    if git.get("branch"):
        text += f" {git['branch']}"
    return text + (" (dirty)" if git.get("dirty") else "")


def _message_cell(message: Any) -> str:
    text = " ".join(str(message or "").split())
    return text if len(text) <= 50 else text[:47] + "..."


def image_cell(image: Any) -> str:
    """An image release's digest, short (``api@sha256:3f2a9c1b``); '-' for a source one."""
    if not isinstance(image, dict) or not image.get("ref"):
        return "-"
    digest = str(image.get("digest") or "")
    if "@sha256:" in digest:
        repository, _, hex_digest = digest.rpartition("@sha256:")
        return f"{repository.rsplit('/', 1)[-1]}@sha256:{hex_digest[:12]}"
    return str(image["ref"])


COLUMNS = [
    Column("number", "RELEASE"),
    Column("status"),
    Column("source"),
    Column("message", format=lambda m: _message_cell(m) or "-"),
    Column("git", format=git_cell),
    Column("image", format=image_cell),
    Column("created_by", "BY"),
    Column("created_at", "CREATED"),
]


def register(tree: CommandTree) -> None:
    parser = tree.add(
        "list releases",
        list_releases,
        "list an app's releases, newest first, with their status, message and git commit",
        examples=["rig list releases --app api", "rig list releases --app api -o json"],
    )
    add_app_option(parser, "the app whose releases to list")
    add_network_option(parser, "the app's network (found when the app name is unique)")

    parser = tree.add(
        "rollback",
        rollback,
        "run an earlier release again (default: the one before the active one), no rebuild",
        examples=["rig rollback --app api", "rig rollback --app api --to 3"],
    )
    add_app_option(parser, "the app to roll back")
    add_network_option(parser, "the app's network (found when the app name is unique)")
    completes(
        parser.add_argument("--to", type=int, metavar="N", help="the release to run again"),
        "release",
    )
    parser.add_argument(
        "--detach", action="store_true", help="do not wait for the new release to be active"
    )


def list_releases(ctx: Context, args: argparse.Namespace) -> Result:
    ref = app_ref(ctx, args)
    rows = ctx.api().releases(ref.network, ref.app)
    return Result(
        data=rows,
        columns=COLUMNS,
        empty=f"(no releases of {ref.label} yet; deploy with `rig deploy --app {ref.app}`)",
    )


def rollback(ctx: Context, args: argparse.Namespace) -> Result:
    ref = app_ref(ctx, args)
    if args.to is not None and args.to < 1:
        raise UsageError(f"no release {args.to}", hint="release numbers start at 1")
    from rig.api.releases import settle

    api = ctx.api()
    started = time.monotonic()
    try:
        release = api.rollback(ref.network, ref.app, args.to)
    except NotFoundError as missing:
        if args.to is None:
            raise
        raise NotFoundError(missing.message, hint=releases_hint(api, ref)) from None
    env_changed = [str(k) for k in release.get("env_changed") or ()]
    # the release asked for (or the platform's choice), not the one whose build is reused
    target = release.get("rolled_back_to", args.to)
    if not args.detach:
        number = int(release["number"])
        with platform_continues(ref, number, "rollback"):
            release = settle(ctx, ref.network, ref.app, number)
    took = time.monotonic() - started
    data = {
        "app": ref.app,
        "network": ref.network,
        "release": release.get("number"),
        "rolled_back_to": target,
        "status": release.get("status"),
        "duration_s": round(took, 3),
        "env_changed": env_changed,
    }
    verb = "Rolled back" if not args.detach else "Rolling back"
    message = (
        f"{verb} {ref.app} to release {target} (as release {data['release']}, "
        f"{data['status']}) in {human_seconds(took)}"
    )
    if env_changed:
        differ = "differs" if len(env_changed) == 1 else "differ"
        message += (
            f"\nIt runs with release {target}'s environment, not the current one: "
            f"{', '.join(env_changed)} {differ}. A restart or a var or secret change applies "
            f"the current values (`rig list vars --app {ref.app}` shows them)."
        )
    return Result(data=data, message=message, show_data=False)


@contextlib.contextmanager
def platform_continues(ref: AppRef, number: int, what: str) -> Iterator[None]:
    """Ctrl+C while watching release ``number`` stops the watching only: the platform goes on
    with the ``what`` (deploy, rollback), so say that and where to see how it ends."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(
            f"stopped watching; the platform continues the {what} of release {number} "
            f"of {ref.label}",
            hint=f"`rig status app {ref.app} --network {ref.network}` shows it",
        ) from None


def releases_hint(api: Api, ref: AppRef) -> str:
    """Which release numbers ``ref`` has, for a number that was not found (raises the platform's
    NotFoundError, did-you-mean and all, when it is the app that is not found)."""
    numbers = sorted(int(r["number"]) for r in api.releases(ref.network, ref.app))
    listing = f"run `rig list releases --app {ref.app} --network {ref.network}` to see them"
    if not numbers:
        return f"{ref.app} has no releases yet; deploy it with `rig deploy --app {ref.app}`"
    if len(numbers) == 1:
        return f"{ref.app} has only release {numbers[0]}; {listing}"
    return f"{ref.app} has releases {numbers[0]} to {numbers[-1]}; {listing}"
