"""The official phoenix.js client (npm ``phoenix``, run by node) against the endpoint."""

from __future__ import annotations

import json
import subprocess

from tests.realtime.app import LogStore, ServerThread
from tests.support.phoenixjs import JS, node_client


def test_phoenix_js_joins_receives_and_is_refused(server: ServerThread, store: LogStore) -> None:
    node = node_client()
    topic, forbidden = "logs:app:alpha/web", "logs:app:beta/web"
    for i in range(3):
        store.append(topic, f"replayed {i}")
    endpoint = f"ws://127.0.0.1:{server.port}/socket"
    with subprocess.Popen(
        [node, "client.js", endpoint, "tok-alice", topic, forbidden, "5"],
        cwd=JS,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
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
