"""The platform's log topics: which names parse, and the store key each one reads."""

from __future__ import annotations

import pytest

from maxlocal.live import LogTopic, user_topic
from maxlocal.runtime.logstore import LogRecord


@pytest.mark.parametrize(
    ("topic", "key"),
    [
        ("logs:app:shop/api", "shop/api"),
        ("logs:build:shop/api", "shop/api/build"),
        ("logs:network:shop", "shop"),
    ],
)
def test_log_topics_name_their_store_key(topic: str, key: str) -> None:
    parsed = LogTopic.parse(topic)
    assert parsed is not None and parsed.key == key


@pytest.mark.parametrize(
    "topic",
    [
        "logs:app:shop",
        "logs:app:shop/",
        "logs:app:/api",
        "logs:app:shop/api/build",
        "logs:network:shop/api",
        "logs:other:shop/api",
        "logs:network:",
        "status:user",
        "exec:shop/api",
    ],
)
def test_other_names_are_not_log_topics(topic: str) -> None:
    assert LogTopic.parse(topic) is None


def test_payloads_name_the_app_and_carry_the_release_on_build_topics() -> None:
    record = LogRecord(7, "t", "shop", "stdout", "hello", "web.1", release=3, app="api")
    network = LogTopic.parse("logs:network:shop")
    build = LogTopic.parse("logs:build:shop/api")
    assert network is not None and build is not None
    assert network.payload(record) == {
        "seq": 7, "ts": "t", "app": "api", "stream": "stdout", "line": "hello",
        "process": "web", "instance": "web.1",
    }  # fmt: skip
    assert build.payload(record)["release"] == 3
    assert user_topic(5) == "status:user:5"
