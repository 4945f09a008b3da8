"""Passwords and tokens: scrypt password hashes, opaque tokens stored only as SHA-256.

Sessions are token families: login (or exchanging an API token) starts a family
with an access and a refresh token. Each refresh uses up its refresh token and
adds a new pair to the family; presenting a used refresh token again revokes the
whole family, which also ends its access tokens.

What stays open on one token (a realtime socket) holds its ``Grant`` and hears of each
revocation (``on_revoke``): logging out, a refresh token used twice and revoking an API token
end it at once, not at its next request.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from maxlocal.errors import TokenExpired, Unauthorized
from maxlocal.store.db import Database
from maxlocal.store.users import ApiToken, Tokens, User, Users
from maxlocal.throttle import SignInThrottle

ACCESS_PREFIX = "mxa_"
REFRESH_PREFIX = "mxr_"
API_PREFIX = "mxt_"
DEVICE_PREFIX = "mxd_"
TOKEN_PREFIXES = (ACCESS_PREFIX, REFRESH_PREFIX, API_PREFIX, DEVICE_PREFIX)

log = logging.getLogger(__name__)
OnRevoke = Callable[[frozenset[str]], None]
"""Told the keys (``Grant.keys``) a revocation ends; called on the revoking thread."""

DEFAULT_ACCESS_TTL = 900
DEFAULT_REFRESH_TTL = 30 * 86_400

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_BAD_LOGIN = "wrong email or password"


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${key.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(
            password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except (ValueError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(candidate.hex(), key)


@functools.cache
def _dummy_hash() -> str:
    """Checked against for an unknown email, so it takes as long as a known one."""
    return hash_password("not a password", salt=b"\0" * 16)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def new_token(prefix: str) -> tuple[str, str]:
    """A fresh token with its prefix, and the SHA-256 that is all the platform keeps of it."""
    token = prefix + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def family_key(family_id: str) -> str:
    return f"family:{family_id}"


def api_token_key(token_id: int) -> str:
    return f"api:{token_id}"


@dataclass(frozen=True)
class Grant:
    """What a bearer token stands for while it lasts: its user, the session (token family)
    and the API token it came from, and when that session ends (None: when revoked)."""

    user: User
    family_id: str | None
    api_token_id: int | None
    ends_at: float | None

    @property
    def keys(self) -> frozenset[str]:
        """What a revocation that ends this grant names."""
        keys = {family_key(self.family_id)} if self.family_id else set()
        if self.api_token_id is not None:
            keys.add(api_token_key(self.api_token_id))
        return frozenset(keys)


@dataclass(frozen=True)
class Session:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


class Auth:
    def __init__(
        self,
        db: Database,
        access_ttl: int = DEFAULT_ACCESS_TTL,
        refresh_ttl: int = DEFAULT_REFRESH_TTL,
    ) -> None:
        self.db = db
        self.users = Users(db)
        self.tokens = Tokens(db)
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.throttle = SignInThrottle()
        self._on_revoke: list[OnRevoke] = []

    def on_revoke(self, callback: OnRevoke) -> None:
        self._on_revoke.append(callback)

    def _revoked(self, keys: frozenset[str]) -> None:
        for callback in self._on_revoke:
            try:
                callback(keys)
            except Exception:
                log.exception("a revocation listener failed")

    def create_user(self, email: str, password: str | None = None) -> User:
        """A new user; without a password nobody can log in as them, only use API tokens."""
        password_hash = hash_password(password or secrets.token_urlsafe(32))
        return self.users.create(normalize_email(email), password_hash)

    def create_api_token(self, user_id: int, name: str) -> tuple[ApiToken, str]:
        """A new API token and its value, which is not kept anywhere."""
        token, hashed = new_token(API_PREFIX)
        return self.tokens.create_api_token(user_id, name, hashed), token

    def login(self, email: str, password: str, address: str | None = None) -> Session:
        return self.start_session(self.verify(email, password, address))

    def verify(self, email: str, password: str, address: str | None = None) -> User:
        """The user with this email and password, or Unauthorized (the same for either
        mistake); TooManyRequests, without looking, once the account or the client address
        ``address`` has spent its budget of failures (``maxlocal.throttle``)."""
        account = normalize_email(email)
        self.throttle.check(account, address)
        found = self.users.by_email(account)
        if found is None:
            verify_password(password, _dummy_hash())
        elif verify_password(password, found[1]):
            self.throttle.succeeded(account)
            return found[0]
        self.throttle.failed(account, address)
        raise Unauthorized(_BAD_LOGIN)

    def failed_attempt(self, email: str, address: str | None) -> None:
        """Count a failure that is not a wrong password (a wrong device code) in the budget."""
        self.throttle.failed(normalize_email(email), address)

    def revoke_api_token(self, user_id: int, token_id: int) -> bool:
        """Revoke this user's API token and every session obtained with it; False when the
        user has no such token (then nothing changes)."""
        if not self.tokens.revoke_api_token(user_id, token_id):
            return False
        self._revoked(frozenset({api_token_key(token_id)}))
        return True

    def start_session(self, user: User) -> Session:
        """A new session (token family) for a user already verified."""
        return self._start_session(user, api_token_id=None)

    def exchange(self, api_token: str) -> Session:
        found = self.tokens.find_api_token(token_hash(api_token))
        user = self.users.get(found.user_id) if found else None
        if found is None or user is None:
            raise Unauthorized("unknown or revoked API token")
        self.tokens.touch_api_token(found.id)
        return self._start_session(user, api_token_id=found.id)

    def refresh(self, refresh_token: str) -> Session:
        with self.db.transaction() as conn:
            found = self.tokens.find_refresh(conn, token_hash(refresh_token))
            if found is None or found.family_revoked:
                raise Unauthorized("unknown or revoked refresh token", "sign in again")
            if found.used or not self.tokens.mark_refresh_used(conn, found.id):
                self.tokens.revoke_family(conn, found.family_id)
                reuse = True
            else:
                reuse = False
                if found.expires_at <= time.time():
                    raise Unauthorized("refresh token expired", "sign in again")
                access, refresh = self._add_pair(conn, found.family_id)
        if reuse:
            self._revoked(frozenset({family_key(found.family_id)}))
            raise Unauthorized(
                "refresh token already used; the session has been revoked", "sign in again"
            )
        user = self.users.get(found.user_id)
        if user is None:
            raise Unauthorized("unknown user", "sign in again")
        return Session(access, refresh, self.access_ttl, user)

    def logout(self, refresh_token: str) -> None:
        with self.db.transaction() as conn:
            found = self.tokens.find_refresh(conn, token_hash(refresh_token))
            if found is not None:
                self.tokens.revoke_family(conn, found.family_id)
        if found is not None:
            self._revoked(frozenset({family_key(found.family_id)}))

    def authenticate(self, bearer: str) -> User:
        """The user a bearer token (access or API token) belongs to."""
        return self.grant(bearer).user

    def grant(self, bearer: str) -> Grant:
        """What a bearer token (access or API token) stands for, or Unauthorized; when its
        session ends is left to ``recheck`` (a request does not need it)."""
        user_id: int | None = None
        family_id: str | None = None
        api_token_id: int | None = None
        if bearer.startswith(ACCESS_PREFIX):
            access = self.tokens.find_access(token_hash(bearer))
            if access is not None and not access.family_revoked:
                if access.expires_at <= time.time():
                    raise TokenExpired("access token expired", "refresh the session")
                user_id, family_id = access.user_id, access.family_id
                api_token_id = access.api_token_id
        elif bearer.startswith(API_PREFIX):
            api = self.tokens.find_api_token(token_hash(bearer))
            if api is not None:
                self.tokens.touch_api_token(api.id)
                user_id, api_token_id = api.user_id, api.id
        user = self.users.get(user_id) if user_id is not None else None
        if user is None:
            raise Unauthorized("invalid, unknown or revoked token", "sign in again")
        return Grant(user, family_id, api_token_id, None)  # ends_at: see ``recheck``

    def recheck(self, grant: Grant) -> Grant | None:
        """The grant as it stands now (its session may have been refreshed, so ending later),
        or None once it is revoked or its session has ended: the one check of something that
        outlives a request."""
        ends_at = grant.ends_at
        if grant.family_id is not None:
            family = self.tokens.find_family(grant.family_id)
            if family is None or family.revoked or family.ends_at <= time.time():
                return None
            ends_at = family.ends_at
        if grant.api_token_id is not None and not self.tokens.api_token_live(grant.api_token_id):
            return None
        if self.users.get(grant.user.id) is None:
            return None
        return Grant(grant.user, grant.family_id, grant.api_token_id, ends_at)

    def _start_session(self, user: User, api_token_id: int | None) -> Session:
        with self.db.transaction() as conn:
            self.tokens.prune(conn)
            family_id = self.tokens.start_family(conn, user.id, api_token_id)
            access, refresh = self._add_pair(conn, family_id)
        return Session(access, refresh, self.access_ttl, user)

    def _add_pair(self, conn: sqlite3.Connection, family_id: str) -> tuple[str, str]:
        now = time.time()
        access, access_hash = new_token(ACCESS_PREFIX)
        refresh, refresh_hash = new_token(REFRESH_PREFIX)
        self.tokens.add_pair(
            conn,
            family_id,
            access_hash,
            now + self.access_ttl,
            refresh_hash,
            now + self.refresh_ttl,
        )
        return access, refresh
