"""Device login (RFC 8628 in spirit): a client with no browser gets a short code that a
signed-in person approves on the platform's ``/device`` page, then polls for its tokens.

The page takes two steps: signing in (with the code) shows which client asked, from where
and when, with Deny as the default; only an explicit Approve, carrying a confirmation bound
to that code and user (an HMAC only this process can make), approves. Sign-ins and wrong
codes count against the sign-in budget (``maxlocal.throttle``); every page forbids framing.

The API routes carry their ``/api/v1`` prefix here so that one router holds both them
and the page, which lives outside the API.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import secrets
import sqlite3
import time
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from maxlocal.api.auth import SessionOut, UserOut, client_address
from maxlocal.api.deps import PlatformDep
from maxlocal.api.schemas import ERROR_RESPONSES
from maxlocal.api.schemas import Request as Body
from maxlocal.auth import DEVICE_PREFIX, new_token, token_hash
from maxlocal.errors import PlatformError, TooManyRequests, Unauthorized
from maxlocal.store.device import DeviceCode, DeviceCodes
from maxlocal.store.users import User

API = "/api/v1"
PAGE = "/device"
INTERVAL = 2
CLIENT_NAME_CHARS = 100
# The pages' own policy: nothing loads but their inline style, forms post only here, and no
# other site may frame them (clickjacking the Approve button).
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_CONFIRM_KEY = secrets.token_bytes(32)  # per process: a restart voids pages left open
SLOW_DOWN_STEP = 5
# No vowels (no words) and no look-alikes: 20 letters, 8 of them: 2.56e10 codes.
USER_CODE_LETTERS = "BCDFGHJKLMNPQRSTVWXZ"
MAX_FORM_BYTES = 4096

router = APIRouter(tags=["auth"], responses=ERROR_RESPONSES)


class AuthorizationPending(PlatformError):
    status = 428
    code = "authorization_pending"


class SlowDown(PlatformError):
    status = 400
    code = "slow_down"


class ExpiredToken(PlatformError):
    status = 400
    code = "expired_token"


class AccessDenied(PlatformError):
    status = 400
    code = "access_denied"


class InvalidGrant(PlatformError):
    status = 400
    code = "invalid_grant"


class DeviceCodeOut(BaseModel):
    device_code: str = Field(description="secret to the client: it polls with it")
    user_code: str = Field(description="what the person types on the page, e.g. WDJB-MJHT")
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int = Field(description="seconds to wait between polls")


class DeviceTokenRequest(Body):
    device_code: str


def new_user_code() -> str:
    letters = "".join(secrets.choice(USER_CODE_LETTERS) for _ in range(8))
    return f"{letters[:4]}-{letters[4:]}"


def normalize_user_code(text: str) -> str:
    letters = "".join(c for c in text.upper() if c.isalnum())
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == 8 else letters


def client_name(user_agent: str) -> str | None:
    """The User-Agent as the page shows it: printable, one line, bounded."""
    shown = "".join(c for c in user_agent if c.isprintable())[:CLIENT_NAME_CHARS].strip()
    return shown or None


def _page_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PAGE


@router.post(f"{API}/auth/device", status_code=201)
def start(request: Request, platform: PlatformDep) -> DeviceCodeOut:
    ttl = platform.settings.device_code_ttl
    device_code, device_hash = new_token(DEVICE_PREFIX)
    store = DeviceCodes(platform.db)
    for _ in range(5):
        try:
            code = store.create(
                device_hash,
                new_user_code(),
                ttl,
                INTERVAL,
                client_name(request.headers.get("user-agent", "")),
                client_address(request),
            )
            break
        except sqlite3.IntegrityError:
            continue
    else:  # pragma: no cover - five collisions in 2.56e10
        raise PlatformError("could not make a unique code", "try again")
    uri = _page_url(request)
    return DeviceCodeOut(
        device_code=device_code,
        user_code=code.user_code,
        verification_uri=uri,
        verification_uri_complete=f"{uri}?code={code.user_code}",
        expires_in=ttl,
        interval=code.interval,
    )


@router.post(f"{API}/auth/device/token")
def token(body: DeviceTokenRequest, request: Request, platform: PlatformDep) -> SessionOut:
    store = DeviceCodes(platform.db)
    code = store.by_device(token_hash(body.device_code))
    again = "run `rig login --device` again"
    if code is None or code.status == "used":
        raise InvalidGrant("unknown or already used device code", again)
    if code.expired:
        raise ExpiredToken("the code expired before it was approved", again)
    if code.status == "denied":
        raise AccessDenied("the login was denied on the approval page", again)
    if code.status == "pending":
        _check_pace(store, code)
        hint = f"approve {code.user_code} at {_page_url(request)}"
        raise AuthorizationPending("waiting for the code to be approved", hint)
    user = platform.auth.users.get(code.user_id) if code.user_id is not None else None
    if user is None or not store.use(code.id):
        raise InvalidGrant("unknown or already used device code", again)
    session = platform.auth.start_session(user)
    return SessionOut(
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        expires_in=session.expires_in,
        user=UserOut(id=user.id, email=user.email),
    )


def _check_pace(store: DeviceCodes, code: DeviceCode) -> None:
    """A client polling faster than half its interval is told to slow down, for good."""
    too_fast = code.last_poll is not None and time.time() - code.last_poll < code.interval / 2
    interval = code.interval + SLOW_DOWN_STEP if too_fast else code.interval
    store.polled(code.id, interval)
    if too_fast:
        raise SlowDown(f"polling too fast; wait {interval} s between polls", "slow down")


# -- the page ----------------------------------------------------------------------

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}"
    "label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem;font-size:1rem}"
    "button{margin:1rem .5rem 0 0;padding:.5rem 1rem;font-size:1rem}"
    "dt{font-weight:bold}dd{margin:0 0 .5rem 0}"
)
TITLE = "Approve a device login"


def _html(
    title: str, body: str, status: int = 200, headers: dict[str, str] | None = None
) -> HTMLResponse:
    text = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="viewport" content="width=device-width"><style>{_STYLE}</style></head>'
        f"<body><h1>{title}</h1>{body}</body></html>"
    )
    return HTMLResponse(text, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})


def _note(note: str) -> str:
    return f'<p role="alert"><strong>{html.escape(note)}</strong></p>' if note else ""


def _form(code: str = "", email: str = "", note: str = "") -> str:
    return (
        f"{_note(note)}<p>Enter the code that rig printed, and sign in. The next page shows "
        "which client asked, so that you can approve it or deny it.</p>"
        f'<form method="post" action="{PAGE}">'
        f'<label for="code">Code</label><input id="code" name="code" required '
        f'autocomplete="off" value="{html.escape(code)}">'
        f'<label for="email">Email</label><input id="email" name="email" type="email" '
        f'required autocomplete="username" value="{html.escape(email)}">'
        '<label for="password">Password</label><input id="password" name="password" '
        'type="password" required autocomplete="current-password">'
        "<button>Continue</button></form>"
    )


def confirmation(code: DeviceCode, user_id: int) -> str:
    """What an Approve must carry: only this process can make it, for this code and user."""
    message = f"{code.id}:{code.user_code}:{user_id}".encode()
    return hmac.new(_CONFIRM_KEY, message, hashlib.sha256).hexdigest()


def _asked_at(code: DeviceCode) -> str:
    try:
        asked = datetime.strptime(code.created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return html.escape(code.created_at)
    minutes = int((datetime.now(UTC) - asked).total_seconds() // 60)
    ago = "just now" if minutes < 1 else f"{minutes} min ago"
    return f"{asked:%Y-%m-%d %H:%M:%S} UTC ({ago})"


def _decision_form(code: DeviceCode, user: User) -> str:
    """Who asked, from where and when; Deny first (Enter denies), Approve only by choice."""
    client = html.escape(code.client_name or "an unnamed client")
    address = html.escape(code.client_address or "an unknown address")
    return (
        f"<p>A device asks to sign in as <strong>{html.escape(user.email)}</strong>. "
        "Approve only if you started this login yourself, just now.</p>"
        f"<dl><dt>Code</dt><dd>{html.escape(code.user_code)}</dd>"
        f"<dt>Client</dt><dd>{client}</dd>"
        f"<dt>From</dt><dd>{address}</dd>"
        f"<dt>Asked at</dt><dd>{_asked_at(code)}</dd></dl>"
        f'<form method="post" action="{PAGE}">'
        f'<input type="hidden" name="code" value="{html.escape(code.user_code)}">'
        f'<input type="hidden" name="user" value="{user.id}">'
        f'<input type="hidden" name="confirm" value="{confirmation(code, user.id)}">'
        '<button name="decision" value="deny" autofocus>Deny</button>'
        '<button name="decision" value="approve">Approve</button></form>'
    )


@router.get(PAGE, include_in_schema=False)
def page(code: Annotated[str, Query(max_length=32)] = "") -> HTMLResponse:
    return _html(TITLE, _form(normalize_user_code(code)))


@router.post(PAGE, include_in_schema=False)
async def decide(request: Request, platform: PlatformDep) -> HTMLResponse:
    raw = await request.body()
    fields = {k: v[0] for k, v in parse_qs(raw[:MAX_FORM_BYTES].decode("utf-8", "replace")).items()}
    if not _same_origin(request):
        return _html(TITLE, _note("This form can only be sent from the platform's own page."), 403)
    if "confirm" in fields:
        return _decided(fields, platform)
    return await _signed_in(request, fields, platform)


async def _signed_in(
    request: Request, fields: dict[str, str], platform: PlatformDep
) -> HTMLResponse:
    """Step one: the password and the code checked (both within the sign-in budget), the
    request's details shown for a decision."""
    user_code = normalize_user_code(fields.get("code", ""))
    email = fields.get("email", "")
    address = client_address(request)
    try:
        user = await asyncio.to_thread(
            platform.auth.verify, email, fields.get("password", ""), address
        )
    except TooManyRequests as exc:
        retry = {"Retry-After": str(exc.retry_after)}
        return _html(TITLE, _form(user_code, email, exc.message), 429, retry)
    except Unauthorized as exc:
        return _html(TITLE, _form(user_code, email, exc.message), 401)
    code = DeviceCodes(platform.db).by_user_code(user_code)
    if code is None or code.expired or code.status != "pending":
        platform.auth.failed_attempt(email, address)
        note = "That code is unknown, expired or already used. Start again with rig login --device."
        return _html(TITLE, _form("", email, note), 400)
    return _html(TITLE, _decision_form(code, user))


def _decided(fields: dict[str, str], platform: PlatformDep) -> HTMLResponse:
    """Step two: Approve only when asked for in so many words, with the confirmation step one
    gave; anything else denies."""
    store = DeviceCodes(platform.db)
    code = store.by_user_code(normalize_user_code(fields.get("code", "")))
    user_id = int(fields["user"]) if fields.get("user", "").isdigit() else -1
    valid = code is not None and hmac.compare_digest(
        fields.get("confirm", ""), confirmation(code, user_id)
    )
    if code is None or not valid or code.expired or code.status != "pending":
        note = "This approval is no longer valid. Start again with rig login --device."
        return _html(TITLE, _note(note), 400)
    approved = fields.get("decision") == "approve"
    store.decide(code.id, user_id, approved)
    if approved:
        return _html("Device approved", "<p>Return to your terminal: rig is now logged in.</p>")
    return _html("Device login denied", "<p>Nothing was logged in.</p>")


def _same_origin(request: Request) -> bool:
    """A browser names the page a form came from: it must be this platform's (absent, as from
    curl, the confirmation alone decides)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin.split("://", 1)[-1] == request.headers.get("host", "")
