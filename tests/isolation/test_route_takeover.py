"""The route takeover of issue 14: bob kills alice's app, binds her port the moment it is
free and serves his page there, so that the router would send him her visitors and their
``Authorization`` headers.

Without the sandbox the kill and the bind work (the attack is real), and the router's own
defence must still keep her visitors from bob: it forwards only to a listener of the app's
own process tree, so they get a clear 503, never his page. With the sandbox bob cannot even
kill or bind. Either way alice's app is back once bob lets go.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid

import httpx

from tests.isolation.world import ALICE_APP, ALICE_NET, ALICE_PAGE, PYTHON, World

HOLD_S = 8.0  # how long bob serves on the stolen port
VISITS = 10
RECOVERY_S = 90.0  # a wait: alice's restarts back off (1, 2, 4, 8 s ...) while bob holds


def visit(world: World, visitor: str) -> httpx.Response:
    return httpx.get(
        f"http://127.0.0.1:{world.platform.port}/",
        headers={
            "Host": f"{ALICE_APP}.{ALICE_NET}.localhost:{world.platform.port}",
            "Authorization": f"Bearer {visitor}",
        },
        timeout=10,
        trust_env=False,
    )


def collect(proc: subprocess.Popen[str], lines: list[str]) -> threading.Thread:
    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def wait_until(check: object, timeout: float, what: str) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_bob_cannot_take_over_alices_route(world: World) -> None:
    assert visit(world, "before").text == ALICE_PAGE
    proc = world.bob.popen("command", f"{PYTHON} attack.py takeover {HOLD_S}", *world.bob_target)
    lines: list[str] = []
    reader = collect(proc, lines)
    try:
        verdicts = ("TAKEOVER bound", "TAKEOVER bind refused")
        wait_until(lambda: any(v in line for line in lines for v in verdicts), 60, "bob's attempt")
        visitor = f"alice-visitor-{uuid.uuid4().hex}"
        responses = [visit(world, visitor) for _ in range(VISITS)]
    finally:
        proc.wait(60)
        reader.join(10)
    said = "\n".join(lines)
    bodies = [(r.status_code, r.text) for r in responses]
    assert all("bob's page" not in text for _, text in bodies), bodies
    assert visitor not in said, said
    if world.mode == "none":
        assert "TAKEOVER killed" in said and "TAKEOVER bound" in said, said
        assert all(status == 503 and "No app is serving at" in text for status, text in bodies), (
            bodies
        )
    else:
        assert "TAKEOVER kill refused" in said and "TAKEOVER bind refused" in said, said
        assert bodies == [(200, ALICE_PAGE)] * VISITS, bodies
    wait_until(lambda: visit(world, "after").text == ALICE_PAGE, RECOVERY_S, "alice's shop back")
