"""The layering rules of docs/architecture.md, checked by reading the source.

Commands and the shell speak to the platform through ``rig.api`` only: no API path, header
name or realtime topic is spelled out in ``rig/commands`` or ``rig/repl``. Environment
variables are read in ``rig/context.py`` and ``rig/config.py`` only.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

RIG = Path(__file__).resolve().parents[2] / "rig"
API_PATH = re.compile(
    r"^/(networks|apps|me|health|status|sessions|audit|tokens|auth)\b"
    r"|/(vars|secrets|releases|logs|rollback|restart|stop|start|reveal)\b"
)
HEADER = re.compile(r"\bX-[A-Z][A-Za-z0-9]*(-[A-Za-z0-9]+)*\b|\bAuthorization\b")
TOPIC = re.compile(r"^(logs|status|exec):")


def _strings(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every string literal and f-string part that is not a docstring."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.lineno, node.value


def offences(path: Path) -> list[str]:
    found = []
    for line, text in sorted(_strings(ast.parse(path.read_text(encoding="utf-8")))):
        for what, pattern in (("API path", API_PATH), ("header", HEADER), ("topic", TOPIC)):
            if pattern.search(text):
                found.append(f"{path.name}:{line}: {what} {text!r}")
    return found


@pytest.mark.parametrize("package", ["commands", "repl"])
def test_commands_and_the_shell_name_no_path_header_or_topic(package: str) -> None:
    files = sorted((RIG / package).rglob("*.py"))
    assert files
    assert [o for f in files for o in offences(f)] == []


def test_the_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Docstrings may say /networks and status:user."""\n'
        'a = f"/networks/{n}/apps"\n'
        'b = "X-Last-Seq"\n'
        'c = "status:user"\n'
        'd = f"{base}/releases"\n'
    )
    assert offences(sample) == [
        "sample.py:2: API path '/apps'",
        "sample.py:2: API path '/networks/'",
        "sample.py:3: header 'X-Last-Seq'",
        "sample.py:4: topic 'status:user'",
        "sample.py:5: API path '/releases'",
    ]


# Modules that may name os.environ, and why: the environment's two readers; the help generator,
# which sets COLUMNS for argparse's width; the transcript runner, a pytest plugin that sets
# each replay's environment.
ENVIRON_ALLOWED = {"context.py", "config.py", "helpdoc.py", "testing/runner.py"}


def test_environment_variables_are_read_in_the_context_and_config_only() -> None:
    readers = sorted(
        str(path.relative_to(RIG))
        for path in RIG.rglob("*.py")
        if re.search(r"\bos\.(environ|getenv)\b", path.read_text(encoding="utf-8"))
    )
    assert set(readers) <= ENVIRON_ALLOWED, readers


# What each package may not import when rig runs (imports under TYPE_CHECKING are for the type
# checker only): the layers of docs/architecture.md, top to bottom.
FORBIDDEN = {
    "rig.transport": {"rig.api", "rig.commands", "rig.repl", "rig.cli", "rig.context"},
    "rig.api": {"rig.commands", "rig.repl", "rig.cli", "rig.targets", "rig.runner"},
    "rig.output": {"rig.api", "rig.transport", "rig.commands", "rig.repl", "rig.context"},
    "rig.commands": {"rig.repl", "rig.transport.http", "rig.transport.wire"},
    "rig.repl": {"rig.transport.http", "rig.transport.wire"},
}


def _runtime_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_each_layer_imports_only_what_is_below_it(package: str) -> None:
    folder = RIG.parent / package.replace(".", "/")
    bad = sorted(
        f"{path.relative_to(RIG.parent)} imports {name}"
        for path in folder.rglob("*.py")
        for name in _runtime_imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package])
    )
    assert bad == []


HEAVY = ("httpx", "yaml", "keyring")  # each costs tens of ms to import: one-shot start-up


def _imports_by_function(tree: ast.Module) -> Iterator[tuple[str, str]]:
    """(module imported, the function importing it, or "" at module level) for every import that
    runs (those under ``if TYPE_CHECKING:`` do not)."""

    def walk(node: ast.AST, function: str) -> Iterator[tuple[str, str]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test) == "TYPE_CHECKING":
                yield from (x for c in child.orelse for x in walk(c, function))
                continue
            if isinstance(child, ast.Import):
                yield from ((alias.name, function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module:
                yield child.module, function
            inner = (
                child.name
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
                else function
            )
            yield from walk(child, inner)

    yield from walk(tree, "")


def test_each_heavy_module_is_imported_in_one_accessor() -> None:
    found: dict[str, list[str]] = {name: [] for name in HEAVY}
    for path in sorted(RIG.rglob("*.py")):
        for module, function in _imports_by_function(ast.parse(path.read_text(encoding="utf-8"))):
            top = module.split(".")[0]
            if top in found:
                found[top].append(f"{path.relative_to(RIG)}:{function or '<module>'}")
    assert found == {
        "httpx": ["transport/http.py:httpx_module"],
        "yaml": ["configdoc.py:yaml_module"],
        "keyring": ["credentials.py:keyring_module"],
    }


MAXLOCAL = RIG.parent / "maxlocal"
# The platform's layers (docs/architecture.md, "The platform"), top to bottom: what each part of
# maxlocal may not import. The HTTP layer (api/, FastAPI) is one way in among three: the
# realtime socket's handlers (live.py, remote/) and the runtime are handed the ``Platform``
# container (platform.py) and never reach up into the HTTP layer or the server that wires it.
ABOVE_THE_PLATFORM = {"maxlocal.server", "maxlocal.api", "maxlocal.live", "maxlocal.remote"}
HTTP = {"fastapi", "starlette", "uvicorn"}
MAXLOCAL_FORBIDDEN = {
    "maxlocal.api": {"maxlocal.server"},
    "maxlocal.live": {"maxlocal.server", "maxlocal.api", "maxlocal.remote", *HTTP},
    "maxlocal.remote": {"maxlocal.server", "maxlocal.api", "maxlocal.live", *HTTP},
    "maxlocal.platform": {*ABOVE_THE_PLATFORM, "maxlocal.realtime", *HTTP},
    "maxlocal.realtime": {
        *ABOVE_THE_PLATFORM,
        "maxlocal.platform",
        "maxlocal.runtime",
        "maxlocal.store",
        "fastapi",
    },
    "maxlocal.runtime": {*ABOVE_THE_PLATFORM, "maxlocal.platform", "maxlocal.realtime", *HTTP},
    "maxlocal.builders": {
        *ABOVE_THE_PLATFORM,
        "maxlocal.platform",
        "maxlocal.realtime",
        "maxlocal.runtime.core",
        *HTTP,
    },
    "maxlocal.store": {
        *ABOVE_THE_PLATFORM,
        "maxlocal.platform",
        "maxlocal.realtime",
        "maxlocal.runtime",
        "maxlocal.builders",
        "maxlocal.auth",
        *HTTP,
    },
}


def _modules(package: str) -> list[Path]:
    """The files of ``maxlocal.x`` (a package or a module)."""
    base = RIG.parent / package.replace(".", "/")
    return sorted(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]


@pytest.mark.parametrize("package", sorted(MAXLOCAL_FORBIDDEN))
def test_each_part_of_the_platform_imports_only_what_is_below_it(package: str) -> None:
    files = _modules(package)
    assert files and all(f.exists() for f in files)
    bad = sorted(
        f"{path.relative_to(RIG.parent)} imports {name}"
        for path in files
        for name in _runtime_imports(path)
        if any(name == f or name.startswith(f + ".") for f in MAXLOCAL_FORBIDDEN[package])
    )
    assert bad == []


def test_the_platform_check_reads_what_a_module_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "from maxlocal.api.deps import find_app\n"
        "import fastapi.routing\n"
        "if TYPE_CHECKING:\n"
        "    from maxlocal.server import ServeOptions\n"
    )
    found = _runtime_imports(sample)
    assert {"maxlocal.api.deps", "fastapi.routing"} <= found
    assert not any(name.startswith("maxlocal.server") for name in found)


# The runtime driver (maxlocal/runtime/driver.py): everything above the runtime holds a
# ``RuntimeDriver``; a concrete driver's modules are imported by the registry alone (by name,
# when that driver is chosen), so a second driver needs no change above it.
CONCRETE_DRIVERS = {"maxlocal.runtime.core", "maxlocal.runtime.supervisor"}
ABOVE_THE_DRIVER = ["maxlocal.api", "maxlocal.live", "maxlocal.remote", "maxlocal.edge"]
ABOVE_THE_DRIVER += ["maxlocal.server", "maxlocal.platform", "maxlocal.__main__"]


@pytest.mark.parametrize("package", ABOVE_THE_DRIVER)
def test_only_the_registry_imports_a_concrete_runtime_driver(package: str) -> None:
    bad = sorted(
        f"{path.relative_to(RIG.parent)} imports {name}"
        for path in _modules(package)
        for name in _runtime_imports(path)
        if any(name == c or name.startswith(c + ".") for c in CONCRETE_DRIVERS)
    )
    assert bad == []


def test_the_registry_names_each_driver_by_module_and_factory() -> None:
    import importlib

    from maxlocal.runtime import driver

    for name in driver.names():
        module, colon, factory = driver._REGISTRY[name].partition(":")
        assert colon and module.startswith("maxlocal.runtime."), name
        assert callable(getattr(importlib.import_module(module), factory)), name
    imported = _runtime_imports(MAXLOCAL / "runtime" / "driver.py")
    assert not imported & CONCRETE_DRIVERS, "the registry imports drivers lazily, by name"
