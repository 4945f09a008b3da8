"""Names of networks and apps, keys of vars and secrets, and readable generated names."""

from __future__ import annotations

import random
import re

NAME_MAX = 63
KEY_MAX = 255
VALUE_MAX_BYTES = 64 * 1024
RESERVED_KEYS = frozenset({"PORT"})

# For the OpenAPI document; checks use fullmatch (``$`` would match before a trailing newline).
NAME_PATTERN = r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_KEY_RE = re.compile(KEY_PATTERN)

ADJECTIVES = (
    "brave", "calm", "clever", "eager", "fancy", "gentle", "happy", "jolly", "kind", "lively",
    "lucky", "merry", "nimble", "proud", "quick", "quiet", "rapid", "shiny", "silent", "swift",
    "tidy", "vivid", "witty", "zesty",
)  # fmt: skip
ANIMALS = (
    "badger", "beaver", "falcon", "ferret", "gecko", "heron", "ibis", "koala", "lemur", "lynx",
    "marten", "newt", "otter", "panda", "puffin", "quail", "raven", "robin", "seal", "stoat",
    "tapir", "walrus", "wombat", "yak",
)  # fmt: skip


def name_problem(name: str) -> str | None:
    """Why `name` is not an RFC 1035 label, or None when it is one."""
    if not name:
        return "must not be empty"
    if len(name) > NAME_MAX:
        return f"must be at most {NAME_MAX} characters"
    if any(c not in _NAME_CHARS for c in name):
        return "may contain only lower-case letters a-z, digits and '-'"
    if not name[0].isalpha():
        return "must start with a letter"
    if name.endswith("-"):
        return "must end with a letter or digit"
    return None


def is_valid_name(name: str) -> bool:
    return name_problem(name) is None


def key_problem(key: str) -> str | None:
    """Why `key` is not a usable var or secret key, or None when it is one."""
    if not key:
        return "must not be empty"
    if len(key) > KEY_MAX:
        return f"must be at most {KEY_MAX} characters"
    if not _KEY_RE.fullmatch(key):
        return "must match [A-Za-z_][A-Za-z0-9_]*"
    if key in RESERVED_KEYS:
        return "is reserved (the platform assigns it)"
    return None


def value_problem(value: str) -> str | None:
    """Why ``value`` cannot be a var or secret's value: an environment variable is a C string,
    so a NUL would end it (and fail every exec and deploy that passes it on)."""
    if "\x00" in value:
        return "must not contain NUL characters (\\0): an environment variable cannot hold one"
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (no lone surrogates)"
    if len(encoded) > VALUE_MAX_BYTES:
        return f"must be at most {VALUE_MAX_BYTES} bytes"
    return None


def generate_name(rng: random.Random | None = None) -> str:
    """A readable name such as ``brave-otter-42``; always a valid RFC 1035 label."""
    rng = rng or random.SystemRandom()
    return f"{rng.choice(ADJECTIVES)}-{rng.choice(ANIMALS)}-{rng.randint(10, 99)}"
