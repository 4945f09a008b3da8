"""Administration straight on a data directory, for `rig local` and the CLI."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from pathlib import Path

from maxlocal.auth import Auth, normalize_email
from maxlocal.layout import tighten
from maxlocal.store.db import Database

BOOTSTRAP_EMAIL = "admin@max.local"
BOOTSTRAP_FILE = "bootstrap.json"
USER_TOKEN_NAME = "rig local"


def prepare_data_dir(data_dir: Path) -> Path:
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    tighten(data_dir)
    return data_dir


def write_private_json(path: Path, data: dict[str, object]) -> None:
    """Write `data` to `path` atomically, readable only by the owner."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
        f.write("\n")
    os.replace(tmp, path)


def ensure_bootstrap(auth: Auth, data_dir: Path) -> None:
    """On a platform without users, create the first one and write its credentials down."""
    if auth.users.count():
        return
    password = secrets.token_urlsafe(18)
    try:
        auth.create_user(BOOTSTRAP_EMAIL, password)
    except sqlite3.IntegrityError:
        return
    write_private_json(data_dir / BOOTSTRAP_FILE, {"email": BOOTSTRAP_EMAIL, "password": password})


def _auth(data_dir: Path) -> tuple[Auth, Path]:
    data_dir = prepare_data_dir(data_dir)
    auth = Auth(Database.open(data_dir))
    ensure_bootstrap(auth, data_dir)
    return auth, data_dir


def bootstrap_credentials(data_dir: Path) -> dict[str, str]:
    """The first user's email and password, {"email", "password"}."""
    _, data_dir = _auth(Path(data_dir))
    data = json.loads((data_dir / BOOTSTRAP_FILE).read_text())
    return {"email": data["email"], "password": data["password"]}


def add_user(data_dir: Path, email: str) -> dict[str, str]:
    """Create the user if needed and return a new API token for them, {"email", "token"}."""
    email = normalize_email(email)
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise ValueError(f"not an email address: {email!r}")
    auth, _ = _auth(Path(data_dir))
    found = auth.users.by_email(email)
    user = found[0] if found else auth.create_user(email)
    _, token = auth.create_api_token(user.id, USER_TOKEN_NAME)
    return {"email": user.email, "token": token}
