"""Issue 15, finding 11: sign-in budgets, and a device approval page that says who asked and
approves only when told to.

Before the fix a password could be guessed as fast as the platform answered, on the API and on
the device page; the page could be framed by any site (clickjacking its button), said nothing
of the client that asked, and approved when no decision was sent. Each test here does that to
a platform of its own (budgets are per platform process).
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

from maxlocal.throttle import ACCOUNT_BUDGET, ADDRESS_BUDGET
from tests.support.cli import Rig, single_error_line, unique_email
from tests.support.platform import Platform

CLIENT = "rig/9.9.9 (the asking client)"


def login(platform: Platform, email: str, password: str) -> httpx.Response:
    body = {"email": email, "password": password}
    return httpx.post(f"{platform.url}/api/v1/auth/login", json=body, timeout=30)


def assert_limited(answer: httpx.Response, whose: str) -> None:
    assert answer.status_code == 429, f"{answer.status_code} {answer.text[:200]}"
    retry = int(answer.headers["Retry-After"])
    assert 0 < retry <= 300
    assert f"for {whose}" in answer.text and f"try again in {retry} s" in answer.text


def test_guessing_a_password_is_stopped_after_the_accounts_budget(
    platform: Platform, rig: Rig
) -> None:
    victim = platform.add_login(unique_email("victim"))
    for _ in range(ACCOUNT_BUDGET):
        assert login(platform, victim["email"], "guess").status_code == 401
    limited = login(platform, victim["email"], "guess")
    assert_limited(limited, "this account")
    assert limited.json()["error"]["code"] == "rate_limited"
    # The right password does not get through either: that would tell the guesser.
    assert login(platform, victim["email"], victim["password"]).status_code == 429
    # Another account is served as before.
    other = platform.add_login(unique_email("other"))
    assert login(platform, other["email"], other["password"]).status_code == 200
    # rig says so in one line, exiting 3 (not logged in), as docs/ci.md's table says.
    run = rig(
        "login", "--api", platform.url, "--email", victim["email"], "--password-stdin",
        input=victim["password"] + "\n",
    )  # fmt: skip
    line = single_error_line(run)
    assert run.code == 3 and "too many failed sign-ins" in line and "try again in" in line


def test_guessing_across_accounts_is_stopped_after_the_addresss_budget(
    platform: Platform,
) -> None:
    for n in range(ADDRESS_BUDGET):
        assert login(platform, f"nobody{n}@example.com", "guess").status_code == 401
    assert_limited(login(platform, "one-more@example.com", "guess"), "this address")


def device_code(platform: Platform) -> dict[str, Any]:
    answer = httpx.post(
        f"{platform.url}/api/v1/auth/device", json={}, headers={"User-Agent": CLIENT}, timeout=30
    )
    assert answer.status_code == 201
    return dict(answer.json())


def poll(platform: Platform, grant: dict[str, Any]) -> str:
    """The device's poll, at its pace: the error code while it is not approved."""
    wait = grant.get("polled_at", 0.0) + grant["interval"] - time.monotonic()
    time.sleep(max(wait, 0.0))
    grant["polled_at"] = time.monotonic()
    answer = httpx.post(
        f"{platform.url}/api/v1/auth/device/token",
        json={"device_code": grant["device_code"]},
        timeout=30,
    )
    return "approved" if answer.status_code == 200 else str(answer.json()["error"]["code"])


def test_the_device_page_has_its_own_budget_and_cannot_be_framed(platform: Platform) -> None:
    user = platform.add_login(unique_email("device"))
    grant = device_code(platform)
    page = grant["verification_uri"]
    shown = httpx.get(page, params={"code": grant["user_code"]}, timeout=30)
    assert shown.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in shown.headers["Content-Security-Policy"]
    form = {"code": grant["user_code"], "email": user["email"], "password": "guess"}
    for _ in range(ACCOUNT_BUDGET):
        assert httpx.post(page, data=form, timeout=30).status_code == 401
    limited = httpx.post(page, data={**form, "password": user["password"]}, timeout=30)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "too many failed sign-ins" in limited.text
    assert limited.headers["X-Frame-Options"] == "DENY"
    docs = httpx.get(f"{platform.url}/api/v1/docs", timeout=30)
    assert docs.headers["X-Frame-Options"] == "DENY"
    assert poll(platform, grant) == "authorization_pending"


def sign_in(platform: Platform, grant: dict[str, Any], user: dict[str, str]) -> httpx.Response:
    form = {"code": grant["user_code"], "email": user["email"], "password": user["password"]}
    return httpx.post(grant["verification_uri"], data=form, timeout=30)


def test_the_approval_page_says_who_asked_and_denies_unless_told(platform: Platform) -> None:
    user = platform.add_login(unique_email("approver"))
    grant = device_code(platform)
    signed_in = sign_in(platform, grant, user)
    assert signed_in.status_code == 200
    page = signed_in.text
    assert CLIENT in page and "127.0.0.1" in page, page
    assert re.search(time.strftime(r"%Y-%m-%d \d\d:\d\d:\d\d UTC", time.gmtime()), page), page
    assert poll(platform, grant) == "authorization_pending", "signing in approved the login"
    # the form's default button is Deny
    buttons = re.findall(r'<button name="decision" value="(\w+)"', page)
    assert buttons[0] == "deny", buttons
    fields = dict(re.findall(r'name="(user|confirm)" value="([^"]+)"', page))
    # a forged or cross-site approval is refused; the code stays pending
    forged = {"code": grant["user_code"], "user": fields["user"], "confirm": "0" * 64}
    assert (
        httpx.post(grant["verification_uri"], data={**forged, "decision": "approve"}).status_code
        == 400
    )
    cross_site = httpx.post(
        grant["verification_uri"],
        data={"code": grant["user_code"], **fields, "decision": "approve"},
        headers={"Origin": "http://evil.example"},
        timeout=30,
    )
    assert cross_site.status_code == 403
    assert poll(platform, grant) == "authorization_pending"
    # no decision sent: denied
    answer = httpx.post(
        grant["verification_uri"], data={"code": grant["user_code"], **fields}, timeout=30
    )
    assert answer.status_code == 200 and "denied" in answer.text
    assert poll(platform, grant) == "access_denied"


def test_an_explicit_approve_still_approves(platform: Platform) -> None:
    user = platform.add_login(unique_email("approver"))
    grant = device_code(platform)
    fields = dict(
        re.findall(r'name="(user|confirm)" value="([^"]+)"', sign_in(platform, grant, user).text)
    )
    data = {"code": grant["user_code"], **fields, "decision": "approve"}
    assert httpx.post(grant["verification_uri"], data=data, timeout=30).status_code == 200
    assert poll(platform, grant) == "approved"
