"""The project file: ``rig.toml`` in a source directory (or a parent) naming its app and network.

::

    [app]
    name = "api"
    network = "shop"

The platform reads other keys of the same file when it is deployed (``build``,
``[processes]``); rig reads only ``[app]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rig.errors import UsageError

PROJECT_FILE = "rig.toml"


@dataclass(frozen=True)
class Project:
    path: Path
    app: str | None = None
    network: str | None = None

    @property
    def root(self) -> Path:
        return self.path.parent


def find_file(start: Path | None = None) -> Path | None:
    """The nearest ``rig.toml``: in ``start`` (default: the working directory) or a parent."""
    try:
        here = (start or Path.cwd()).resolve()
    except OSError:
        return None
    for directory in (here, *here.parents):
        candidate = directory / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def find_project(start: Path | None = None) -> Project | None:
    path = find_file(start)
    return read(path) if path else None


def read(path: Path) -> Project:
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}", hint="fix or delete it") from None
    table = data.get("app") or {}
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [app] must be a table", hint='e.g. [app] name = "api"')
    values = {}
    for key in ("name", "network"):
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            raise UsageError(f"{path}: [app] {key} must be a string", hint='e.g. name = "api"')
        values[key] = value or None
    return Project(path, values["name"], values["network"])


def app_table(app: str, network: str | None) -> str:
    lines = ["[app]", f'name = "{app}"']
    if network:
        lines.append(f'network = "{network}"')
    return "\n".join(lines) + "\n"


HEADER = (
    "# rig project file: here `rig deploy`, `rig logs app` and `rig status app` need no\n"
    "# --app or --network. The platform also reads `build` and [processes] from it.\n"
)
