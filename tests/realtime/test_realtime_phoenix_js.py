"""The official phoenix.js client (npm ``phoenix``, run by node) against the endpoint."""

from __future__ import annotations

import json
import subprocess

from tests.realtime.app import LogStore, ServerThread
from tests.support.phoenixjs import JS, node_client


def phoenix_js(server: ServerThread, script: str, *args: str) -> subprocess.Popen[str]:
    """``node SCRIPT ENDPOINT TOKEN ARGS`` in tests/realtime/js, its output read line by line."""
    endpoint = f"ws://127.0.0.1:{server.port}/socket"
    return subprocess.Popen(
        [node_client(), script, endpoint, "tok-alice", *args],
        cwd=JS, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_phoenix_js_joins_receives_and_is_refused(server: ServerThread, store: LogStore) -> None:
    topic, forbidden = "logs:app:alpha/web", "logs:app:beta/web"
    for i in range(3):
        store.append(topic, f"replayed {i}")
    with phoenix_js(server, "client.js", topic, forbidden, "5") as proc:
        assert proc.stdout is not None and proc.stderr is not None
        events = []
        for line in proc.stdout:
            events.append(json.loads(line))
            if events[-1]["event"] == "joined":
                store.append(topic, "live 1")
                store.append(topic, "live 2")
        assert proc.wait(15) == 0, (events, proc.stderr.read())

    assert events[0] == {"event": "joined", "topic": topic, "response": {"first_seq": 1}}
    logs = [e["payload"] for e in events if e["event"] == "log"]
    assert [(r["seq"], r["line"]) for r in logs] == [
        (1, "replayed 0"),
        (2, "replayed 1"),
        (3, "replayed 2"),
        (4, "live 1"),
        (5, "live 2"),
    ]
    refused = [e for e in events if e["event"] == "refused"]
    assert refused == [
        {"event": "refused", "topic": forbidden, "response": {"reason": "unauthorized"}}
    ]


def test_phoenix_js_rejoins_after_a_server_restart_and_gets_its_replies(
    server: ServerThread, store: LogStore
) -> None:
    """phoenix.js's own reconnect and rejoin against the endpoint restarted under it: the log
    channel rejoins from the last seq it saw (its params a closure), is sent what was stored
    while the server was down and what comes after, each once; pushes get their replies
    before and after, and a push with no reply times out."""
    topic = "logs:app:alpha/web"
    store.append(topic, "stored")
    with phoenix_js(server, "rejoin.js", topic, "echo:js", "after restart") as proc:
        assert proc.stdout is not None and proc.stderr is not None
        events = []
        for line in proc.stdout:
            event = json.loads(line)
            events.append(event)
            if event["event"] == "reply" and event["response"]["n"] == 1:
                store.append(topic, "before restart")
            elif event["event"] == "log" and event["payload"]["line"] == "before restart":
                server.stop()  # every connection goes: phoenix.js must find its way back
                store.append(topic, "while down")
                server.start()
            elif event["event"] == "joined" and event["joins"] == 2:
                store.append(topic, "after restart")
        assert proc.wait(25) == 0, (events, proc.stderr.read())

    logs = [(e["payload"]["seq"], e["payload"]["line"]) for e in events if e["event"] == "log"]
    assert logs == [(1, "stored"), (2, "before restart"), (3, "while down"), (4, "after restart")]
    joins = [(e["joins"], e["after"]) for e in events if e["event"] == "joined"]
    assert joins == [(1, 0), (2, 2)]  # the rejoin asked for what came after seq 2
    assert [e["event"] for e in events].count("open") == 2
    replies = [e["response"] for e in events if e["event"] == "reply"]
    assert replies == [{"event": "shout", "n": 1}, {"event": "shout", "n": 2}]
    assert {"event": "timeout"} in events
    assert server.tokens_seen == ["tok-alice", "tok-alice"]
