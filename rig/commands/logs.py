"""``logs app``, ``logs build``, ``logs network``: stored log lines, filtered on the platform.

All three are one command over a :class:`LogTarget` (where the lines are) and a
:class:`LogQuery` (which of them). Stored lines come first; with ``-f`` a follow source
(:data:`FollowSource`, the realtime socket) continues from the log's last sequence number as
the platform read it (:func:`rig.api.logs.tail_then_follow`), so nothing is missed or shown
twice. ``--grep`` (and
``--release`` for build logs) apply to live lines here, as the platform applied them to the
stored ones: a regular expression in RE2's syntax (``maxlocal.grep``), on both sides, so that
no pattern can make either backtrack for ever. A follow runs until Ctrl+C (exit 130, as any
interrupted command).
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import IO, TYPE_CHECKING, Any

from rig.api.logs import LogSource, tail_then_follow
from rig.cli import CommandTree, add_name_argument, add_network_option, parse_since
from rig.errors import UsageError
from rig.output import Result
from rig.output.terminal import safe_text
from rig.output.units import counted
from rig.targets import app_ref, network_ref

if TYPE_CHECKING:
    from rig.context import Context

Record = dict[str, Any]
FollowSource = Callable[["Context", "LogTarget", "int | None"], Iterable[Record]]
DIM, BOLD, RED, RESET = "\x1b[2m", "\x1b[1m", "\x1b[31m", "\x1b[0m"
APP_COLOURS = ("\x1b[36m", "\x1b[35m", "\x1b[33m", "\x1b[32m", "\x1b[34m")


class LogTarget(LogSource):
    """A log as people name it (no dataclass of its own: start-up time)."""

    @property
    def label(self) -> str:
        if self.app is None:
            return f"network {self.network}"
        what = "build log of app" if self.kind == "build" else "app"
        return f"{what} {self.app} (network {self.network})"


@dataclass(frozen=True)
class LogQuery:
    tail: int | None = None
    since: str | None = None
    grep: str | None = None
    release: int | None = None

    def params(self) -> dict[str, Any]:
        values = {"tail": self.tail, "since": self.since, "grep": self.grep}
        values["release"] = self.release
        if self.grep is not None:
            values["regex"] = "true"  # the platform's grep is a plain text without it
        return {k: v for k, v in values.items() if v is not None}


def check_grep(pattern: str) -> str:
    from maxlocal.grep import GrepError, line_match

    try:
        line_match(pattern, regex=True)
    except GrepError as exc:
        raise UsageError(
            f"--grep {pattern!r}: {str(exc).removeprefix('grep: ')}",
            hint="e.g. --grep 'error|warn'",
        ) from None
    return pattern


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def format_line(record: Record) -> str:
    """One record as text: what the app wrote with its terminal escapes shown escaped
    (:func:`safe_text`; ``-o json`` has them raw)."""
    if "skipped" in record:
        return skipped_text(record)
    return (
        f"{record.get('ts', '')} {writer(record)} "
        f"{record.get('stream', '')}| {safe_text(str(record.get('line', '')))}"
    )


def writer(record: Record) -> str:
    """What wrote a line: its app and the process instance (``api[web.1]``; a platform note
    names none), or in a build log the release whose build it is (``api r3``)."""
    who = str(record.get("app") or "-")
    process = record.get("instance") or record.get("process")
    if process:
        who = f"{who}[{process}]"
    release = record.get("release")
    return safe_text(who if release is None else f"{who} r{release}")


def format_coloured(record: Record) -> str:
    """As :func:`format_line`, for a terminal: time dim, app in a colour of its own (the same
    colour every time), stderr lines red; the app's own colours kept."""
    if "skipped" in record:
        return f"{BOLD}{skipped_text(record)}{RESET}"
    app = str(record.get("app") or "-")
    colour = APP_COLOURS[sum(app.encode()) % len(APP_COLOURS)]
    line = safe_text(str(record.get("line", "")), colour=True)
    if record.get("stream") == "stderr":
        line = f"{RED}{line}{RESET}"
    return (
        f"{DIM}{record.get('ts', '')}{RESET} {colour}{writer(record)}{RESET} "
        f"{DIM}{record.get('stream', '')}|{RESET} {line}"
    )


def skipped_text(record: Record) -> str:
    skipped = counted(int(record.get("skipped", 0)), "line")
    return f"-- {skipped} skipped: no longer kept by the platform --"


def show_logs(
    ctx: Context, target: LogTarget, query: LogQuery, follow: FollowSource | None = None
) -> Result:
    page = ctx.api().logs(target, **query.params())
    empty = not page.records and follow is None
    live = None if follow is None else partial(follow, ctx, target)
    return Result(
        lines=tail_then_follow(page, live),
        line_format=format_coloured if ctx.color else format_line,
        message=f"(no log lines in the {target.label})" if empty else None,
        flush_lines=follow is None,
    )


def live_lines(query: LogQuery) -> FollowSource:
    """Follow a log over the socket from ``after``, keeping what ``query`` keeps."""
    from maxlocal.grep import line_match

    pattern = line_match(query.grep, regex=True) if query.grep else None

    def keep(record: Record) -> bool:
        if "skipped" in record:
            return True
        if query.release is not None and record.get("release") != query.release:
            return False
        return pattern is None or pattern(str(record.get("line", "")))

    def source(ctx: Context, target: LogTarget, after: int | None) -> Iterator[Record]:
        from rig.api.live import socket_error
        from rig.api.logs import follow_log

        try:
            with follow_log(ctx, target, after) as records, buffered(ctx.stdout):
                if pattern is None and query.release is None:
                    yield from records  # a flood's lines pass through nothing more
                else:
                    yield from (record for record in records if keep(record))
        except (ConnectionError, TimeoutError) as error:
            raise socket_error(error, f"the {target.label}") from None

    return source


@contextlib.contextmanager
def buffered(stream: IO[str]) -> Iterator[None]:
    """While following, ``stream`` buffers what is written to it even when Python runs
    unbuffered (``PYTHONUNBUFFERED``, ``-u``: a system call per line would cost a flood most
    of rig's time): the follow flushes it whenever it waits for more, so no line waits."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is None or not getattr(stream, "write_through", False):
        yield
        return
    reconfigure(write_through=False)
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
            reconfigure(write_through=True)


def query_from(args: argparse.Namespace) -> LogQuery:
    return LogQuery(
        tail=args.tail,
        since=parse_since(args.since) if args.since else None,
        grep=check_grep(args.grep) if args.grep else None,
        release=getattr(args, "release", None),
    )


def register(tree: CommandTree) -> None:
    tree.group("logs", "show the stored logs of an app, its builds or a network")
    parser = tree.add(
        "logs app",
        app_logs,
        "show an app's stored output: stdout, stderr and the platform's notes",
        examples=[
            "rig logs app api --tail 50",
            "rig logs app api --since 10m --grep 'error|warn'",
            "rig logs app api -f --tail 20   # then new lines live, until Ctrl+C",
            "rig logs app api -o json   # one JSON object per line",
        ],
        description="Show an app's stored output: stdout, stderr and the platform's notes. Each "
        "line names the process instance that wrote it (api[web.1], api[worker.1]); with -o "
        "json, as fields process (web) and instance (web.1). Control characters and terminal "
        "escapes an app writes are shown escaped (\\x1b]52;...), its colours kept only on a "
        "colour terminal; -o json has the lines as written.",
    )
    add_name_argument(parser, "app")
    add_network_option(parser, "the app's network (found when the app name is unique)")
    _add_filters(parser)

    parser = tree.add(
        "logs build",
        build_logs,
        "show an app's build logs: every release's, or one release's with --release",
        examples=[
            "rig logs build api   # every release's, each line with its release (api r3)",
            "rig logs build api --release 3",
            "rig logs build api -f",
        ],
    )
    add_name_argument(parser, "app")
    add_network_option(parser, "the app's network (found when the app name is unique)")
    parser.add_argument("--release", type=positive, metavar="N", help="the release")
    _add_filters(parser)

    parser = tree.add(
        "logs network",
        network_logs,
        "show the stored output of every app of a network, interleaved",
        examples=[
            "rig logs network shop --tail 100",
            "rig logs network shop --since 1h",
            "rig logs network shop -f",
        ],
    )
    add_name_argument(parser, "network")
    _add_filters(parser)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="keep printing new lines as they come, until Ctrl+C",
    )
    parser.add_argument("--tail", type=positive, metavar="N", help="only the last N lines")
    parser.add_argument(
        "--since", metavar="WHEN", help="only lines since a duration ago (10m, 2h) or a time"
    )
    parser.add_argument(
        "--grep",
        metavar="REGEX",
        help="only lines matching a regular expression, searched (RE2 syntax: no "
        "backreferences or lookaround); live lines too",
    )


def app_logs(ctx: Context, args: argparse.Namespace) -> Result:
    query = query_from(args)
    ref = app_ref(ctx, args, args.name)
    return show_logs(ctx, LogTarget("app", ref.network, ref.app), query, _follow(args, query))


def build_logs(ctx: Context, args: argparse.Namespace) -> Result:
    query = query_from(args)
    ref = app_ref(ctx, args, args.name)
    return show_logs(ctx, LogTarget("build", ref.network, ref.app), query, _follow(args, query))


def network_logs(ctx: Context, args: argparse.Namespace) -> Result:
    query = query_from(args)
    name = network_ref(ctx, args, args.name, "logs network")
    return show_logs(ctx, LogTarget("network", name), query, _follow(args, query))


def _follow(args: argparse.Namespace, query: LogQuery) -> FollowSource | None:
    return live_lines(query) if getattr(args, "follow", False) else None
