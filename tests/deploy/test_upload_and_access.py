"""Upload limits and framing, idempotent retries, and other users' apps staying invisible."""

from __future__ import annotations

import hashlib
import re
import socket

import httpx
import psutil

from tests.deploy.conftest import UPLOAD_LIMIT, Api, new_api, web_app
from tests.support.platform import Platform


def raw_request(platform: Platform, head: str, body: bytes = b"") -> str:
    """Send ``head`` (and ``body``) on a raw socket; return the whole response."""
    with socket.create_connection(("127.0.0.1", platform.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        headers, _, content = received.partition(b"\r\n\r\n")
        length = re.search(rb"content-length: (\d+)", headers, re.IGNORECASE)
        while length and len(content) < int(length.group(1)):
            content += sock.recv(65536)
        return (headers + b"\r\n\r\n" + content).decode("latin-1")


def upload_head(platform: Platform, api: Api, network: str, app: str, headers: str) -> str:
    token = api.http.headers["Authorization"]
    return (
        f"POST /api/v1/networks/{network}/apps/{app}/releases HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{platform.port}\r\nAuthorization: {token}\r\n"
        f"X-Checksum-Sha256: {'a' * 64}\r\nContent-Type: application/gzip\r\n{headers}\r\n"
    )


def test_health_announces_the_upload_limit(shared_platform: Platform) -> None:
    health = httpx.get(f"{shared_platform.url}/api/v1/health", trust_env=False).json()
    assert health["max_upload_bytes"] == UPLOAD_LIMIT


def test_too_large_is_refused_before_the_body_is_sent(api: Api, shared_platform: Platform) -> None:
    network, app = api.new_app()
    head = upload_head(shared_platform, api, network, app, f"Content-Length: {10 * 1024**3}\r\n")
    answer = raw_request(shared_platform, head)
    assert answer.startswith("HTTP/1.1 413"), answer
    assert "payload_too_large" in answer
    assert api.http.get(f"/networks/{network}/apps/{app}/releases").json() == []


def test_an_upload_needs_its_length_and_checksum(api: Api, shared_platform: Platform) -> None:
    network, app = api.new_app()
    chunked = upload_head(shared_platform, api, network, app, "Transfer-Encoding: chunked\r\n")
    assert raw_request(shared_platform, chunked, b"0\r\n\r\n").startswith("HTTP/1.1 411")
    response = api.http.post(
        f"/networks/{network}/apps/{app}/releases",
        content=b"data",
        headers={"Content-Type": "application/gzip"},
    )
    assert (
        response.status_code == 422 and "X-Checksum-Sha256" in response.json()["error"]["message"]
    )


def test_a_retried_upload_with_the_same_idempotency_key_makes_one_release(api: Api) -> None:
    network, app = api.new_app()
    data = web_app("v1")
    headers = {
        "Content-Type": "application/gzip",
        "X-Checksum-Sha256": hashlib.sha256(data).hexdigest(),
        "Idempotency-Key": "deploy-1",
    }
    path = f"/networks/{network}/apps/{app}/releases"
    first = api.http.post(path, content=data, headers=headers)
    second = api.http.post(path, content=data, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["number"] == second.json()["number"] == 1
    api.wait(network, app, 1)
    assert len(api.http.get(path).json()) == 1


def test_another_user_gets_404_on_every_deploy_endpoint(
    api: Api, shared_platform: Platform
) -> None:
    network, app = api.new_app()
    api.deploy(network, app, web_app("v1"))
    bob = new_api(shared_platform)
    scope = f"/networks/{network}/apps/{app}"
    data = web_app("evil")
    refused = [
        bob.upload(network, app, data),
        bob.http.get(f"{scope}/releases"),
        bob.http.get(f"{scope}/releases/1"),
        bob.http.post(f"{scope}/rollback", json={}),
        bob.http.post(f"{scope}/restart"),
        bob.http.post(f"{scope}/stop"),
        bob.http.post(f"{scope}/start"),
        bob.http.get(f"{scope}/status"),
        bob.http.get(f"/networks/{network}/status"),
        bob.http.get(f"{scope}/logs"),
        bob.http.get(f"{scope}/logs/build"),
        bob.http.get(f"/networks/{network}/logs"),
    ]
    for response in refused:
        assert response.status_code == 404, (response.request.url, response.text)
        assert response.json()["error"]["code"] == "not_found"
    assert bob.http.get("/status").json() == {
        "networks": [],
        "totals": {"networks": 0, "apps": 0, "running": 0, "failing": 0},
    }
    assert api.status(network, app)["state"] == "running"
    assert len(api.http.get(f"{scope}/releases").json()) == 1
    dashboard = api.http.get("/status").json()
    assert dashboard["totals"]["running"] >= 1


def test_deleting_an_app_stops_it_and_removes_its_files(
    api: Api, shared_platform: Platform
) -> None:
    network, app = api.new_app()
    api.deploy(network, app, web_app("v1"))
    pid = api.status(network, app)["processes"][0]["pids"][0]
    assert api.http.delete(f"/networks/{network}/apps/{app}").status_code == 204
    data = shared_platform.data_dir
    for folder in ("artifacts", "releases"):
        assert not (data / folder / network / app).exists()
    assert not list((data / "logs").glob(f"{network}%2F{app}*"))  # the network's log stays
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
