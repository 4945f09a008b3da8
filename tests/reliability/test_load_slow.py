"""Load: 50 clients creating, listing and deleting, and 20 ``rig logs -f`` followers, for
RIG_LOAD_SECONDS (60) against one platform: no errors, no log line lost or doubled, the
platform's memory bounded. Marked ``load``: ./test leaves it out; run it with
``scripts/reliability-report --load``."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.deploy.conftest import Api, archive, new_api
from tests.reliability.deploys import wait_until
from tests.reliability.figures import Figures
from tests.reliability.follows import LINES_PER_S, check_follow, start_follower, ticker_app
from tests.support.cli import Rig
from tests.support.platform import PlatformFactory

pytestmark = [pytest.mark.slow, pytest.mark.load]

SECONDS = float(os.environ.get("RIG_LOAD_SECONDS", "60"))
CLIENTS = 50
FOLLOWERS = 20
RSS_GROWTH_LIMIT = 150 * 1024 * 1024


def churn(
    api: Api, index: int, stop: threading.Event, counts: Counter[str], errors: list[str]
) -> None:
    """Create a network and an app, list, set a var, read details, delete; again until told."""
    round_ = 0
    while not stop.is_set():
        round_ += 1
        network = f"load-{index}-{round_}"
        steps: list[tuple[str, str, Any, set[int]]] = [
            ("POST", "/networks", {"name": network}, {201}),
            ("POST", f"/networks/{network}/apps", {"name": "web"}, {201}),
            ("GET", "/apps", None, {200}),
            ("PATCH", f"/networks/{network}/apps/web/vars", {"vars": {"K": str(round_)}}, {200}),
            ("GET", f"/networks/{network}/apps/web", None, {200}),
            ("GET", "/networks", None, {200}),
            ("DELETE", f"/networks/{network}?force=true", None, {204}),
        ]
        for method, path, body, ok in steps:
            try:
                response = api.http.request(method, path, json=body)
            except httpx.HTTPError as exc:
                errors.append(f"{method} {path}: {type(exc).__name__}: {exc}")
                continue
            counts["requests"] += 1
            if response.status_code not in ok:
                errors.append(f"{method} {path}: {response.status_code} {response.text[:200]}")


@pytest.mark.timeout(SECONDS + 240)
def test_fifty_clients_and_twenty_followers(
    platform_factory: PlatformFactory, rig: Rig, tmp_path: Path, figures: Figures
) -> None:
    platform = platform_factory(health_timeout=20)
    server = psutil.Process(platform.process.pid)  # type: ignore[union-attr]
    owner = new_api(platform)
    token = str(owner.http.headers["Authorization"]).removeprefix("Bearer ")
    rig.ok("login", "--api", platform.url, "--token", token)
    assert owner.http.post("/networks", json={"name": "live"}).status_code == 201
    assert owner.http.post("/networks/live/apps", json={"name": "ticker"}).status_code == 201
    files, written = ticker_app(platform)
    release = owner.deploy("live", "ticker", archive(files))
    assert release["status"] == "active", release

    followers = [start_follower(rig, i, tmp_path) for i in range(FOLLOWERS)]
    wait_until(
        lambda: all(out.stat().st_size > 0 for _, out in followers), 30, "followers to start"
    )
    baseline = server.memory_info().rss
    apis = [new_api(platform) for _ in range(CLIENTS)]
    stop = threading.Event()
    counts: Counter[str] = Counter()
    errors: list[str] = []
    threads = [
        threading.Thread(target=churn, args=(api, i, stop, counts, errors), daemon=True)
        for i, api in enumerate(apis)
    ]
    for thread in threads:
        thread.start()
    peak = baseline
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        peak = max(peak, server.memory_info().rss)
        time.sleep(1)
    stop.set()
    for thread in threads:
        thread.join(30)
    time.sleep(1)
    for proc, _ in followers:
        proc.interrupt()  # Ctrl+C on its terminal
    follow_errors = []
    for proc, _ in followers:
        code, err, _ = proc.finish(20)
        if code != 130 or "Traceback" in err:
            follow_errors.append(f"exit {code}: {err[-300:]}")
    totals = [check_follow(out, written) for _, out in followers]
    lines = sum(t.lines for t in totals)
    lost = sum(t.lost for t in totals)
    doubled = sum(t.doubled for t in totals)
    follow_errors += [problem for t in totals for problem in t.problems[:5]]
    figures.set(
        "load",
        {
            "seconds": SECONDS,
            "clients": CLIENTS,
            "followers": FOLLOWERS,
            "requests": counts["requests"],
            "errors": len(errors) + len(follow_errors),
            "lines_followed": lines,
            "lines_lost": lost,
            "lines_doubled": doubled,
            "rss_baseline_mib": round(baseline / 2**20, 1),
            "rss_peak_mib": round(peak / 2**20, 1),
        },
    )
    figures.add("lines_followed", lines)
    figures.add("lines_lost", lost)
    figures.add("lines_doubled", doubled)
    for api in apis:
        api.http.close()
    assert not errors, "\n".join(errors[:20])
    assert not follow_errors, "\n".join(follow_errors)
    assert lines >= FOLLOWERS * LINES_PER_S * SECONDS * 0.5
    assert lost == 0 and doubled == 0
    assert peak - baseline < RSS_GROWTH_LIMIT, f"RSS grew {(peak - baseline) / 2**20:.0f} MiB"
