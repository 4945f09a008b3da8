"""`rig completion`: scripts that complete commands, and names from the local cache only."""

from __future__ import annotations

import os
import subprocess

from tests.support.cli import ROOT, Rig, base_env


def complete(rig: Rig, line: str) -> list[str]:
    """What bash completes for ``line`` (the last word being completed) with rig's script."""
    words = line.split(" ")
    env = base_env(rig.config_dir)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"
    script = (
        "source <(rig completion bash)\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        '_rig; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    run = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert run.returncode == 0, run.stderr
    return [w for w in run.stdout.splitlines() if w]


def test_names_come_from_a_cache_kept_fresh_by_commands(logged_in: Rig) -> None:
    rig = logged_in
    rig.ok("create", "network", "shop")
    rig.ok("create", "app", "api", "--network", "shop")
    rig.ok("create", "app", "admin", "--network", "shop")
    assert rig.ok("__complete", "app").out.split() == ["admin", "api"]
    rig.ok("delete", "app", "admin", "--network", "shop", "--yes")
    assert rig.ok("__complete", "app").out.split() == ["api"]
    assert rig.ok("__complete", "network").out.split() == ["shop"]
    assert rig.ok("__complete", "context").out.split() == ["default"]

    assert rig.platform is not None
    rig.platform.stop()  # completion never needs the platform
    assert complete(rig, "rig cre") == ["create"]
    assert complete(rig, "rig create net") == ["network"]
    assert complete(rig, "rig details app a") == ["api"]
    assert complete(rig, "rig logs app --network s") == ["shop"]
    assert "--dry-run" in complete(rig, "rig apply --")


def test_scripts_for_every_shell(rig: Rig) -> None:
    assert "complete -F _rig rig" in rig.ok("completion", "bash").out
    assert rig.ok("completion", "zsh").out.startswith("autoload -U +X bashcompinit")
    fish = rig.ok("completion", "fish").out
    assert "complete -c rig -l app -x -a '(rig __complete app)'" in fish
    assert rig("completion", "tcsh").code == 2
