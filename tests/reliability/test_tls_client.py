"""rig and TLS: verified certificates, a private CA, TLS 1.2 at least, no plain HTTP off-host."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from tests.reliability.faulty import FaultyServer, answer
from tests.reliability.figures import IN_PROCESS, Figures
from tests.support.cli import Rig, Run, single_error_line
from tests.support.rig_main import run_main

ME = b'{"id": 1, "email": "a@example.com", "created_at": "2026-11-25T19:50:59Z"}'
TOKEN = {"RIG_TOKEN": "mxt_not-a-real-token"}

ServerFactory = Callable[..., FaultyServer]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[ServerFactory]:
    servers: list[FaultyServer] = []

    def start(
        host: str = "localhost",
        issuer: trustme.CA | None = None,
        maximum: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
    ) -> FaultyServer:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.maximum_version = maximum
        (issuer or ca).issue_cert(host).configure_cert(context)
        server = FaultyServer(tls=context).start()
        server.behaviour = answer(200, ME)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def whoami(rig: Rig, server: FaultyServer, **env: str) -> Run:
    return run_main(
        ["whoami", "-o", "json"], rig.config_dir, {**TOKEN, "RIG_API": server.url, **env}
    )


def test_a_certificate_from_a_trusted_ca_works_and_tls_13_is_used(
    rig: Rig, tls_server: ServerFactory, ca_file: str
) -> None:
    server = tls_server()
    run = whoami(rig, server, RIG_CA_BUNDLE=ca_file)
    assert run.code == 0, str(run)
    assert run.json()["email"] == "a@example.com"
    assert server.tls_versions == ["TLSv1.3"]


def test_ssl_cert_file_is_honoured_too(rig: Rig, tls_server: ServerFactory, ca_file: str) -> None:
    run = whoami(rig, tls_server(), SSL_CERT_FILE=ca_file)
    assert run.code == 0, str(run)


def test_tls_12_is_accepted_when_that_is_all_the_platform_offers(
    rig: Rig, tls_server: ServerFactory, ca_file: str
) -> None:
    server = tls_server(maximum=ssl.TLSVersion.TLSv1_2)
    assert whoami(rig, server, RIG_CA_BUNDLE=ca_file).code == 0
    assert server.tls_versions == ["TLSv1.2"]


def test_the_client_refuses_anything_older_than_tls_12() -> None:
    from rig.config import TlsSettings
    from rig.transport.security import ssl_context

    context = ssl_context(TlsSettings())
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize("case", ["wrong host name", "untrusted CA", "no CA given"])
def test_an_untrusted_certificate_is_one_clear_line_and_exit_6(
    rig: Rig, tls_server: ServerFactory, ca_file: str, figures: Figures, case: str
) -> None:
    with figures.fault(f"TLS: {case}", IN_PROCESS) as injected:
        if case == "wrong host name":
            server, env = tls_server(host="platform.example.org"), {"RIG_CA_BUNDLE": ca_file}
        elif case == "untrusted CA":
            server, env = tls_server(issuer=trustme.CA()), {"RIG_CA_BUNDLE": ca_file}
        else:
            server, env = tls_server(), {}
        run = whoami(rig, server, **env)
        injected.exit_code(run.code, 6, detail=run)
        error = json.loads(injected.one_clear_line(run.err))["error"]
        clear = "not trusted" in error["message"] and "RIG_CA_BUNDLE" in error["hint"]
        injected.held("says not trusted, hints RIG_CA_BUNDLE", clear, error)
        injected.state_intact(server.requests == 0, "a request went through")
        plain = run_main(["whoami"], rig.config_dir, {**TOKEN, "RIG_API": server.url, **env})
        line = injected.one_clear_line(plain.err, prefix="rig: ")
        injected.held("says certificate", "certificate" in line, line)


def test_a_bad_ca_bundle_is_a_usage_error(
    rig: Rig, tls_server: ServerFactory, tmp_path: Path
) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate")
    run = whoami(rig, tls_server(), RIG_CA_BUNDLE=str(bogus))
    assert run.code == 2, str(run)
    assert "RIG_CA_BUNDLE" in run.error_json()["error"]["hint"]


@pytest.mark.parametrize(
    "api", ["http://platform.example.com", "http://10.1.2.3:7400", "http://max.invalid/api/v1"]
)
def test_plain_http_off_this_machine_is_refused_without_insecure(rig: Rig, api: str) -> None:
    for command in (["whoami"], ["login", "--api", api, "--token", "mxt_x"]):
        run = run_main(command, rig.config_dir, {**TOKEN, "RIG_API": api, "RIG_TIMEOUT": "1"})
        assert run.code == 2, str(run)
        assert "--insecure" in single_error_line(run)


def test_insecure_allows_plain_http_and_loopback_never_needs_it(rig: Rig) -> None:
    api = "http://max.invalid"
    env = {**TOKEN, "RIG_API": api, "RIG_TIMEOUT": "1"}
    assert run_main(["whoami", "--insecure"], rig.config_dir, env).code == 6
    assert run_main(["whoami"], rig.config_dir, {**env, "RIG_INSECURE": "1"}).code == 6
    for local in ("http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"):
        run = run_main(["whoami"], rig.config_dir, {**env, "RIG_API": local})
        assert run.code == 6, str(run)
