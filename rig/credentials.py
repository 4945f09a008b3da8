"""Where each context's tokens live: the OS keyring, or a 0600 file in the config directory.

A context's secret is a small JSON blob ``{access_token, refresh_token, expires_at}``
(``expires_at`` in seconds since the epoch). ``keyring`` is imported only when a
keyring is chosen or used: its backend discovery costs tens of milliseconds.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from rig.config import (
    config_dir,
    credential_store_setting,
    ensure_config_dir,
    environment,
    read_json,
    write_private,
)
from rig.errors import RigError

KEYRING = "keyring"
FILE = "file"
STORES = (KEYRING, FILE)
SERVICE = "rig"
CREDENTIALS_FILE = "credentials.json"

Secret = dict[str, Any]


def credentials_path() -> Path:
    return config_dir() / CREDENTIALS_FILE


def choose_store() -> str:
    """The store for a new login: ``RIG_CREDENTIAL_STORE`` if set, else the keyring when usable."""
    forced = credential_store_setting()
    if forced:
        if forced not in STORES:
            raise RigError(
                f"RIG_CREDENTIAL_STORE must be 'keyring' or 'file', not {forced!r}",
                code="invalid_request",
            )
        return forced
    return KEYRING if keyring_usable() else FILE


def keyring_usable() -> bool:
    """True when ``keyring`` has a real backend.

    The fail, null and empty chainer backends do not count, and neither do the
    ``keyrings.alt`` ones (plain files, no better than ours) unless the user chose
    one with ``PYTHON_KEYRING_BACKEND``.
    """
    try:
        backend = keyring_module().get_keyring()
        priority = float(backend.priority)
    except Exception:  # not installed (ImportError), or no backend it can load
        return False
    module = type(backend).__module__
    if module.startswith(("keyring.backends.fail", "keyring.backends.null")) or priority <= 0:
        return False
    chosen = environment().get("PYTHON_KEYRING_BACKEND")
    return not (module.startswith("keyrings.alt") and not chosen)


def describe(store: str) -> str:
    """Where ``store`` keeps secrets, in words for ``rig login``."""
    if store == KEYRING:
        return f"the OS keyring ({type(keyring_module().get_keyring()).__name__})"
    return f"{credentials_path()} (mode 0600)"


def load(context: str, store: str) -> Secret | None:
    if store == KEYRING:
        raw = _keyring_call("read", lambda k: k.get_password(SERVICE, context))
        return _parse(raw) if raw else None
    entry = _read_file().get(context)
    return entry if isinstance(entry, dict) else None


def save(context: str, store: str, secret: Secret) -> None:
    if store == KEYRING:
        blob = json.dumps(secret)
        _keyring_call("write", lambda k: k.set_password(SERVICE, context, blob))
        return
    entries = _read_file()
    entries[context] = secret
    _write_file(entries)


def delete(context: str, store: str) -> None:
    if store == KEYRING:

        def remove(k: Any) -> None:
            with contextlib.suppress(k.errors.PasswordDeleteError):
                k.delete_password(SERVICE, context)

        _keyring_call("delete", remove)
        return
    entries = _read_file()
    if entries.pop(context, None) is not None:
        _write_file(entries)


def _parse(raw: str) -> Secret | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def keyring_module() -> ModuleType:
    """keyring, imported on first use: the one place rig imports it (its backends take tens of
    ms to load; only the keyring store needs it)."""
    import keyring

    return keyring


def _keyring_call(action: str, call: Any) -> Any:
    try:
        return call(keyring_module())
    except Exception as exc:
        # The exception text may describe the backend, never the secret we pass.
        raise RigError(
            f"cannot {action} credentials in the OS keyring: {type(exc).__name__}",
            hint="set RIG_CREDENTIAL_STORE=file to keep them in a 0600 file, then `rig login`",
        ) from None


def _read_file() -> dict[str, Any]:
    return read_json(credentials_path()) or {}


def _write_file(entries: dict[str, Any]) -> None:
    ensure_config_dir()
    write_private(credentials_path(), json.dumps(entries, indent=2) + "\n")
