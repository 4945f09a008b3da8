"""The swarm rows of the bench (bench/swarm.py) in a smoke run of their own, so that they
cannot rot: the quick run of the whole bench leaves them out (two more platforms and their
deploys would take its time budget)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bench import quick_bench
from tests.support.docker import docker_client

__all__ = ["docker_client"]


@pytest.mark.slow
@pytest.mark.swarm
@pytest.mark.alone  # the bench times what it runs
@pytest.mark.timeout(300)
def test_quick_swarm_bench_reports_each_row_beside_the_process_runtime(
    tmp_path: Path, docker_client: object
) -> None:
    report, _ = quick_bench(tmp_path, "--swarm")
    figures = report["figures"]
    assert [f["name"].split(" over ")[0] for f in figures] == [
        "swarm: deploy to serving",
        "swarm: rollback until the old version serves",
        "swarm: rig command true round trip",
        "swarm: log latency p50",
        "swarm: log latency p99",
    ]
    for f in figures:
        assert f["value"] > 0 and f["reference"] > 0, f
        assert f["reference_name"] == "process runtime", f
