"""TLS settings travel in the Context: a command's own environment, not the process's, says which
CAs to trust, whether plain http off this machine is allowed, and how long to wait."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from rig.context import Context
from rig.errors import UnreachableError, UsageError
from tests.reliability.faulty import FaultyServer, answer

ME = b'{"id": 1, "email": "a@example.com", "created_at": "2026-11-25T19:50:59Z"}'
OFF_HOST = "http://platform.example.org"


@pytest.fixture
def process_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process's own settings, which a Context given its own environment must not use."""
    monkeypatch.setenv("RIG_TIMEOUT", "not-a-number")
    monkeypatch.setenv("RIG_INSECURE", "1")
    monkeypatch.setenv("RIG_CA_BUNDLE", "/nonexistent/ca.pem")


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[FaultyServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(context)
    server = FaultyServer(tls=context).start()
    server.behaviour = answer(200, ME)
    yield server
    server.stop()


def token_ctx(api: str, **env: str) -> Context:
    return Context(env={"RIG_API": api, "RIG_TOKEN": "mxt_not-a-real-token", **env}, api_url=api)


@pytest.mark.usefixtures("process_env")
def test_the_settings_come_from_the_contexts_environment() -> None:
    tls = Context(env={"RIG_TIMEOUT": "2.5", "RIG_CA_BUNDLE": "ca.pem"}).tls
    assert (tls.timeout, tls.ca_file, tls.plain_http_allowed) == (2.5, "ca.pem", False)
    assert Context(env={"SSL_CERT_FILE": "sys.pem"}).tls.ca_file == "sys.pem"
    assert Context(env={}, insecure=True).tls.plain_http_allowed
    assert Context(env={"RIG_INSECURE": "1"}).tls.plain_http_allowed


@pytest.mark.usefixtures("process_env")
def test_plain_http_off_this_machine_needs_the_contexts_permission() -> None:
    with pytest.raises(UsageError, match="refusing plain http://"):
        token_ctx(OFF_HOST).api()
    client = token_ctx(OFF_HOST, RIG_INSECURE="1", RIG_TIMEOUT="3").api().client
    assert client.tls.timeout == 3.0


def test_a_bad_timeout_in_the_context_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="RIG_TIMEOUT must be a positive number"):
        token_ctx("http://127.0.0.1:9", RIG_TIMEOUT="soon").api()


@pytest.mark.usefixtures("process_env")
def test_the_contexts_ca_bundle_is_the_one_trusted(
    tls_server: FaultyServer, ca: trustme.CA, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    trusted = token_ctx(tls_server.url, RIG_CA_BUNDLE=str(ca_file))
    try:
        assert trusted.api().client.get("/me")["email"] == "a@example.com"
    finally:
        trusted.close()
    untrusted = token_ctx(tls_server.url)  # certifi's CAs: the private CA is not among them
    with pytest.raises(UnreachableError, match="not trusted"):
        untrusted.api().client.get("/me")
    untrusted.close()
