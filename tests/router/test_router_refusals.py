"""Issue 15 items 8 and 9: targets that could steer the upstream are refused, and a visitor
cannot tell an unknown app from one that exists but is not serving."""

from __future__ import annotations

import httpx

from tests.router.conftest import Served, raw_exchange


def test_non_origin_form_targets_are_refused(served: Served) -> None:
    app_port = served.app_port()
    for target in (
        f"@127.0.0.1:{app_port}/hello",
        f"http://127.0.0.1:{app_port}/hello",
        f"http://{served.host()}/hello",
        f"127.0.0.1:{app_port}",
    ):
        request = f"GET {target} HTTP/1.1\r\nHost: {served.host()}\r\nConnection: close\r\n\r\n"
        answer = raw_exchange(served.platform.port, request.encode())
        assert answer.startswith(b"HTTP/1.1 400"), (target, answer)
        assert b"hello from" not in answer


def test_an_unknown_app_and_a_stopped_one_get_the_same_answer(served: Served) -> None:
    api = served.api
    network, _ = api.new_app("quiet")
    assert api.http.post(f"/networks/{network}/apps", json={"name": "dormant"}).status_code == 201

    def visit(name: str, net: str) -> tuple[int, str]:
        response = httpx.get(
            f"http://127.0.0.1:{served.platform.port}/",
            headers={"Host": f"{name}.{net}.localhost:{served.platform.port}"},
            trust_env=False,
        )
        text = response.text.replace(f"{name}.{net}", "NAME").replace(name, "A")
        return response.status_code, text.replace(net, "N")

    answers = {
        "never deployed": visit("dormant", network),
        "no such app": visit("ghost", network),
        "no such network": visit("ghost", "nowhere"),
    }
    assert len(set(answers.values())) == 1, answers
    assert answers["no such app"][0] == 503
    # stopped: the running app of this network, stopped now, answers the same
    stopped_network, stopped = served.network, "other"
    scope = f"/networks/{stopped_network}/apps/{stopped}"
    assert api.http.post(f"{scope}/stop").status_code == 200
    try:
        assert visit(stopped, stopped_network) == answers["no such app"]
    finally:
        assert api.http.post(f"{scope}/start").status_code == 200


def test_an_oversized_request_head_is_refused(served: Served) -> None:
    response = httpx.get(
        f"http://127.0.0.1:{served.platform.port}/hello",
        headers={"Host": served.host(), "X-Big": "y" * 70_000},
        trust_env=False,
    )
    assert response.status_code in (400, 431)


def test_the_router_in_use_is_reported(served: Served) -> None:
    health = httpx.get(f"{served.platform.url}/api/v1/health", trust_env=False).json()
    assert health["router"]["mode"] == "haproxy"
    status = served.rig.ok("local", "status", "--data", str(served.platform.data_dir), "-o", "json")
    assert status.json()["router"].startswith("haproxy — HAProxy 2.")
