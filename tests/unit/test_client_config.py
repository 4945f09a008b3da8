"""Config directory, contexts file, credential stores, and session resolution."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rig import config, credentials
from rig.api import auth
from rig.config import ContextEntry, Contexts
from rig.context import Context
from rig.errors import AuthError, NotFoundError, RigError, UsageError
from rig.transport import session


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("RIG_CONFIG_DIR", "RIG_TOKEN", "RIG_CREDENTIAL_STORE", "PYTHON_KEYRING_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "rig"


def test_config_dir_precedence(
    config_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert config.config_dir() == config_home
    monkeypatch.setenv("RIG_CONFIG_DIR", str(tmp_path / "explicit"))
    assert config.config_dir() == tmp_path / "explicit"
    monkeypatch.delenv("RIG_CONFIG_DIR")
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config.config_dir() == tmp_path / "home" / ".config" / "rig"


def test_contexts_round_trip_privately(config_home: Path) -> None:
    contexts = Contexts.load()
    assert contexts.current is None and contexts.contexts == {}
    contexts.contexts["local"] = ContextEntry("http://127.0.0.1:8080", "a@b.c", "file")
    contexts.current = "local"
    contexts.save()
    assert stat.S_IMODE(config_home.stat().st_mode) == 0o700
    assert stat.S_IMODE((config_home / "contexts.json").stat().st_mode) == 0o600
    assert Contexts.load() == contexts
    assert [p.name for p in config_home.iterdir()] == ["contexts.json"]  # no temp files left


def test_damaged_contexts_file(config_home: Path) -> None:
    config_home.mkdir(parents=True)
    (config_home / "contexts.json").write_text("{oops")
    with pytest.raises(RigError, match="damaged"):
        Contexts.load()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/api/v1/", "http://127.0.0.1:8080"),
        ("localhost:8080", "http://localhost:8080"),
        ("max.example.com", "https://max.example.com"),
        ("https://max.example.com/base", "https://max.example.com/base"),
    ],
)
def test_normalize_api_url(given: str, expected: str) -> None:
    assert config.normalize_api_url(given) == expected


def test_file_store(config_home: Path) -> None:
    credentials.save("a", "file", {"access_token": "mxa_1"})
    credentials.save("b", "file", {"access_token": "mxa_2"})
    assert stat.S_IMODE((config_home / "credentials.json").stat().st_mode) == 0o600
    assert credentials.load("a", "file") == {"access_token": "mxa_1"}
    credentials.delete("a", "file")
    assert credentials.load("a", "file") is None
    assert credentials.load("b", "file") == {"access_token": "mxa_2"}


def test_keyring_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    import keyring.core

    keyring.core.init_backend()
    try:
        assert credentials.keyring_usable()
        assert credentials.choose_store() == "keyring"
        credentials.save("ctx", "keyring", {"access_token": "mxa_k"})
        assert credentials.load("ctx", "keyring") == {"access_token": "mxa_k"}
        credentials.delete("ctx", "keyring")
        credentials.delete("ctx", "keyring")  # deleting twice is fine
        assert credentials.load("ctx", "keyring") is None
    finally:
        monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
        keyring.core.init_backend()


def test_forced_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIG_CREDENTIAL_STORE", "file")
    assert credentials.choose_store() == "file"
    monkeypatch.setenv("RIG_CREDENTIAL_STORE", "vault")
    with pytest.raises(RigError, match="RIG_CREDENTIAL_STORE"):
        credentials.choose_store()


def save_context(name: str, api: str, *, current: bool = True, token: str | None = "mxa_x") -> None:
    contexts = Contexts.load()
    contexts.contexts[name] = ContextEntry(api, "a@b.c", "file")
    if current:
        contexts.current = name
    contexts.save()
    if token:
        credentials.save(
            name, "file", {"access_token": token, "refresh_token": None, "expires_at": None}
        )


def test_resolution_without_login() -> None:
    with pytest.raises(AuthError) as info:
        session.open_client(Context())
    assert "rig login" in info.value.hint
    with pytest.raises(AuthError, match="not logged in to http://other"):
        session.open_client(Context(api_url="http://other:1"))
    with pytest.raises(NotFoundError):
        session.open_client(Context(context_name="nope"))


def test_resolution_with_contexts() -> None:
    save_context("a", "http://a:1")
    save_context("b", "http://b:1", current=False)
    assert session.resolve_target(Context()) == session.Target(
        "http://a:1", "a", Contexts.load().get("a")
    )
    assert session.resolve_target(Context(context_name="b")).context == "b"  # type: ignore[union-attr]
    assert session.resolve_target(Context(api_url="http://b:1/")).context == "b"  # type: ignore[union-attr]
    client = session.open_client(Context())
    assert client.base_url == "http://a:1" and client.tokens is not None
    client.close()
    save_context("c", "http://c:1", token=None)
    with pytest.raises(AuthError, match="no stored session"):
        session.open_client(Context())


def test_rig_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIG_TOKEN", "mxt_ci")
    with pytest.raises(UsageError, match="RIG_TOKEN"):
        session.open_client(Context())
    client = session.open_client(Context(api_url="http://ci:1"))
    assert client.tokens is not None and client.tokens.access_token == "mxt_ci"
    assert client.tokens.refresh_token is None
    client.close()


def test_default_context_name() -> None:
    contexts = Contexts()
    assert auth.default_context_name("http://x:1", contexts) == "default"
    contexts.contexts["default"] = ContextEntry("http://x:1")
    assert auth.default_context_name("http://x:1", contexts) == "default"
    assert (
        auth.default_context_name("https://max.example.com:8443", contexts)
        == "max.example.com-8443"
    )


def test_no_keyring_or_httpx_for_version_and_help() -> None:
    import subprocess
    import sys

    code = (
        "import sys, runpy; sys.argv=['rig', 'create', '--help']\n"
        "try:\n    runpy.run_module('rig', run_name='__main__')\nexcept SystemExit: pass\n"
        "print(sorted(m for m in ('httpx', 'keyring', 'tabulate') if m in sys.modules))"
    )
    env = {**os.environ, "RIG_CONFIG_DIR": "/nonexistent"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"
