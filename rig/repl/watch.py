"""``watch APP [APP ...]``: the apps' live logs side by side, one pane each, until a key.

A full-screen prompt_toolkit application: one pane per app (a title bar and its tail,
following the newest line), a key line at the bottom. Every pane follows its app's log
topic on one socket (:class:`LogFollower` each, so a pane knows its lines), continuing from
the stored tail shown first. Tab moves between panes, ↑/↓/PgUp/PgDn scroll the one in focus
(End follows again), and q, Esc or Ctrl+C leave — back to the shell's prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prompt_toolkit.application import Application
from prompt_toolkit.data_structures import Point
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout import HSplit, Layout, Window
from prompt_toolkit.layout.controls import FormattedTextControl
from prompt_toolkit.styles import Style

from rig.api.live import open_socket
from rig.api.logs import LogSource
from rig.output.terminal import safe_text
from rig.output.units import counted
from rig.transport.follow import LogFollower
from rig.transport.socket import (
    Closed,
    Connected,
    ConnectionState,
    JoinError,
    Params,
    Reconnecting,
    Socket,
)

KEEP = 2000  # lines kept per pane
KEYS = " q/Esc/Ctrl+C: back to the prompt · Tab: next pane · ↑↓ PgUp PgDn: scroll · End: follow "
STYLE = Style.from_dict(
    {
        "title": "reverse",
        "title.focused": "reverse bold",
        "keys": "reverse",
        "stderr": "ansired",
        "note": "bold",
        "time": "ansibrightblack",
    }
)
Record = dict[str, Any]

if TYPE_CHECKING:
    from rig.context import Context


@dataclass
class Pane:
    """One app's tail: its lines, and how far up the user has scrolled (0: following)."""

    network: str
    app: str
    lines: deque[StyleAndTextTuples] = field(default_factory=lambda: deque(maxlen=KEEP))
    back: int = 0
    note: str = ""

    @property
    def source(self) -> LogSource:
        return LogSource("app", self.network, self.app)

    @property
    def topic(self) -> str:
        return self.source.topic

    def add(self, record: Record) -> None:
        if "skipped" in record:
            skipped = counted(int(record["skipped"]), "line")
            self.lines.append([("class:note", f"-- {skipped} skipped --")])
            return
        stream = str(record.get("stream", ""))
        ts = str(record.get("ts", ""))
        clock = ts[11:23] if len(ts) >= 23 else ts
        style = "class:stderr" if stream == "stderr" else ""
        self.lines.append(
            [
                ("class:time", clock),
                ("", f" {stream}| "),
                (style, safe_text(str(record.get("line", "")))),
            ]
        )
        if self.back:
            self.back = min(self.back + 1, len(self.lines) - 1)

    def text(self) -> StyleAndTextTuples:
        if not self.lines:
            return [("class:note", self.note or "(no lines yet)")]
        out: StyleAndTextTuples = []
        for number, line in enumerate(self.lines):
            if number:
                out.append(("", "\n"))
            out.extend(line)
        return out

    def cursor(self) -> Point:
        return Point(0, max(0, len(self.lines) - 1 - self.back))

    def scroll(self, by: int) -> None:
        self.back = max(0, min(self.back + by, len(self.lines) - 1))


class WatchView:
    """Build with the socket's URL and params, the panes (their stored tails already added),
    and where each topic's stored lines end; :meth:`run` blocks until the user leaves."""

    def __init__(
        self,
        base_url: str,
        params: Params,
        panes: Sequence[Pane],
        after: dict[str, int],
        env: Mapping[str, str],
    ) -> None:
        self.base_url, self.params, self.env = base_url, params, env
        self.panes = list(panes)
        self.after = after
        self.state = "connecting"
        self.focus = 0
        self.app: Application[None] = Application(
            layout=self._layout(),
            key_bindings=self._keys(),
            style=STYLE,
            full_screen=True,
            mouse_support=False,
        )

    def run(self) -> None:
        def start() -> None:
            self.app.create_background_task(self._follow())

        self.app.run(pre_run=start)

    # -- layout and keys ----------------------------------------------------------

    def _layout(self) -> Layout:
        rows: list[Window] = []
        for index, pane in enumerate(self.panes):
            rows.append(Window(FormattedTextControl(self._title(index)), height=1))
            rows.append(
                Window(
                    FormattedTextControl(pane.text, get_cursor_position=pane.cursor),
                    wrap_lines=False,
                    always_hide_cursor=True,
                )
            )
        rows.append(Window(FormattedTextControl(self._status), height=1, style="class:keys"))
        return Layout(HSplit(rows))

    def _title(self, index: int) -> Callable[[], StyleAndTextTuples]:
        def title() -> StyleAndTextTuples:
            pane = self.panes[index]
            style = "class:title.focused" if index == self.focus else "class:title"
            where = f" {pane.network}/{pane.app} "
            mode = f" scrolled up {pane.back} (End follows)" if pane.back else " following"
            return [(style, where + mode + " " * 400)]

        return title

    def _status(self) -> StyleAndTextTuples:
        return [("class:keys", f"{KEYS}│ {self.state} ")]

    def _keys(self) -> KeyBindings:
        keys = KeyBindings()

        @keys.add("q")
        @keys.add("escape", eager=True)
        @keys.add("c-c")
        @keys.add("c-d")
        def leave(event: KeyPressEvent) -> None:
            event.app.exit()

        @keys.add("tab")
        def next_pane(event: KeyPressEvent) -> None:
            self.focus = (self.focus + 1) % len(self.panes)

        for key, by in (("up", 1), ("down", -1), ("pageup", 20), ("pagedown", -20)):
            keys.add(key)(self._scroller(by))

        @keys.add("end")
        def follow(event: KeyPressEvent) -> None:
            self.panes[self.focus].back = 0

        return keys

    def _scroller(self, by: int) -> Callable[[KeyPressEvent], None]:
        def scroll(event: KeyPressEvent) -> None:
            self.panes[self.focus].scroll(by)

        return scroll

    # -- following ----------------------------------------------------------------

    async def _follow(self) -> None:
        socket = open_socket(self.base_url, self.params, self.env)
        socket.on_state(self._state)
        socket.connect()
        try:
            await asyncio.gather(*(self._pane(socket, pane) for pane in self.panes))
        finally:
            with contextlib.suppress(Exception):
                await socket.disconnect()

    async def _pane(self, socket: Socket, pane: Pane) -> None:
        after = {pane.topic: self.after[pane.topic]} if pane.topic in self.after else None
        follower = LogFollower(socket, [pane.topic], after)
        try:
            await follower.start()
        except (JoinError, TimeoutError) as error:
            pane.note = f"cannot follow {pane.app}: {error}"
            self.app.invalidate()
            return
        try:
            async for record in follower:
                pane.add(record)
                self.app.invalidate()
        except ConnectionError as error:
            pane.lines.append([("class:note", f"-- {error} --")])
        finally:
            await follower.stop()

    def _state(self, state: ConnectionState) -> None:
        if isinstance(state, Connected):
            self.state = "connected"
        elif isinstance(state, Reconnecting):
            self.state = f"reconnecting ({state.reason})"
        elif isinstance(state, Closed):
            self.state = "closed"
        self.app.invalidate()


def watch(ctx: Context, apps: Sequence[tuple[str, str]], tail: int) -> None:
    """Show each (network, app)'s last ``tail`` stored lines, then follow them all live."""
    from rig.api.live import api_socket

    api = ctx.api()
    panes: list[Pane] = []
    after: dict[str, int] = {}
    for network, app in apps:
        pane = Pane(network, app)
        page = api.logs(pane.source, tail=tail)
        for record in page.records:
            pane.add(dict(record))
        if page.resume_after is not None:
            after[pane.topic] = page.resume_after
        panes.append(pane)
    WatchView(*api_socket(api), panes, after, ctx.env).run()
