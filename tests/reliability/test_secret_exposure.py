"""Secret values and tokens stay out of every output, log, history and process listing."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.figures import Figures
from tests.support.cli import ROOT, Rig, base_env
from tests.support.platform import Platform

SECRET = "s3cret-value-0f9e8d7c"
NET_SECRET = "net-s3cret-value-a1b2c3"


@pytest.fixture
def shop(logged_in: Rig) -> Rig:
    logged_in.ok("create", "network", "shop")
    logged_in.ok("create", "app", "api", "--network", "shop")
    return logged_in


def every_proc_cmdline(but: int) -> str:
    """The command lines of every process but ``but`` (whose argv the user typed)."""
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != but:
            try:
                lines.append(
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
            except OSError:
                continue
    return "\n".join(lines)


# How a secret reaches rig: piped to stdin, or on rig's own command line (which the user typed,
# so it is in rig's argv: it must be in no other process's, the platform's or a helper's).
FORMS = {
    "stdin": (["PIPED", "-"], SECRET.encode()),
    "argument": (["ARGUED", SECRET], None),
    "KEY=VALUE": ([f"ASSIGNED={SECRET}"], None),
}


@pytest.mark.parametrize("form", list(FORMS))
def test_a_secret_is_never_in_another_process_arguments(
    shop: Rig, figures: Figures, form: str
) -> None:
    env = {**base_env(shop.config_dir), **shop.env}
    args, stdin = FORMS[form]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rig", "create", "secret", *args, "--app", "api", "-vv"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT,
    )  # fmt: skip
    assert proc.stdin is not None
    seen = []
    deadline = time.monotonic() + 20
    if stdin is not None:
        time.sleep(0.3)
        proc.stdin.write(stdin)
    proc.stdin.close()
    own = b""  # rig's own command line as sampled: proves the sampling saw rig running
    while proc.poll() is None and time.monotonic() < deadline:
        seen.append(every_proc_cmdline(but=proc.pid))
        with contextlib.suppress(OSError):
            own += Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        time.sleep(0.02)
    proc.wait(20)
    seen.append(every_proc_cmdline(but=proc.pid))  # after: the platform and its children
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read(), proc.stderr.read()
    # two checks, however many listings were sampled (their number follows the machine's
    # load, and a figure that does can shrink unnoticed): other processes, rig's output
    figures.add("secret_exposure_checks", 2)
    assert proc.returncode == 0, err
    assert len(seen) > 1 and not any(SECRET in listing for listing in seen)
    assert b"create\0secret" in own and (stdin is not None or SECRET.encode() in own)
    assert SECRET.encode() not in out + err


def test_secrets_stay_out_of_outputs_at_every_verbosity_and_the_platform_log(
    shop: Rig, platform: Platform, figures: Figures
) -> None:
    runs = [
        shop.ok("create", "secret", "DB_PASSWORD", "-", "--app", "api", "-vv", input=SECRET),
        shop.ok("create", "secret", f"NET={NET_SECRET}", "--network", "shop", "-vv", "-o", "json"),
        shop.ok("create", "secret", f"DB_PASSWORD={SECRET}x", "--app", "api", "-vv"),
    ]
    for args in (
        ("list", "secrets", "--app", "api"),
        ("list", "secrets", "--network", "shop"),
        ("details", "app", "api"),
        ("details", "network", "shop"),
        ("list", "vars", "--app", "api"),
    ):
        for verbosity in ((), ("-v",), ("-vv",)):
            runs.append(shop.ok(*args, *verbosity))
            runs.append(shop.ok(*args, *verbosity, "-o", "json"))
    runs.append(shop("create", "secret", f"bad-key={SECRET}", "--app", "api", "-vv"))
    runs.append(shop("create", "secret", "K", SECRET, "--app", "nope", "-vv"))
    for run in runs:
        figures.add("secret_exposure_checks")
        assert SECRET not in run.out + run.err and NET_SECRET not in run.out + run.err, str(run)
    assert "GET" in runs[-3].err  # -vv did log requests
    platform.stop()
    log = platform.log()
    assert log and SECRET not in log and NET_SECRET not in log
    db = (platform.data_dir / "maxlocal.db").read_bytes()
    assert SECRET.encode() not in db and NET_SECRET.encode() not in db


def test_the_shell_history_never_holds_a_secret(shop: Rig, tmp_path: Path) -> None:
    state = tmp_path / "state"
    script = "\n".join(
        [
            f"create secret TYPED {SECRET} --app api",
            f"create secret TYPED2={SECRET} --network shop",
            "list secrets --app api",
            "exit",
        ]
    )
    run = shop("repl", input=script + "\n", env={"RIG_STATE_DIR": str(state)})
    assert SECRET not in run.out + run.err, str(run)
    history = state / "history"
    assert history.exists(), str(run)
    assert SECRET.encode() not in history.read_bytes()
    assert stat.S_IMODE(history.stat().st_mode) == 0o600


def test_credentials_are_private_and_rig_token_is_never_echoed(
    shop: Rig, platform: Platform, tmp_path: Path
) -> None:
    config = shop.config_dir
    assert stat.S_IMODE(config.stat().st_mode) == 0o700
    for name in ("credentials.json", "contexts.json"):
        assert stat.S_IMODE((config / name).stat().st_mode) == 0o600
    token = platform.add_user("ci@example.com")["token"]
    ci = Rig(tmp_path / "ci-config", env={"RIG_TOKEN": token, "RIG_API": platform.url})
    runs = [ci.ok("whoami", *v) for v in ((), ("-vv",), ("-o", "json", "-vv"))]
    runs.append(ci("list", "apps", "--network", "nope", "-vv"))
    runs.append(ci("login", "--token", token, "--api", platform.url, "-vv"))
    bad = Rig(tmp_path / "bad", env={"RIG_TOKEN": token + "x", "RIG_API": platform.url})
    runs.append(bad("whoami", "-vv"))
    for run in runs:
        assert token not in run.out + run.err, str(run)
    assert runs[-1].code == 3
    assert token not in platform.log()
    cred = ci.config_dir / "credentials.json"
    if cred.exists():
        assert stat.S_IMODE(cred.stat().st_mode) == 0o600
    assert os.environ.get("RIG_TOKEN") is None or os.environ["RIG_TOKEN"] != token
