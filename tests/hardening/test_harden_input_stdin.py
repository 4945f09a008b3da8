"""Issue 15, finding 4: exec stdin was unbounded. Thirty 10 MiB stdin frames to ``sleep 30``
were all queued in the platform (722 -> 1090 MB). Now a session's stdin that its process has
not read yet is bounded: the platform stops reading the connection (the client waits, as on a
pipe), and a frame over the socket's size limit (2 MiB) closes the connection (1009) unread."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.deploy.conftest import Api, new_api
from tests.hardening.harden_input_helpers import (
    MiB,
    PeakRss,
    join_command,
    own_platform,
    run_command,
    server_pid,
    socket_url,
)
from tests.support.platform import Platform

GROWTH_LIMIT_MIB = 60.0  # the attack queued ~370 MiB


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with own_platform(tmp_path_factory, "stdin") as platform:
        yield platform


@pytest.fixture
def tenant(platform: Platform) -> Iterator[tuple[Api, str, str]]:
    api = new_api(platform)
    network = f"stdin-{time.monotonic_ns()}"
    assert api.http.post("/networks", json={"name": network}).status_code == 201
    yield api, str(api.http.headers["Authorization"]).removeprefix("Bearer "), network
    api.http.close()


def stdin_frame(topic: str, ref: int, data: bytes) -> str:
    return json.dumps(["1", str(ref), topic, "stdin", {"data": base64.b64encode(data).decode()}])


def flood(
    platform: Platform, token: str, topic: str, frame_bytes: int, frames: int
) -> tuple[int, bool]:
    """Send ``frames`` stdin frames of ``frame_bytes`` to ``sleep 30`` (which reads none), for
    at most 10 s: how many bytes the platform took before the connection blocked or closed,
    and whether the platform closed it."""
    sent = 0
    closed = False
    url = socket_url(platform, token)
    # Uncompressed: the bytes on the wire are the bytes sent (deflate would make 64 KiB of
    # "x" a few hundred bytes, which the connection's buffers hold by the thousand).
    with connect(url, open_timeout=10, max_size=None, compression=None) as ws:
        join_command(ws, topic, "sleep 30")

        def send_all() -> None:
            nonlocal sent, closed
            data = b"x" * frame_bytes
            try:
                for ref in range(2, frames + 2):
                    ws.send(stdin_frame(topic, ref, data))
                    sent += frame_bytes
            except (ConnectionClosed, OSError):
                closed = True

        sender = threading.Thread(target=send_all, daemon=True)
        sender.start()
        sender.join(10)
        time.sleep(1)  # what was sent is taken in, or not
    return sent, closed


def test_big_stdin_frames_are_not_queued(platform: Platform, tenant: tuple[Api, str, str]) -> None:
    _, token, network = tenant
    with PeakRss(server_pid(platform)) as rss:
        sent, closed = flood(platform, token, f"exec:network:{network}", 10 * MiB, 30)
    print(
        f"sent {sent / MiB:.0f} MiB of stdin: server RSS {rss.before / MiB:.0f} MiB, "
        f"peak +{rss.growth_mib:.0f} MiB"
    )
    assert rss.growth_mib < GROWTH_LIMIT_MIB, f"the server grew by {rss.growth_mib:.0f} MiB"
    assert closed and sent == 0, f"the platform took {sent / MiB:.0f} MiB of it"


def test_a_flood_of_ordinary_frames_waits_for_the_process(
    platform: Platform, tenant: tuple[Api, str, str]
) -> None:
    """rig's own frame size (64 KiB): the platform takes a little and then makes the client
    wait, instead of queueing all of it."""
    _, token, network = tenant
    with PeakRss(server_pid(platform)) as rss:
        sent, _ = flood(platform, token, f"exec:network:{network}", 64 * 1024, 4096)
    print(
        f"sent {sent / MiB:.0f} of 256 MiB of stdin before waiting: "
        f"server peak +{rss.growth_mib:.0f} MiB"
    )
    assert sent < 64 * MiB, f"the platform took {sent / MiB:.0f} MiB nobody reads"
    assert rss.growth_mib < GROWTH_LIMIT_MIB, f"the server grew by {rss.growth_mib:.0f} MiB"


def test_stdin_still_reaches_a_process_that_reads_it(
    platform: Platform, tenant: tuple[Api, str, str]
) -> None:
    """Backpressure loses nothing: 8 MiB through ``wc -c`` in rig-sized frames."""
    _, token, network = tenant
    topic = f"exec:network:{network}"
    with connect(socket_url(platform, token), open_timeout=10, max_size=None) as ws:
        join_command(ws, topic, "wc -c")
        for ref in range(2, 130):
            ws.send(stdin_frame(topic, ref, b"y" * 65536))
        ws.send(json.dumps(["1", "999", topic, "eof", {}]))
        output = b""
        while True:
            _, _, got, event, payload = json.loads(ws.recv(timeout=60))
            if got == topic and event == "stdout":
                output += base64.b64decode(payload["data"])
            elif got == topic and event == "exit":
                break
    assert output.strip() == str(128 * 65536).encode()
    assert run_command(platform, token, topic, "echo still")[1] == "still\n"
