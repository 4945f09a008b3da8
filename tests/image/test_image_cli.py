"""``rig deploy --image`` and registry credentials against a real platform on the process
runtime: the refusal that names the runtime that runs images, the usage errors, and a
registry password that never shows anywhere (answers, rig's verbose log, the platform's log,
the database in clear)."""

from __future__ import annotations

import secrets

from tests.support.cli import Rig, single_error_line

IMAGE = "127.0.0.1:5999/team/api:1.4"


def _app(rig: Rig) -> tuple[str, str]:
    network = rig.ok("create", "network", "-o", "json").json()["name"]
    app = rig.ok("create", "app", "api", "--network", network, "-o", "json").json()["name"]
    return network, app


def test_image_deploy_is_refused_on_the_process_runtime(logged_in: Rig) -> None:
    network, app = _app(logged_in)
    run = logged_in("deploy", "--image", IMAGE, "--app", app, "--network", network)
    assert run.code == 1, str(run)
    line = single_error_line(run)
    assert "image deploys need the swarm runtime" in line
    assert "process runtime" in line
    assert "rig local start --runtime swarm" in line
    run = logged_in("deploy", "--image", IMAGE, "--app", app, "--network", network, "-o", "json")
    assert run.code == 1
    assert run.error_json()["error"]["code"] == "runtime_unsupported"
    assert logged_in.ok("list", "releases", "--app", app, "-o", "json").json() == []


def test_image_deploy_usage_errors(logged_in: Rig, tmp_path) -> None:
    network, app = _app(logged_in)
    both = logged_in("deploy", str(tmp_path), "--image", IMAGE, "--app", app)
    assert both.code == 2, str(both)
    assert "either a directory" in single_error_line(both)
    dry = logged_in("deploy", "--image", IMAGE, "--app", app, "--dry-run")
    assert dry.code == 2, str(dry)
    auth_alone = logged_in("deploy", "--app", app, "--registry-auth", "me")
    assert auth_alone.code == 2, str(auth_alone)
    assert "--registry-auth goes with --image" in single_error_line(auth_alone)
    no_app = logged_in("deploy", "--image", IMAGE)
    assert no_app.code == 2, str(no_app)
    for bad in ("Team/API:1", "a/b:", "x@sha256:123", "a b"):
        run = logged_in("deploy", "--image", bad, "--app", app, "--network", network)
        assert run.code == 2, str(run)
        assert "is not an image reference" in single_error_line(run)
    empty_password = logged_in(
        "deploy", "--image", IMAGE, "--app", app, "--network", network, "--registry-auth", "me"
    )
    assert empty_password.code == 2, str(empty_password)
    assert "empty password" in single_error_line(empty_password)


def test_image_registry_credentials_are_stored_listed_and_deleted_never_shown(
    logged_in: Rig,
) -> None:
    platform = logged_in.platform
    assert platform is not None
    password = "pw-" + secrets.token_hex(16)
    host = "registry.example.com:5000"
    made = logged_in.ok(
        "create", "registry", host, "--username", "ci", "-v", "-o", "json", input=password + "\n"
    )
    assert made.json()["host"] == host and made.json()["username"] == "ci"
    listed = logged_in.ok("list", "registries", "-o", "json").json()
    assert [(r["host"], r["username"]) for r in listed] == [(host, "ci")]
    assert set(listed[0]) == {"host", "username", "created_at", "updated_at"}
    table = logged_in.ok("list", "registries")
    assert host in table.out and "ci" in table.out

    # a deploy with the stored credentials, and one with --registry-auth: refused here, and
    # the passwords go nowhere on the way
    network, app = _app(logged_in)
    image = f"{host}/team/api:2"
    refused = logged_in("deploy", "--image", image, "--app", app, "--network", network, "-v")
    assert refused.code == 1, str(refused)
    other = "other-" + secrets.token_hex(16)
    refused2 = logged_in(
        "deploy", "--image", image, "--app", app, "--network", network,
        "--registry-auth", "me", "-v", input=other,
    )  # fmt: skip
    assert refused2.code == 1, str(refused2)

    replaced = logged_in.ok("create", "registry", host, "-u", "ci2", input="second-" + password)
    assert "ci2" in replaced.out
    for run in (made, table, refused, refused2, replaced):
        assert password not in run.out + run.err and other not in run.out + run.err
    database = b"".join(p.read_bytes() for p in platform.data_dir.glob("*.db*"))
    assert database, "no database file found"
    for value in (password, other):
        assert value.encode() not in database
        assert value not in platform.log()

    gone = logged_in.ok("delete", "registry", host, "--yes")
    assert "Forgot" in gone.out
    assert logged_in.ok("list", "registries", "-o", "json").json() == []
    again = logged_in("delete", "registry", host, "--yes")
    assert again.code == 4, str(again)
    bad = logged_in("create", "registry", "not a host", "-u", "x", input="pw")
    assert bad.code == 2, str(bad)
    assert "is not a registry host" in single_error_line(bad)
    no_password = logged_in("create", "registry", host, "-u", "x", input="")
    assert no_password.code == 2, str(no_password)


def test_image_deploy_in_the_shell(logged_in: Rig) -> None:
    """Piped lines run in the shell (``echo ... | rig``), which stops at a failing one with
    its exit code."""
    network, app = _app(logged_in)
    where = f"--app {app} --network {network}"
    run = logged_in(input=f"list registries\ndeploy --image {IMAGE} {where}\nlist apps\n")
    assert run.code == 1, str(run)
    assert "Traceback" not in run.err, str(run)
    assert "no registry credentials" in run.out
    assert "image deploys need the swarm runtime" in run.err
    assert "rig local start --runtime swarm" in run.err
    assert "stopped at line 2 (exit 1)" in run.err
    both = logged_in(input=f"deploy . --image {IMAGE} {where}\n")
    assert both.code == 2, str(both)
    assert "either a directory (.) or --image, not both" in both.err
