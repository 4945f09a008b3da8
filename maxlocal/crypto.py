"""Secrets at rest: Fernet encryption, and digests under a separate platform key."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

SECRETS_KEY_FILE = "secrets.key"
DIGEST_KEY_FILE = "digest.key"
DIGEST_LENGTH = 12


def read_or_create_key(path: Path, make: bytes) -> bytes:
    """The key stored at `path`, writing `make` there (mode 0600) if the file is missing."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(make)
    return make


class Vault:
    def __init__(self, encryption_key: bytes, digest_key: bytes) -> None:
        self._fernet = Fernet(encryption_key)
        self._digest_key = digest_key

    @classmethod
    def open(cls, data_dir: Path) -> Vault:
        encryption_key = read_or_create_key(data_dir / SECRETS_KEY_FILE, Fernet.generate_key())
        digest_key = read_or_create_key(
            data_dir / DIGEST_KEY_FILE, secrets.token_hex(32).encode("ascii")
        )
        return cls(encryption_key, digest_key)

    def encrypt(self, value: str) -> bytes:
        return self._fernet.encrypt(value.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        return self._fernet.decrypt(token).decode("utf-8")

    def digest(self, value: str) -> str:
        mac = hmac.new(self._digest_key, value.encode("utf-8"), hashlib.sha256)
        return mac.hexdigest()[:DIGEST_LENGTH]
