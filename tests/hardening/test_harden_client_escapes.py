"""Issue 15, finding 13: terminal escapes an app writes reached the user's terminal.

An app (or its build) that logs OSC 52 (write the clipboard), OSC 0 (the window title) or a
bidi override had them executed by the terminal of whoever ran ``rig logs`` or ``rig deploy``.
Now every place app-controlled text reaches a terminal shows them escaped (``\\x1b]52;...``)
through one function (``rig.output.terminal.safe_text``); SGR colours are kept on a colour
terminal (closed at the end of the line), dropped without colour; ``-o json`` keeps the raw text.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from tests.support.cli import Rig, finished
from tests.support.cli import on_terminal as spawn
from tests.support.platform import PlatformFactory

OSC52 = "\x1b]52;c;cm0gLXJmIH4K\x07"  # clipboard := "rm -rf ~"
TITLE = "\x1b]0;pwned\x07"
BIDI = "\u202eevil\u202c"
RED = "\x1b[31mred\x1b[0m"
LINES = [f"clip {OSC52} end", f"title {TITLE} end", f"bidi {BIDI} end", f"colour {RED} end"]
ESCAPED = ["clip \\x1b]52;c;cm0gLXJmIH4K\\x07 end", "title \\x1b]0;pwned\\x07 end"]
RAW = ("\x1b]", "\x07", "\u202e")  # none of these may reach the terminal

PRINTER = textwrap.dedent(
    f"""
    import sys, time
    for line in {LINES!r}:
        print(line, flush=True)
    if len(sys.argv) > 1:
        sys.exit(int(sys.argv[1]))
    time.sleep(600)
    """
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Rig, Path]]:
    """A platform, a logged-in rig, and a project whose build and worker print ``LINES``."""
    factory = PlatformFactory(tmp_path_factory.mktemp("platform"))
    platform = factory(health_timeout=150)
    rig = Rig(tmp_path_factory.mktemp("rig-config"))
    creds = platform.bootstrap()
    rig.login(platform, creds["email"], creds["password"])
    rig.ok("create", "network", "shop")
    source = tmp_path_factory.mktemp("app")
    (source / "printer.py").write_text(PRINTER)
    (source / "Procfile").write_text("worker: python3 printer.py\n")
    (source / "rig.toml").write_text('build = "python3 printer.py 0"\n')
    yield rig, source
    factory.stop_all()


def on_terminal(rig: Rig, *args: str) -> pexpect.spawn:
    return spawn(rig, *args, colour=True, timeout=90)


def assert_escaped(out: str) -> None:
    leaked = [seq for seq in RAW if seq in out]
    assert not leaked, f"raw escapes reached the terminal: {leaked!r} in {out!r}"
    for line in ESCAPED:
        assert line in out, out


def test_deploy_and_logs_show_an_apps_escapes_escaped(hostile: tuple[Rig, Path]) -> None:
    rig, source = hostile
    code, out = finished(
        on_terminal(rig, "deploy", str(source), "--app", "api", "--network", "shop", "--create")
    )
    assert code == 0, out
    assert_escaped(out)  # the build log, live

    code, out = finished(on_terminal(rig, "logs", "app", "api", "--network", "shop"))
    assert code == 0, out
    assert_escaped(out)
    assert "bidi \\u202eevil\\u202c end" in out
    assert f"colour {RED}\x1b[0m end" in out or f"colour {RED} end" in out  # colour kept

    child = on_terminal(rig, "logs", "app", "api", "--network", "shop", "-f", "--tail", "20")
    child.expect_exact(ESCAPED[1], timeout=30)
    seen = child.before or ""
    child.sendintr()
    finished(child)
    assert ESCAPED[0] in seen and not [seq for seq in RAW if seq in seen], seen

    # without colour (a pipe): no escape at all, SGR dropped
    plain = rig.ok("logs", "app", "api", "--network", "shop")
    assert "\x1b" not in plain.out and "colour red end" in plain.out, plain.out
    assert ESCAPED[0] in plain.out

    # -o json keeps the app's bytes
    records = [
        json.loads(line)
        for line in rig.ok("logs", "app", "api", "--network", "shop", "-o", "json").out.splitlines()
    ]
    assert [r["line"] for r in records if r.get("stream") == "stdout"][-4:] == LINES


def test_a_failed_builds_log_tail_shows_escapes_escaped(
    hostile: tuple[Rig, Path], tmp_path: Path
) -> None:
    rig, source = hostile
    failing = tmp_path / "failing"
    failing.mkdir()
    for name in ("printer.py", "Procfile"):
        (failing / name).write_text((source / name).read_text())
    (failing / "rig.toml").write_text('build = "python3 printer.py 3"\n')
    code, out = finished(
        on_terminal(rig, "deploy", str(failing), "--app", "bad", "--network", "shop", "--create")
    )
    assert code != 0 and "failed" in out, out
    assert_escaped(out)
    assert out.count(ESCAPED[0]) >= 2, out  # live, and again in the failure's log tail
