"""Configuration as code: the document `details --export` writes and `apply`/`diff` read.

An app document manages one app's own vars and secrets::

    version: 1
    kind: app
    network: shop
    name: api
    vars: {LOG_LEVEL: info}
    secrets: {DB_PASSWORD: 3f9a1c0b7e2d}   # key: digest, or null for "any value"

A network document manages the network's vars and secrets and those of each
app listed under ``apps`` (``name``, ``vars``, ``secrets``); apps on the
platform that it does not list are drift.

Secrets are keys with digests, never values. Vars and secrets in a document
are the whole set at their scope: keys only on the platform are drift, and
``apply`` deletes them. YAML (``.yaml``/``.yml``) or JSON (``.json``), by the
file's extension.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn

from rig.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from rig.api.client import Api

VERSION = 1
APP, NETWORK = "app", "network"
YAML_SUFFIXES = (".yaml", ".yml")
TOP_FIELDS = {"version", "kind", "network", "name", "vars", "secrets", "apps"}
HEADER = (
    "# rig configuration. Apply with `rig apply -f FILE`; check drift with `rig diff -f FILE`.\n"
    "# Secrets are listed as keys with digests, never values.\n"
)


@dataclass
class Env:
    vars: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str | None] = field(default_factory=dict)  # key -> digest


@dataclass
class AppDoc:
    name: str
    env: Env = field(default_factory=Env)


@dataclass
class Document:
    """``network_env`` is None in an app document: the network's own env is not managed."""

    kind: str
    network: str
    network_env: Env | None
    apps: list[AppDoc]

    @property
    def label(self) -> str:
        if self.kind == APP:
            return f"app {self.apps[0].name} (network {self.network})"
        return f"network {self.network}"


@dataclass(frozen=True)
class Change:
    """One difference between a document and the platform.

    ``action``: ``create`` (network or app in the file only), ``add`` (key in the file
    only), ``change`` (var value differs), ``remove`` (key on the platform only),
    ``extra`` (app on the platform only), ``missing`` (secret in the file the platform
    lacks: it needs a value), ``differs`` (secret whose digest is not the file's).
    """

    action: str
    kind: str
    network: str
    app: str | None = None
    key: str | None = None
    old: str | None = None
    new: str | None = None

    @property
    def needs_attention(self) -> bool:
        """A difference that apply cannot settle: only a person can give a secret's value."""
        return self.action in ("missing", "differs")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "action": self.action,
            "kind": self.kind,
            "network": self.network,
            "app": self.app,
        }
        if self.key is not None:
            data["key"] = self.key
        if self.kind == "var" and self.action in ("add", "change", "remove"):
            data.update(old=self.old, new=self.new)
        if self.kind == "secret" and self.action == "differs":
            data.update(platform_digest=self.old, file_digest=self.new)
        return data


# -- reading and writing files -------------------------------------------------


def load(path: str, text: str | None = None) -> Document:
    """The document in ``path`` (``text`` when already read, e.g. from stdin)."""
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"no such file: {path}", hint="check the path given to -f") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise UsageError(f"cannot read {path}: {reason}") from None
    if path.endswith(".json"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"{path}: not valid JSON: {exc}") from None
    else:
        yaml = yaml_module()
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UsageError(f"{path}: not valid YAML: {_one_line(str(exc))}") from None
    return parse(data, path)


def dump(doc: Document, path: str) -> str:
    """The text of ``doc`` in the format ``path``'s extension names."""
    data = to_data(doc)
    if path.endswith(".json"):
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if not path.endswith(YAML_SUFFIXES):
        raise UsageError(
            f"cannot tell the format of {path}", hint="name the file *.yaml, *.yml or *.json"
        )
    body = yaml_module().safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    return HEADER + body


def yaml_module() -> ModuleType:
    """PyYAML, imported on first use: the one place rig imports it (~15 ms; JSON documents
    and every other command do without)."""
    import yaml

    return yaml


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- the document as data --------------------------------------------------------


def to_data(doc: Document) -> dict[str, Any]:
    data: dict[str, Any] = {"version": VERSION, "kind": doc.kind}
    if doc.kind == APP:
        app = doc.apps[0]
        data.update(network=doc.network, name=app.name, **_env_data(app.env))
        return data
    data.update(name=doc.network, **_env_data(doc.network_env or Env()))
    data["apps"] = [{"name": a.name, **_env_data(a.env)} for a in doc.apps]
    return data


def _env_data(env: Env) -> dict[str, Any]:
    return {"vars": dict(sorted(env.vars.items())), "secrets": dict(sorted(env.secrets.items()))}


def parse(data: Any, source: str = "the document") -> Document:
    """A Document from parsed YAML/JSON, or a UsageError naming the bad field."""
    reader = _Reader(source)
    top = reader.mapping(data, "", TOP_FIELDS)
    if top.get("version") != VERSION:
        reader.fail("version", f"must be {VERSION}")
    kind = top.get("kind")
    if kind == APP:
        if "apps" in top:
            reader.fail("apps", "belongs in a network document (kind: network)")
        network = reader.name(top.get("network"), "network")
        app = AppDoc(reader.name(top.get("name"), "name"), reader.env(top, ""))
        return Document(APP, network, None, [app])
    if kind == NETWORK:
        if "network" in top:
            reader.fail("network", "a network document names its network with `name`")
        network = reader.name(top.get("name"), "name")
        apps: list[AppDoc] = []
        raw_apps = top.get("apps") or []
        if not isinstance(raw_apps, list):
            reader.fail("apps", "must be a list")
        for i, raw in enumerate(raw_apps):
            where = f"apps[{i}]"
            entry = reader.mapping(raw, where, {"name", "vars", "secrets"})
            name = reader.name(entry.get("name"), f"{where}.name")
            if any(a.name == name for a in apps):
                reader.fail(f"{where}.name", f"app {name!r} is listed twice")
            apps.append(AppDoc(name, reader.env(entry, where + ".")))
        return Document(NETWORK, network, reader.env(top, ""), apps)
    reader.fail("kind", "must be `app` or `network`")


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> NoReturn:
        at = f"{where}: " if where else ""
        raise UsageError(
            f"{self.source}: {at}{problem}",
            hint="see `rig details app NAME --export FILE` for the format",
        )

    def mapping(self, value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, "must be a mapping")
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            expected = ", ".join(sorted(allowed))
            self.fail(where, f"unknown field {unknown[0]!r} (expected {expected})")
        return value

    def name(self, value: Any, where: str) -> str:
        from rig.targets import name_problem

        if not isinstance(value, str):
            self.fail(where, "must be a name")
        problem = name_problem(value)
        if problem:
            self.fail(where, f"{value!r} {problem}")
        return str(value)

    def env(self, entry: dict[str, Any], prefix: str) -> Env:
        vars_ = entry.get("vars") or {}
        if not isinstance(vars_, dict):
            self.fail(prefix + "vars", "must be a mapping of KEY: value")
        env = Env()
        for key, value in vars_.items():
            self.key(key, f"{prefix}vars")
            env.vars[key] = self.value(value, f"{prefix}vars.{key}")
        secrets = entry.get("secrets") or {}
        if isinstance(secrets, list):
            secrets = dict.fromkeys(secrets)
        if not isinstance(secrets, dict):
            self.fail(prefix + "secrets", "must be a mapping of KEY: digest (or null)")
        for key, digest in secrets.items():
            self.key(key, f"{prefix}secrets")
            if digest is not None and not isinstance(digest, str):
                self.fail(f"{prefix}secrets.{key}", "must be a digest or null, never a value")
            if key in env.vars:
                self.fail(f"{prefix}secrets.{key}", "is also a var; a key is one or the other")
            env.secrets[key] = digest or None
        return env

    def key(self, key: Any, where: str) -> None:
        from rig.targets import key_problem

        problem = key_problem(key) if isinstance(key, str) else "must be a string"
        if problem:
            self.fail(where, f"key {key!r} {problem}")

    def value(self, value: Any, where: str) -> str:
        if isinstance(value, bool) or value is None:
            self.fail(where, "must be a string (quote it: 'true', '')")
        if isinstance(value, (int, float)):
            return str(value)
        if not isinstance(value, str):
            self.fail(where, "must be a string")
        return str(value)


# -- the platform's side ------------------------------------------------------------


def fetch(api: Api, kind: str, network: str, apps: list[str]) -> Document | None:
    """What the platform has for a document of ``kind``; None when the network does not exist.

    For an app document, ``apps`` names the app; a missing app is simply left out.
    """
    try:
        details = api.network(network)
    except NotFoundError:
        return None
    if kind == NETWORK:
        apps = [str(a["name"]) for a in details.get("apps") or []]
        network_env: Env | None = _own_env(details, NETWORK)
    else:
        network_env = None
    found = []
    for name in apps:
        try:
            app = api.app(network, name)
        except NotFoundError:
            continue
        found.append(AppDoc(name, _own_env(app, APP)))
    return Document(kind, network, network_env, found)


def _own_env(details: Mapping[str, Any], source: str) -> Env:
    """The vars and secrets set at this very scope (an app's details also list inherited ones)."""
    env = Env()
    for var in details.get("vars") or []:
        if var.get("source", source) == source:
            env.vars[str(var["key"])] = str(var.get("value") or "")
    for secret in details.get("secrets") or []:
        if secret.get("source", source) == source:
            env.secrets[str(secret["key"])] = secret.get("digest")
    return env


# -- comparing --------------------------------------------------------------------


def compare(desired: Document, actual: Document | None) -> list[Change]:
    """The differences between a document and the platform, in the order apply settles them."""
    network = desired.network
    changes: list[Change] = []
    if actual is None:
        changes.append(Change("create", NETWORK, network))
        actual = Document(desired.kind, network, Env(), [])
    if desired.network_env is not None:
        changes += list(_env_changes(network, None, desired.network_env, actual.network_env))
    current = {a.name: a for a in actual.apps}
    for app in desired.apps:
        have = current.get(app.name)
        if have is None:
            changes.append(Change("create", APP, network, app.name))
        changes += list(_env_changes(network, app.name, app.env, have.env if have else None))
    if desired.kind == NETWORK:
        wanted = {a.name for a in desired.apps}
        changes += [Change("extra", APP, network, n) for n in sorted(current) if n not in wanted]
    return changes


def _env_changes(network: str, app: str | None, want: Env, have: Env | None) -> Iterator[Change]:
    have = have or Env()
    for key in sorted(set(want.vars) | set(have.vars)):
        new, old = want.vars.get(key), have.vars.get(key)
        if new is not None and old is None:
            yield Change("add", "var", network, app, key, None, new)
        elif new is None:
            yield Change("remove", "var", network, app, key, old, None)
        elif new != old:
            yield Change("change", "var", network, app, key, old, new)
    for key in sorted(set(want.secrets) | set(have.secrets)):
        if key not in have.secrets:
            yield Change("missing", "secret", network, app, key, None, want.secrets[key])
        elif key not in want.secrets:
            yield Change("remove", "secret", network, app, key, have.secrets[key], None)
        elif (digest := want.secrets[key]) and digest != have.secrets[key]:
            yield Change("differs", "secret", network, app, key, have.secrets[key], digest)
