"""``status app``, ``status network``, ``status dashboard``: how apps are running right now.

The platform answers figures (seconds, bytes, percent); people see them humanised,
``-o json`` gets them as they are. States are always words, never colour alone.

``--watch`` shows the status again whenever a ``status:user`` event concerns it (no polling):
redrawn in place on a terminal, one JSON document per line under ``-o json``.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from rig.cli import CommandTree, add_name_argument, add_network_option
from rig.output import Column, Result, render
from rig.output.units import human_bytes, human_duration, human_percent
from rig.targets import app_ref, network_ref

if TYPE_CHECKING:
    from rig.context import Context

APP_COLUMNS = [
    Column("app"),
    Column("state"),
    Column("release"),
    Column("restarts"),
    Column("uptime_s", "UPTIME", format=human_duration),
    Column("cpu_percent", "CPU", format=human_percent),
    Column("memory_rss", "MEMORY", format=human_bytes),
    Column("disk_bytes", "DISK", format=human_bytes),
    Column("health"),
    Column("url", "URL"),
]
DASHBOARD_COLUMNS = [Column("network"), *APP_COLUMNS]
PROCESS_COLUMNS = [Column("name"), Column("pids"), Column("port")]
INSTANCE_COLUMNS = [Column("name"), Column("state"), Column("pid"), Column("port")]
CLEAR = "\x1b[H\x1b[2J"

Fetch = Callable[[], Any]
Present = Callable[[Any], Result]
Concerns = Callable[[dict[str, Any]], bool]


def register(tree: CommandTree) -> None:
    tree.group("status", "show how apps are running: one app, a network, or all (dashboard)")
    parser = tree.add(
        "status app",
        app_status,
        "show how an app is running: state, release, restarts, uptime, CPU, memory, health, URL",
        examples=["rig status app api", "rig status app api --network shop -o json"],
    )
    add_name_argument(parser, "app")
    add_network_option(parser, "the app's network (found when the app name is unique)")
    _add_watch(parser)

    parser = tree.add(
        "status network",
        network_status,
        "show how every app of a network is running",
        examples=["rig status network shop", "rig status network shop -o json"],
    )
    add_name_argument(parser, "network")
    _add_watch(parser)

    parser = tree.add(
        "status dashboard",
        dashboard,
        "summarise every app in every network of yours",
        examples=[
            "rig status dashboard",
            "rig status dashboard --watch",
            "rig status dashboard -o json",
        ],
    )
    _add_watch(parser)


def _add_watch(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-w",
        "--watch",
        action="store_true",
        help="show it again on every change (live, until Ctrl+C)",
    )


def app_status_view(status: dict[str, Any]) -> dict[str, Any]:
    """One app's status for people: each figure in its unit, processes as a table."""
    return {
        "app": status.get("app"),
        "network": status.get("network"),
        "state": status.get("state"),
        "release": status.get("release"),
        "restarts": status.get("restarts"),
        "uptime": human_duration(status.get("uptime_s")),
        "cpu": human_percent(status.get("cpu_percent")),
        "memory": human_bytes(status.get("memory_rss")),
        "disk": human_bytes(status.get("disk_bytes")),
        "limits": limits_view(status.get("limits")),
        "exited": exited_view(status),
        "health": status.get("health"),
        "url": status.get("url"),
        "processes": status.get("processes") or [],
        "instances": [
            {**i, "state": "up" if i.get("up") else "restarting"}
            for i in status.get("instances") or []
        ],
    }


def exited_view(status: dict[str, Any]) -> str | None:
    """How a process of the release last stopped unasked, with the count of out-of-memory
    kills (labels stay within eight letters: the record's columns line up as before)."""
    last, kills = status.get("last_exit"), int(status.get("oom_kills") or 0)
    if not last:
        return None
    return f"{last} ({kills} out-of-memory kill{'' if kills == 1 else 's'})" if kills else last


def limits_view(limits: dict[str, Any] | None) -> str:
    """``memory 512 MiB, 256 processes, 1 CPU, disk 4.0 GiB``, or why there are none."""
    if not limits:
        return "none (not running, or limits are off on this platform)"
    memory, processes, cpu = limits.get("memory"), limits.get("processes"), limits.get("cpu")
    return ", ".join(
        [
            f"memory {human_bytes(memory)}" if memory else "memory unlimited",
            f"{processes} processes" if processes else "processes unlimited",
            f"{cpu:g} CPU" if cpu else "CPU unlimited",
            *([f"disk {human_bytes(limits['disk'])}"] if limits.get("disk") else []),
        ]
    )


def app_status(ctx: Context, args: argparse.Namespace) -> Result:
    ref = app_ref(ctx, args, args.name)

    def concerns(event: dict[str, Any]) -> bool:
        return event.get("network") == ref.network and event.get("app") == ref.app

    return _shown(ctx, args, lambda: ctx.api().app_status(ref.network, ref.app), _app, concerns)


def _app(status: Any) -> Result:
    return Result(
        data=status,
        view=app_status_view(status),
        sections={"processes": PROCESS_COLUMNS, "instances": INSTANCE_COLUMNS},
    )


def network_status(ctx: Context, args: argparse.Namespace) -> Result:
    name = network_ref(ctx, args, args.name, "status network")

    def present(status: Any) -> Result:
        return Result(
            data=status,
            fields=["network", "apps"],
            sections={"apps": APP_COLUMNS},
            empty=f"(no apps in network {name})",
        )

    def fetch() -> Any:
        return ctx.api().network_status(name)

    return _shown(ctx, args, fetch, present, lambda event: event.get("network") == name)


def dashboard(ctx: Context, args: argparse.Namespace) -> Result:
    return _shown(ctx, args, lambda: ctx.api().dashboard(), _dashboard, lambda _: True)


def _shown(
    ctx: Context, args: argparse.Namespace, fetch: Fetch, present: Present, concerns: Concerns
) -> Result:
    """The status once, or with ``--watch`` a stream of it: read again on every event that
    ``concerns`` it, and after every reconnect (events missed meanwhile are not replayed)."""
    if not args.watch:
        return present(fetch())
    terminal = not ctx.json and ctx.stdout.isatty()
    return Result(
        lines=_watch(ctx, fetch, concerns),
        line_format=lambda status: _screen(present(status), terminal),
    )


def _watch(ctx: Context, fetch: Fetch, concerns: Concerns) -> Iterator[Any]:
    from rig.api.live import following, socket_error
    from rig.api.topics import STATUS_EVENTS, STATUS_TOPIC

    try:
        with following(ctx, [], events={STATUS_TOPIC: STATUS_EVENTS}) as events:
            yield fetch()
            for _ in changes(events, events.has_more, concerns):
                yield fetch()
    except (ConnectionError, TimeoutError) as error:
        raise socket_error(error, "status changes") from None


def changes(
    events: Iterable[dict[str, Any]], has_more: Callable[[], bool], concerns: Concerns
) -> Iterator[None]:
    """One item each time the status is to be read again: after an event that concerns it, or
    a rejoin (events missed meanwhile are not replayed), but once for a burst of events that
    arrived together (a deploy of many apps), at its last."""
    from rig.transport.follow import REJOINED

    stale = False
    for event in events:
        stale = stale or event.get("event") == REJOINED or concerns(event.get("payload") or {})
        if stale and not has_more():
            stale = False
            yield None


def _screen(result: Result, terminal: bool) -> str:
    """One rendering of the status: in place of the last one on a terminal, else after it."""
    text = io.StringIO()
    render(result, "table", text)
    return (CLEAR if terminal else "") + text.getvalue().rstrip("\n") + ("" if terminal else "\n")


def _dashboard(status: Any) -> Result:
    rows = [
        {**app, "network": app.get("network") or network.get("name")}
        for network in status.get("networks") or []
        for app in network.get("apps") or []
    ]
    totals = status.get("totals") or {}
    return Result(
        data=status,
        view=rows,
        columns=DASHBOARD_COLUMNS,
        message=f"{_count(totals.get('networks'), 'network')}, {_count(totals.get('apps'), 'app')}"
        f": {totals.get('running', 0)} running, {totals.get('failing', 0)} failing",
        empty="(no apps yet; deploy one with `rig deploy --app APP --create`)",
    )


def _count(n: Any, word: str) -> str:
    n = int(n or 0)
    return f"{n} {word}{'' if n == 1 else 's'}"
