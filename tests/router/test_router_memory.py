"""Bodies stream through the edge: a large download and upload leave the router's memory flat
(psutil on the HAProxy process)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator

import httpx

from tests.router.conftest import Served

MB = 1 << 20
DOWNLOAD_MB = 256
UPLOAD_MB = 48  # under the platform's body limit, which does not apply to apps anyway
FLAT_MB = 20
SLOW_UPLOADS, SLOW_UPLOAD_MB = 8, 4  # the app reads 64 KiB every 2 ms: ~0.15 s each
SLOW_S = 20  # well under the router's 60 s server timeout: a stall shows as a timeout here


class Peak:
    """Samples a process's RSS every 20 ms while in use."""

    def __init__(self, served: Served) -> None:
        self.proc = served.router_process()
        self.start = self.proc.memory_info().rss
        self.peak = self.start
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def grown_mb(self) -> float:
        return (self.peak - self.start) / MB


def test_a_large_download_streams_with_flat_router_memory(served: Served) -> None:
    received = 0
    with (
        Peak(served) as peak,
        httpx.stream(
            "GET",
            f"http://127.0.0.1:{served.platform.port}/big?mb={DOWNLOAD_MB}",
            headers={"Host": served.host()},
            trust_env=False,
            timeout=60,
        ) as response,
    ):
        for chunk in response.iter_raw(MB):
            received += len(chunk)
    assert received == DOWNLOAD_MB * MB
    assert peak.grown_mb <= FLAT_MB, peak.grown_mb


def upload(served: Served, megabytes: int, path: str = "/upload") -> None:
    """POST ``megabytes`` MiB to the app, which answers with the length and sha256 it read."""
    block = bytes(range(256)) * 4096  # 1 MiB
    digest = hashlib.sha256()

    def body() -> Iterator[bytes]:
        for _ in range(megabytes):
            digest.update(block)
            yield block

    response = httpx.post(
        f"http://127.0.0.1:{served.platform.port}{path}",
        headers={"Host": served.host(), "Content-Length": str(megabytes * MB)},
        content=body(),
        trust_env=False,
        timeout=SLOW_S,
    )
    assert response.text.split() == [str(megabytes * MB), digest.hexdigest()]


def test_a_large_upload_streams_with_flat_router_memory(served: Served) -> None:
    with Peak(served) as peak:
        upload(served, UPLOAD_MB)
    assert peak.grown_mb <= FLAT_MB, peak.grown_mb


def test_uploads_to_an_app_slower_than_its_visitor_arrive_whole(served: Served) -> None:
    """The app's receive buffer stays full, so the forwarder into its network's namespace
    often holds bytes the app cannot take yet, with nothing more coming: each time it must
    wait for the app, not for the visitor (pasta's forwarding in Debian 12's passt lost
    track of them now and then: the upload stalled until the router's 504, a minute on)."""
    for _ in range(SLOW_UPLOADS):
        upload(served, SLOW_UPLOAD_MB, "/upload?slow")
