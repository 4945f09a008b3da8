"""Start-up of rig as released (issue 20), beside the dev venv's install in the same rounds: the
single file (shiv, run by this interpreter's base Python, as a host's python3 would), the
PyInstaller bundle (its own Python), and the lean install (the wheel alone, `uv tool install`).

Warm: the install has run before. Cold: its first run after installing, the costs a user pays
once: the single file unpacks itself into a new SHIV_ROOT; the lean install compiles its
bytecode (uv installs none); the bundle runs from a fresh copy of its directory (its bytecode is
inside; the page cache stays warm: dropping it would slow the other users of the machine).
Then the one-shot figures of bench/figures.py on the lean install, to their own targets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench import figures
from bench.figures import Figure, Target, figure
from bench.measure import interleaved, median, run_once
from bench.platform import Platform, rig_executable

ROOT = Path(__file__).resolve().parent.parent
BASE_PYTHON = str(Path(sys.base_prefix) / "bin" / "python3")
COMMANDS = {"--version": ("--version",), "--help": ("--help",)}
# The same interpreter version and modules as the venv: what is left is the artefact's own
# fixed start-up, ~70 ms on the first measurement (2026-12-03): shiv's bootstrap (zipfile,
# hashlib, its site handling), PyInstaller's bootloader (loads libpython, unpacks nothing in
# one-directory mode, imports from its archives). Against rig --version's ~40 ms that is ~3x.
WARM = {"single file": Target("≤ 4x", 4, True), "bundle": Target("≤ 4x", 4, True)}
COLD = {
    "single file": Target("≤ 5000 ms", 5000),  # unpacks ~30 MB once: a user waits, once
    "bundle": Target("≤ 4x", 4, True),
    "lean install": Target("≤ 5x", 5, True),  # compiles its bytecode once
}


def build(out: Path) -> tuple[Path, Path, Path]:
    """The wheel, the single file and the bundle, by the script a release uses."""
    done = subprocess.run(
        [str(ROOT / "scripts" / "build-dist"), "--out", str(out), "wheel", "pyz", "bundle"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        check=True,
    )
    wheel, pyz, bundle = (Path(line) for line in done.stdout.splitlines())
    return wheel, pyz, bundle


def lean_install(wheel: Path, root: Path) -> Path:
    """``uv tool install`` of the wheel into ``root``: the client only; returns its ``rig``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_"))}
    env.update(UV_TOOL_DIR=str(root / "tools"), UV_TOOL_BIN_DIR=str(root / "bin"))
    uv = str(Path(sys.executable).with_name("uv"))
    subprocess.run(
        [uv, "tool", "install", "--quiet", "--python", sys.executable, str(wheel)],
        env=env,
        check=True,
        capture_output=True,
    )
    return root / "bin" / "rig"


def start_up(
    platform: Platform, runs: int, built: tuple[Path, Path, Path] | None = None
) -> list[Figure]:
    """The figures; ``built``: the wheel, single file and bundle if already built (tests/dist
    runs this once on its own artefacts, so that it cannot rot without a second build)."""
    with tempfile.TemporaryDirectory(prefix="rig-bench-dist-") as tmp:
        root = Path(tmp)
        wheel, pyz, bundle = built or build(root / "dist")
        lean = lean_install(wheel, root / "lean")
        warm_env = {**platform.env, "SHIV_ROOT": str(root / "shiv")}
        installs: dict[str, list[str]] = {
            "venv install": [rig_executable()],
            "single file": [BASE_PYTHON, str(pyz)],
            "bundle": [str(bundle / "rig")],
        }
        subjects: dict[str, Callable[[], float]] = {
            f"{name} {label}": partial(run_once, [*argv, *args], warm_env)
            for name, argv in installs.items()
            for label, args in COMMANDS.items()
        }
        fresh = iter(range(10**6))

        def cold_pyz() -> float:
            env = {**platform.env, "SHIV_ROOT": str(root / f"shiv-{next(fresh)}")}
            elapsed = run_once([BASE_PYTHON, str(pyz), "--version"], env)
            shutil.rmtree(env["SHIV_ROOT"])
            return elapsed

        def cold_bundle() -> float:
            copy = root / f"bundle-{next(fresh)}"
            shutil.copytree(bundle, copy, symlinks=True)
            elapsed = run_once([str(copy / "rig"), "--version"], platform.env)
            shutil.rmtree(copy)
            return elapsed

        def cold_lean() -> float:
            for cache in (root / "lean" / "tools").rglob("__pycache__"):
                shutil.rmtree(cache)
            return run_once([str(lean), "--version"], platform.env)

        subjects |= {
            "single file cold": cold_pyz,
            "bundle cold": cold_bundle,
            "lean install cold": cold_lean,
        }
        ms = {name: median(values) * 1000 for name, values in interleaved(runs, subjects).items()}
        result = []
        for label in COMMANDS:
            venv = (f"venv install rig {label}", ms[f"venv install {label}"])
            result += [
                figure(f"{name} rig {label}", ms[f"{name} {label}"], "ms", target, venv)
                for name, target in WARM.items()
            ]
        venv_version = ("venv install rig --version", ms["venv install --version"])
        result += [
            figure(
                f"{name} rig --version, first run", ms[f"{name} cold"], "ms", target, venv_version
            )
            for name, target in COLD.items()
        ]
        # the lean install is warm by now: the one-shot figures, as for the venv install
        return result + figures.start_up(platform, runs, str(lean), "lean install")
