"""The client's import graph never reaches the server's packages (pyproject.toml: `maxrig`
without `[local]` does not install them): every rig module, and every command's parser,
imported in a process where importing one of them fails."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.support.cli import ROOT

# What only the `local` extra installs (and what those pull in), and the server's own code
# (maxlocal.grep is the client's too: `rig logs --grep` matches as the platform does).
SERVER = (
    "fastapi", "starlette", "pydantic", "uvicorn", "cryptography", "psutil",
    "prometheus_client", "seccomp", "pyseccomp", "uv",
)  # fmt: skip

PROBE = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    SERVER = set(sys.argv[1].split(","))

    class Refuse:
        def find_spec(self, name, path=None, target=None):
            top = name.split(".")[0]
            server_code = top == "maxlocal" and name not in ("maxlocal", "maxlocal.grep")
            if top in SERVER or server_code:
                raise ImportError(f"the client imported {name}")
            return None

    sys.meta_path.insert(0, Refuse())
    import rig

    names = [m.name for m in pkgutil.walk_packages(rig.__path__, "rig.")]
    for name in names:
        if not name.startswith("rig.testing"):  # the pytest plugin: tests only
            importlib.import_module(name)
    from rig.cli import build_parser

    build_parser(["local", "start"]).parse_args(["local", "start"])
    import maxlocal.grep
    print(len(names), "modules")
    """
)


def _probe(source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", source, ",".join(SERVER)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_client_modules_import_nothing_of_the_server() -> None:
    run = _probe(PROBE)
    assert run.returncode == 0, run.stderr
    assert int(run.stdout.split()[0]) > 50, run.stdout


def test_the_probe_refuses_a_server_import() -> None:
    """The hook does refuse: importing the platform's server module fails under it."""
    run = _probe(PROBE.replace("import maxlocal.grep", "import maxlocal.server"))
    assert run.returncode != 0
    assert "the client imported maxlocal.server" in run.stderr
