"""Where rig keeps its files (configuration, state, cache, the local platform's data), the
login contexts in ``contexts.json``, and the process environment.

A context is a named login: the API URL, the user, and which credential store
holds its tokens (``rig.credentials``). The file never holds a token.

Environment variables are read here and in :mod:`rig.context` only (tests/unit/test_layering.py
checks it): a command reads them from ``ctx.env``; what has no command at hand (the paths below,
the credential store, TLS defaults) reads :func:`environment`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rig.errors import NotFoundError, RigError, UsageError

CONTEXTS_FILE = "contexts.json"
INSECURE_ENV = "RIG_INSECURE"
CA_BUNDLE_ENV = "RIG_CA_BUNDLE"
TIMEOUT_ENV = "RIG_TIMEOUT"
DEFAULT_TIMEOUT = 15.0


def flag(env: Mapping[str, str], name: str) -> bool:
    """An environment variable that is on unless unset, empty or ``0``."""
    return env.get(name, "") not in ("", "0")


class TlsSettings:
    """How a command connects (applied by :mod:`rig.transport.security`): whether plain
    ``http://`` to a host that is not this machine is allowed, which CA certificates to trust
    (None: certifi's), and how many seconds to wait for an answer. Made from the command's
    environment by :func:`tls_settings`, so a test or a shell job hands its own in."""

    __slots__ = ("ca_file", "plain_http_allowed", "timeout")

    def __init__(
        self,
        *,
        plain_http_allowed: bool = False,
        ca_file: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.plain_http_allowed = plain_http_allowed
        self.ca_file = ca_file
        self.timeout = timeout


def tls_settings(env: Mapping[str, str], *, insecure: bool = False) -> TlsSettings:
    """``RIG_INSECURE`` (or ``insecure``: ``--insecure``), ``RIG_CA_BUNDLE`` (else
    ``SSL_CERT_FILE``) and ``RIG_TIMEOUT`` from ``env``; a bad timeout is a usage error."""
    return TlsSettings(
        plain_http_allowed=insecure or flag(env, INSECURE_ENV),
        ca_file=env.get(CA_BUNDLE_ENV) or env.get("SSL_CERT_FILE") or None,
        timeout=_timeout(env.get(TIMEOUT_ENV, "").strip()),
    )


def _timeout(raw: str) -> float:
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise UsageError(
            f"{TIMEOUT_ENV} must be a positive number of seconds, not {raw[:20]!r}",
            hint=f"e.g. {TIMEOUT_ENV}=30",
        )
    return value


def environment() -> Mapping[str, str]:
    """This process's environment variables."""
    return os.environ


def config_dir() -> Path:
    """``$RIG_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/rig``, else ``~/.config/rig``."""
    return _dir("RIG_CONFIG_DIR", "XDG_CONFIG_HOME", ".config")


def state_dir() -> Path:
    """Where the shell keeps what outlives it: ``$RIG_STATE_DIR``, else
    ``$XDG_STATE_HOME/rig``, else ``~/.local/state/rig``."""
    return _dir("RIG_STATE_DIR", "XDG_STATE_HOME", ".local/state")


def cache_dir() -> Path:
    """``$RIG_CACHE_DIR``, else ``$RIG_CONFIG_DIR/cache``, else ``$XDG_CACHE_HOME/rig`` (or
    ``~/.cache/rig``)."""
    env = environment()
    if env.get("RIG_CACHE_DIR"):
        return Path(env["RIG_CACHE_DIR"])
    if env.get("RIG_CONFIG_DIR"):
        return Path(env["RIG_CONFIG_DIR"]) / "cache"
    return _dir("", "XDG_CACHE_HOME", ".cache")


LOCAL_DATA_ENV = "RIG_LOCAL_DATA"


def local_data_dir() -> Path:
    """The local platform's data: ``$RIG_LOCAL_DATA``, else ``$XDG_DATA_HOME/rig/local``, else
    ``~/.local/share/rig/local``."""
    explicit = environment().get(LOCAL_DATA_ENV)
    if explicit:
        return Path(explicit)
    return _dir("", "XDG_DATA_HOME", ".local/share") / "local"


LOCAL_PLATFORMS_FILE = "local.json"  # in the config directory


def local_platforms() -> dict[str, Any]:
    """What ``rig local start`` recorded: the data directory it last started, and each local
    platform's login context with its data directory (``{"data_dir": DIR, "contexts":
    {NAME: DIR}}``); empty when it recorded nothing or the file is damaged."""
    try:
        recorded = read_json(config_dir() / LOCAL_PLATFORMS_FILE) or {}
    except RigError:  # damaged: the default is as good a guess
        recorded = {}
    contexts = recorded.get("contexts")
    recorded["contexts"] = {
        str(k): str(v) for k, v in (contexts if isinstance(contexts, dict) else {}).items()
    }
    return recorded


def login_again(context: str) -> str:
    """The command that logs in to ``context`` again: a local platform's admin needs no
    password typed (rig reads it from the platform's data directory)."""
    if context in local_platforms()["contexts"]:
        return f"rig local login --context {context}"
    return f"rig login --context {context}"


def credential_store_setting() -> str:
    """``RIG_CREDENTIAL_STORE`` as given (``keyring``, ``file``), or ``""``."""
    return environment().get("RIG_CREDENTIAL_STORE", "").strip().lower()


def _dir(explicit: str, xdg: str, home: str) -> Path:
    env = environment()
    if explicit and env.get(explicit):
        return Path(env[explicit])
    return xdg_dir(xdg, home, env)


def xdg_dir(xdg: str, home: str, env: Mapping[str, str]) -> Path:
    """``$XDG_...`` (``xdg``), else ``~/`` + ``home``, and ``rig`` in it: the one place that
    knows where a user's files go (XDG on Linux; the same fallbacks serve macOS; Windows would
    choose %APPDATA% here: docs/platforms.md)."""
    base = Path(env[xdg]) if env.get(xdg) else Path.home() / home
    return base / "rig"


def ensure_config_dir() -> Path:
    """The config directory, created with mode 0700 if missing."""
    path = config_dir()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise RigError(
            f"cannot create the config directory {path}: {exc.strerror}",
            hint="set RIG_CONFIG_DIR to a writable directory",
        ) from None
    return path


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, readable by the owner only (0600)."""
    import tempfile  # ~5 ms (shutil, random) that commands which write nothing do not pay

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict | None:
    """The JSON object in ``path``, None if the file is missing; a RigError if it is damaged."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise RigError(
            f"{path} is damaged (not a JSON object)", hint="fix or delete it, then run `rig login`"
        )
    return data


@dataclass
class ContextEntry:
    api: str
    user: str | None = None
    store: str = "file"


@dataclass
class Contexts:
    current: str | None = None
    contexts: dict[str, ContextEntry] = field(default_factory=dict)

    @classmethod
    def load(cls) -> Contexts:
        data = read_json(config_dir() / CONTEXTS_FILE)
        if data is None:
            return cls()
        entries: dict[str, ContextEntry] = {}
        for name, raw in (data.get("contexts") or {}).items():
            if isinstance(raw, dict) and isinstance(raw.get("api"), str):
                entries[name] = ContextEntry(
                    api=raw["api"], user=raw.get("user"), store=raw.get("store") or "file"
                )
        current = data.get("current")
        return cls(current=current if current in entries else None, contexts=entries)

    def save(self) -> None:
        directory = ensure_config_dir()
        data = {
            "current": self.current,
            "contexts": {n: asdict(e) for n, e in self.contexts.items()},
        }
        write_private(directory / CONTEXTS_FILE, json.dumps(data, indent=2) + "\n")

    def get(self, name: str) -> ContextEntry | None:
        return self.contexts.get(name)

    def require(
        self, name: str, hint: str = "run `rig context list` to see your contexts"
    ) -> ContextEntry:
        """The context ``name``; else NotFoundError, with a did-you-mean from the others."""
        entry = self.contexts.get(name)
        if entry is None:
            from rig.suggest import hint_with_suggestion

            hint = hint_with_suggestion(name, self.contexts, hint)
            raise NotFoundError(f"no context named {name!r}", hint=hint)
        return entry

    def find_by_api(self, api: str) -> str | None:
        """The name of a context for ``api``: the current one if it matches, else the first."""
        if self.current and self.contexts[self.current].api == api:
            return self.current
        return next((n for n, e in self.contexts.items() if e.api == api), None)


def normalize_api_url(url: str) -> str:
    """``url`` without trailing slashes or an ``/api/v1`` suffix.

    Without a scheme, loopback hosts get ``http://`` and every other host ``https://``.
    """
    url = url.strip().rstrip("/")
    if url.endswith("/api/v1"):
        url = url[: -len("/api/v1")].rstrip("/")
    if "://" not in url:
        host = url.split("/", 1)[0].rsplit(":", 1)[0]
        local = host in ("localhost", "[::1]") or host.startswith("127.")
        url = ("http://" if local else "https://") + url
    return url
