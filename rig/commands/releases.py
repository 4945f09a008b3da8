"""Releases: ``list releases``, ``rollback``, and following a release until it runs or fails.

``deploy``, ``rollback`` and var/secret changes share what is here: the app's
API path, :func:`watch_release` (the one place that waits on a release) and
:class:`ReleaseFailed`. A release is watched over the realtime socket (its build log live, its
end from the ``status:user`` release events); :func:`poll_release` is the fallback when the
socket cannot connect.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable, Sequence
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
    from rig.context import Context
    from rig.transport.http import ApiClient

POLL_S = 0.25
STATUS_TOPIC = "status:user"
RELEASE_EVENT = "release"
WATCH_TIMEOUT_S = 15 * 60
DONE = frozenset({"active", "superseded", "failed"})
LOG_TAIL_SHOWN = 30

LineSink = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class AppRef:
    network: str
    app: str

    @property
    def path(self) -> str:
        return f"/networks/{self.network}/apps/{self.app}"

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

    def __init__(self, ref: AppRef, release: dict[str, Any]) -> None:
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


class _BuildLines:
    """One release's build-log lines, each handed to ``on_line`` once, in order."""

    def __init__(self, client: ApiClient, ref: AppRef, number: int, on_line: LineSink) -> None:
        self.client, self.number, self.on_line = client, number, on_line
        self.path = f"{ref.path}/logs/build"
        self.last: int | None = None

    def show(self, line: dict[str, Any]) -> None:
        seq = line.get("seq")
        if isinstance(seq, int) and self.last is not None and seq <= self.last:
            return
        if isinstance(seq, int):
            self.last = seq
        self.on_line(line)

    def drain(self) -> int:
        """Show the stored lines not shown yet; the log's last seq as the platform read it."""
        params: dict[str, Any] = {"release": self.number}
        if self.last is not None:
            params["after"] = self.last
        response = self.client.send("GET", self.path, params=params)
        for line in (response.json() if response.content else None) or []:
            self.show(line)
        header = response.headers.get("X-Last-Seq", "")
        return int(header) if header.isdigit() else self.last or 0


def watch_release(
    ctx: Context, ref: AppRef, number: int, on_line: LineSink | None = None
) -> dict[str, Any]:
    """Wait until release ``number`` is done; hand each of its build-log lines to ``on_line``
    as it comes. One socket: the build log (stored lines first, then live from where they
    ended) and ``status:user``'s release events; the release is read again after a reconnect
    (events are not replayed) and at the end. Without a socket, :func:`poll_release`."""
    from rig.commands.live import following
    from rig.transport.socket import JoinError

    client = ctx.client()
    build = _BuildLines(client, ref, number, on_line) if on_line is not None else None
    topic = f"logs:build:{ref.network}/{ref.app}"
    topics, after = ([topic], {topic: build.drain()}) if build is not None else ([], None)
    path = f"{ref.path}/releases/{number}"
    try:
        with following(ctx, topics, after=after, events={STATUS_TOPIC: [RELEASE_EVENT]}) as records:
            release = _until_done(records, client.get(path), lambda: client.get(path), ref, build)
    except (ConnectionError, TimeoutError, JoinError):
        return poll_release(client, ref, number, build.show if build else None)
    if build is not None:
        build.drain()
    if release.get("status") not in DONE:  # the socket closed for good before the end
        return poll_release(client, ref, number, build.show if build else None)
    return release


def _until_done(
    records: Iterable[dict[str, Any]],
    release: dict[str, Any],
    read: Callable[[], dict[str, Any]],
    ref: AppRef,
    build: _BuildLines | None,
) -> dict[str, Any]:
    """The release once done (or as last read, if the records end first), showing build lines
    meanwhile. It is read again after each rejoin, and when an event says it is done."""
    from rig.transport.follow import REJOINED

    number = release.get("number")
    if release.get("status") in DONE:
        return release
    for record in records:
        payload = record.get("payload") or {}
        if record.get("event") == REJOINED or _is_end(payload, ref, number):
            release = read()
            if release.get("status") in DONE:
                break
        elif build is not None and record.get("release") == number:
            build.show(record)
    return release


def _is_end(event: dict[str, Any], ref: AppRef, number: Any) -> bool:
    return (
        event.get("network") == ref.network
        and event.get("app") == ref.app
        and event.get("number") == number
        and event.get("status") in DONE
    )


def poll_release(
    client: ApiClient,
    ref: AppRef,
    number: int,
    on_line: LineSink | None = None,
    *,
    interval: float = POLL_S,
    timeout: float = WATCH_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """:func:`watch_release` by polling the release and its build log every ``interval``
    seconds, for when the socket cannot connect; gives up after ``timeout``."""
    after: int | None = None
    deadline = clock() + timeout

    def drain() -> None:
        nonlocal after
        if on_line is None:
            return
        params: dict[str, Any] = {"release": number}
        if after is not None:
            params["after"] = after
        for line in client.get(f"{ref.path}/logs/build", params=params) or []:
            after = int(line.get("seq", after or 0))
            on_line(line)

    while True:
        release: dict[str, Any] = client.get(f"{ref.path}/releases/{number}")
        drain()
        if release.get("status") in DONE:
            return release
        if clock() >= deadline:
            raise RigError(
                f"release {number} of {ref.app} is still {release.get('status')} after "
                f"{human_seconds(timeout)}",
                hint=f"see `rig list releases --app {ref.app} --network {ref.network}`",
            )
        sleep(interval)


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


def finish_release(ctx: Context, ref: AppRef, release: dict[str, Any]) -> dict[str, Any]:
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
    rows = ctx.client().get(f"{ref.path}/releases") or []
    return Result(
        data=rows,
        columns=COLUMNS,
        empty=f"(no releases of {ref.label} yet; deploy with `rig deploy --app {ref.app}`)",
    )


def rollback(ctx: Context, args: argparse.Namespace) -> Result:
    ref = app_ref(ctx, args)
    if args.to is not None and args.to < 1:
        raise UsageError(f"no release {args.to}", hint="release numbers start at 1")
    client = ctx.client()
    started = time.monotonic()
    body = {"to": args.to} if args.to is not None else {}
    try:
        release = client.post(f"{ref.path}/rollback", body)
    except NotFoundError as missing:
        if args.to is None:
            raise
        raise NotFoundError(missing.message, hint=releases_hint(client, ref)) from None
    env_changed = [str(k) for k in release.get("env_changed") or ()]
    if not args.detach:
        release = finish_release(ctx, ref, watch_release(ctx, ref, int(release["number"])))
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


def releases_hint(client: ApiClient, ref: AppRef) -> str:
    """Which release numbers ``ref`` has, for a number that was not found (raises the platform's
    NotFoundError, did-you-mean and all, when it is the app that is not found)."""
    numbers = sorted(int(r["number"]) for r in client.get(f"{ref.path}/releases") or [])
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


def restart_params(args: argparse.Namespace) -> dict[str, str] | None:
    return {"restart": "false"} if getattr(args, "no_restart", False) else None


def restart_notice(
    scope: Scope, keys: list[str], release_header: str, listing: Sequence[dict[str, Any]] = ()
) -> str:
    """``"\nRestarting api with changed keys: ..."`` when the platform made releases for a config
    change (its ``X-Release`` header), else ``""``. Secrets are named with their new digest."""
    numbers = [n.strip() for n in release_header.split(",") if n.strip()]
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
