"""Releases: ``list releases``, ``rollback``, and what a release that failed tells people.

``deploy``, ``rollback`` and var/secret changes share what is here: :func:`app_ref`,
:class:`ReleaseFailed` and :func:`finish_release`. Waiting for a release to settle is
:func:`rig.api.releases.watch_release`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from rig.cli import CommandTree, completes
from rig.commands.args import (
    Scope,
    add_app_option,
    add_network_option,
    app_network,
    check_name,
    default_app,
)
from rig.errors import NotFoundError, RigError, UsageError
from rig.output import Column, Result
from rig.output.units import counted, human_seconds

if TYPE_CHECKING:
    from rig.api.client import Api
    from rig.api.types import Release
    from rig.context import Context

LOG_TAIL_SHOWN = 30


@dataclass(frozen=True)
class AppRef:
    network: str
    app: str

    @property
    def label(self) -> str:
        return f"app {self.app} (network {self.network})"


def app_ref(ctx: Context, args: argparse.Namespace, name: str | None = None) -> AppRef:
    """The app named by ``name``, ``--app`` or the shell's selection, with its network."""
    app = name or default_app(ctx, args)
    if not app:
        how = "pass --app APP" if hasattr(args, "app") else f"rig {args.command} NAME"
        raise UsageError(
            "say which app",
            hint=f"{how} (or `use app APP` in the shell, or `rig init` for a rig.toml)",
        )
    app = check_name("app", app)
    return AppRef(app_network(ctx, args, app), app)


class ReleaseFailed(RigError):
    """A release that ended ``failed``: the reason, the phase, and the last lines of its log."""

    code = "release_failed"

    def __init__(self, ref: AppRef, release: Mapping[str, Any]) -> None:
        error = release.get("error") or {}
        self.release = release
        self.phase = str(error.get("phase") or "")
        self.reason = str(error.get("reason") or "no reason given")
        self.log_tail = [str(line) for line in error.get("log_tail") or []]
        number = release.get("number")
        during = f" during {self.phase}" if self.phase else ""
        logs = (
            f"rig logs build {ref.app} --release {number}"
            if self.phase in ("build", "unpack", "upload")
            else f"rig logs app {ref.app}"
        )
        super().__init__(
            f"release {number} of {ref.app} failed{during}: {self.reason}",
            hint=f"the previous release, if any, is still serving; see `{logs} --network "
            f"{ref.network}`",
        )

    def to_json(self) -> dict[str, Any]:
        body = super().to_json()
        body["error"].update(
            release=self.release.get("number"), phase=self.phase, log_tail=self.log_tail
        )
        return body


def show_failure(failure: ReleaseFailed, stream: IO[str]) -> None:
    """The last lines of the failed phase's log, for people (``-o json`` carries them instead)."""
    if not failure.log_tail:
        return
    tail = failure.log_tail[-LOG_TAIL_SHOWN:]
    last = counted(len(tail), "line") if len(tail) > 1 else "line"
    stream.write(f"Last {last} of the {failure.phase or 'release'} log:\n")
    for line in tail:
        stream.write(f"  | {line}\n")
    stream.flush()


def finish_release(ctx: Context, ref: AppRef, release: Release) -> Release:
    """``release`` if it did not fail; else its log tail on stderr and :class:`ReleaseFailed`."""
    if release.get("status") != "failed":
        return release
    failure = ReleaseFailed(ref, release)
    if not ctx.json:
        show_failure(failure, ctx.stderr)
    raise failure


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


COLUMNS = [
    Column("number", "RELEASE"),
    Column("status"),
    Column("source"),
    Column("message", format=lambda m: _message_cell(m) or "-"),
    Column("git", format=git_cell),
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
    from rig.api.releases import watch_release

    api = ctx.api()
    started = time.monotonic()
    try:
        release = api.rollback(ref.network, ref.app, args.to)
    except NotFoundError as missing:
        if args.to is None:
            raise
        raise NotFoundError(missing.message, hint=releases_hint(api, ref)) from None
    env_changed = [str(k) for k in release.get("env_changed") or ()]
    if not args.detach:
        number = int(release["number"])
        release = finish_release(ctx, ref, watch_release(ctx, ref.network, ref.app, number))
    took = time.monotonic() - started
    target = release.get("artifact_release")
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


def add_restart_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-restart",
        action="store_true",
        help="change the config only; running apps get it with their next release",
    )


def restarts(args: argparse.Namespace) -> bool:
    """Whether a var or secret change restarts the apps it concerns (not with --no-restart)."""
    return not getattr(args, "no_restart", False)


def restart_notice(
    scope: Scope, keys: list[str], numbers: Sequence[str], listing: Sequence[dict[str, Any]] = ()
) -> str:
    """``"\nRestarting api with changed keys: ..."`` when the platform made releases
    ``numbers`` for a config change, else ``""``. Secrets are named with their new digest."""
    if not numbers:
        return ""
    digests = {row.get("key"): row.get("digest") for row in listing}
    changed = [f"{k} (digest {digests[k]})" if digests.get(k) else k for k in keys]
    who = scope.app or f"the apps of network {scope.network}"
    plural = "s" if len(numbers) > 1 else ""
    return (
        f"\nRestarting {who} with changed keys: {', '.join(changed)} "
        f"(release{plural} {', '.join(numbers)})"
    )
