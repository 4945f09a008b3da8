"""``deploy``: bundle a directory, upload it with its checksum, and follow the new release.

The steps, in order: plan what to upload (``rig.bundle``), find or create the
app, write the archive to a temporary file while hashing it, check its size
against the platform's limit, stream it up, then (unless ``--detach``) follow
the release until it is active or failed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from rig import interrupts
from rig.cli import CommandTree, add_app_option, add_network_option
from rig.commands.releases import platform_continues
from rig.errors import NotFoundError, UsageError
from rig.output import Column, Result
from rig.output.progress import progress_bar
from rig.output.terminal import safe_text
from rig.output.units import counted, human_bytes, human_seconds
from rig.targets import AppRef, app_network, check_name, default_app, default_network

if TYPE_CHECKING:
    from rig.api.client import Api
    from rig.api.types import App, Release
    from rig.bundle import BundlePlan
    from rig.context import Context
    from rig.transport.upload import Archive

LARGEST_SHOWN = 5

DRY_RUN_SECTIONS: dict[str, Sequence[Column]] = {
    "files": [Column("path"), Column("size", format=human_bytes)],
    "excluded": [Column("path"), Column("rule")],
}


def register(tree: CommandTree) -> None:
    parser = tree.add(
        "deploy",
        deploy,
        "upload a directory as a new release of an app and wait until it runs",
        examples=[
            "rig deploy --app api",
            "rig deploy ./site --app web --network shop --create",
            "rig deploy --app api --dry-run   # what would be uploaded, and what is ignored",
            "rig deploy --app api --detach -o json",
            "rig deploy --image registry.example.com/team/api:1.4 --app api   # a built image",
        ],
        description="Upload a directory as a new release of an app and wait until it runs. "
        "What .gitignore and .rigignore files exclude stays behind, and so do .env* files, "
        "at any depth (local settings and secrets): only a `!` rule in .rigignore (such as "
        "`!.env.example`) uploads one. --dry-run lists both. With --image, nothing is "
        "uploaded: the platform pulls that image (with the credentials of `rig create registry`, "
        "or --registry-auth) and runs it as the app's new release; that needs the swarm runtime "
        "(`rig local start --runtime swarm`). The image runs as a non-root user and must listen "
        "on $PORT.",
    )
    parser.add_argument(
        "path",
        nargs="?",
        metavar="PATH",
        help="the app's directory (default: the directory of rig.toml, else .)",
    )
    add_app_option(parser, "the app to deploy")
    add_network_option(parser, "the app's network (found when the app name is unique)")
    parser.add_argument(
        "--create", action="store_true", help="create the app when it does not exist"
    )
    parser.add_argument(
        "--message", "-m", metavar="M", help="the release's message (default: the commit subject)"
    )
    parser.add_argument(
        "--detach", action="store_true", help="return once uploaded, without following the build"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list what would be uploaded; upload nothing"
    )
    parser.add_argument(
        "--image",
        metavar="REF",
        help="deploy a prebuilt image ([HOST[:PORT]/]NAME[:TAG][@DIGEST]) instead of a directory",
    )
    parser.add_argument(
        "--registry-auth",
        metavar="USER",
        help="with --image: pull as USER, the password read from stdin (or a hidden prompt), "
        "for this deploy only",
    )


def deploy(ctx: Context, args: argparse.Namespace) -> Result:
    if args.image is not None:
        return deploy_image(ctx, args)
    if args.registry_auth is not None:
        raise UsageError("--registry-auth goes with --image", hint="rig deploy --image REF ...")
    from rig.bundle import git_info, plan_bundle

    root = Path(args.path) if args.path else project_root()
    app = default_app(ctx, args)
    if app:
        check_name("app", app)
    elif not args.dry_run:  # before the walk, which can take long (a whole /tmp)
        _no_app()
    plan = plan_bundle(root)
    if plan.is_large:
        warn_large(plan, ctx.stderr)
    if args.dry_run or not app:
        return dry_run(plan, build_plan(ctx, plan) if app else None)
    if not plan.files:
        raise UsageError(f"nothing to deploy in {root}", hint="is every file ignored?")
    refuse_a_failing_build(build_plan(ctx, plan, quiet=True))
    api = ctx.api()
    ref, app_info, created = find_or_create_app(ctx, args, app)
    limit = upload_limit(api)
    git = git_info(root)
    started = time.monotonic()
    with temporary_archive() as dest:
        archive = bundle(ctx, plan, dest)
        interrupts.check()  # Ctrl+C while bundling: nothing is sent
        check_size(archive, limit)
        release = send(ctx, api, ref, archive, release_params(args.message, git))
    number = int(release["number"])
    release = follow(ctx, args, ref, release)
    took = time.monotonic() - started
    data = {
        "app": ref.app,
        "network": ref.network,
        "release": number,
        "status": release.get("status"),
        "checksum": archive.sha256,
        "url": app_info.get("url"),
        "duration_s": round(took, 3),
        "size": archive.size,
        "files": len(plan.files),
        "message": release.get("message"),
        "git": None if git is None else {k: git[k] for k in ("commit", "branch", "dirty")},
        "created_app": created,
    }
    if args.detach:
        message = (
            f"Uploaded release {number} of {ref.app} ({data['status']}); "
            f"see it with `rig list releases --app {ref.app} --network {ref.network}`"
        )
    elif "web" in (release.get("processes") or {"web": ""}):
        message = f"Deployed {ref.app} release {number} in {human_seconds(took)}: {data['url']}"
    else:  # nothing answers at its URL: a worker-only app
        message = (
            f"Deployed {ref.app} release {number} in {human_seconds(took)} "
            "(no web process, so no URL)"
        )
    return Result(data=data, message=message, show_data=False)


def deploy_image(ctx: Context, args: argparse.Namespace) -> Result:
    """``--image REF``: the platform pulls and runs a prebuilt image; nothing is uploaded."""
    if args.path is not None:
        raise UsageError(
            f"give either a directory ({args.path}) or --image, not both",
            hint="rig deploy PATH uploads the source; rig deploy --image REF runs a built image",
        )
    if args.dry_run:
        raise UsageError("--dry-run lists files to upload; --image uploads none")
    if not args.image.strip():
        raise UsageError(
            "--image needs a reference", hint="e.g. --image registry.example.com/api:1"
        )
    app = check_name("app", default_app(ctx, args) or _no_app())
    auth = None
    if args.registry_auth is not None:
        from rig.commands.registries import read_password

        if not args.registry_auth:
            raise UsageError("--registry-auth needs a user name", hint="--registry-auth USER")
        auth = (args.registry_auth, read_password(ctx, "the image's registry"))
    api = ctx.api()
    ref, app_info, created = find_or_create_app(ctx, args, app)
    started = time.monotonic()
    release = api.deploy_image(ref.network, ref.app, args.image, args.message, auth)
    number = int(release["number"])
    if not ctx.json:
        note(ctx, f"Release {number} of {ref.app}: pulling {args.image}")
    release = follow(ctx, args, ref, release)
    took = time.monotonic() - started
    image = release.get("image") or {}
    data = {
        "app": ref.app,
        "network": ref.network,
        "release": number,
        "status": release.get("status"),
        "image": image.get("ref", args.image),
        "digest": image.get("digest"),
        "url": app_info.get("url"),
        "duration_s": round(took, 3),
        "message": release.get("message"),
        "created_app": created,
    }
    if args.detach:
        message = (
            f"Deploying {args.image} as release {number} of {ref.app} ({data['status']}); "
            f"see it with `rig list releases --app {ref.app} --network {ref.network}`"
        )
    else:
        message = (
            f"Deployed {ref.app} release {number} ({data['digest'] or args.image}) "
            f"in {human_seconds(took)}: {data['url']}"
        )
    return Result(data=data, message=message, show_data=False)


def _no_app() -> NoReturn:
    raise UsageError(
        "say which app to deploy",
        hint="pass --app APP (and --create if new), or name it in rig.toml with `rig init`",
    )


def follow(ctx: Context, args: argparse.Namespace, ref: AppRef, release: Release) -> Release:
    """Unless ``--detach``: the release's build lines on stderr until it is active or failed
    (the release as it ended); Ctrl+C stops the watching only."""
    number = int(release["number"])
    with platform_continues(ref, number, "deploy"):
        interrupts.check()
        if args.detach:
            return release
        on_line = None if ctx.json else partial(print_build_line, ctx.stderr, colour=ctx.color)
        from rig.api.releases import settle

        return settle(ctx, ref.network, ref.app, number, on_line)


def dry_run(plan: BundlePlan, build: dict[str, Any] | None = None) -> Result:
    files = [
        {"path": f.path, "size": f.size, **({"link": f.link_target} if f.link_target else {})}
        for f in plan.files
    ]
    excluded = [{"path": e.path, "rule": e.rule} for e in plan.excluded]
    data = {
        "path": str(plan.root),
        "files": files,
        "total_bytes": plan.total_bytes,
        "excluded": excluded,
        "uploaded": False,
    }
    message = (
        f"Would upload {counted(len(files), 'file')}, {human_bytes(plan.total_bytes)} "
        f"in all, from {plan.root}; {counted(len(excluded), 'path')} left out. "
        "Nothing was uploaded."
    )
    if plan.env_files_left_out:
        message += "\n" + env_files_note(plan)
    failing = build is not None and "error" in build
    if build is not None:
        data["build"] = build
        message += f"\nBuild plan: {build.get('summary') or 'would fail: ' + build['error']}"
    return Result(
        data=data,
        message=message,
        fields=["files", "excluded"],
        sections=DRY_RUN_SECTIONS,
        exit_code=1 if failing else 0,
    )


PLAN_BYTES = 512 * 1024  # sent for a plan: with JSON escaping, within the 1 MiB body limit
PLAN_PATHS = 5000
BUILD_WOULD_FAIL = "build_would_fail"  # the platform's error code for a plan that fails


def build_plan(ctx: Context, plan: BundlePlan, *, quiet: bool = False) -> dict[str, Any] | None:
    """The platform's build plan for these files (``{"error": ...}`` when it would fail), from
    the paths (down to one directory) and the top-level text files, smallest first; None
    without a platform to ask (said on stderr unless ``quiet``). Asked only when the deploy
    names an app: a dry run of files alone needs no platform."""
    from rig.errors import RigError

    paths = [f.path for f in plan.files if f.path.count("/") <= 1][:PLAN_PATHS]
    files: dict[str, str] = {}
    budget = PLAN_BYTES - sum(len(p) + 4 for p in paths)
    for entry in sorted(plan.files, key=lambda f: f.size):
        if "/" in entry.path or entry.link_target or entry.size > budget:
            continue
        with contextlib.suppress(OSError, UnicodeDecodeError):
            files[entry.path] = (plan.root / entry.path).read_text(encoding="utf-8")
            budget -= entry.size + len(entry.path)
    try:
        return dict(ctx.api().build_plan(paths, files))
    except RigError as e:
        if e.code == BUILD_WOULD_FAIL:
            return {"error": e.message}
        if not quiet:
            note(ctx, f"rig: no build plan: {e.message}")
        return None


def refuse_a_failing_build(build: dict[str, Any] | None) -> None:
    """Stop before bundling and uploading what the platform says cannot be built or run (no
    start command, an unavailable Python...); without an answer, the deploy goes on."""
    from rig.errors import RigError

    if build is not None and "error" in build:
        raise RigError(
            f"this release would fail to build: {build['error']}",
            hint="nothing was uploaded; `rig deploy --dry-run` shows the build plan",
            code=BUILD_WOULD_FAIL,
        )


def warn_large(plan: BundlePlan, stream: IO[str]) -> None:
    from rig.bundle import LARGE_BUNDLE_BYTES

    largest = ", ".join(f"{f.path} ({human_bytes(f.size)})" for f in plan.largest(LARGEST_SHOWN))
    stream.write(
        f"rig: warning: the bundle is {human_bytes(plan.total_bytes)}, over "
        f"{human_bytes(LARGE_BUNDLE_BYTES)}; largest: {largest} "
        "(hint: list what the app does not need in .rigignore)\n"
    )
    stream.flush()


def project_root() -> Path:
    """The directory of the nearest rig.toml, else the working directory."""
    from rig.project import find_file

    found = find_file()
    return found.parent if found else Path(".")


def find_or_create_app(
    ctx: Context, args: argparse.Namespace, app: str
) -> tuple[AppRef, App, bool]:
    """The app and its network; with ``--create``, a missing app is created first."""
    api = ctx.api()
    try:
        network = app_network(ctx, args, app)
        return AppRef(network, app), api.app(network, app), False
    except NotFoundError as missing:
        if not args.create:
            raise NotFoundError(
                missing.message, hint=f"pass --create to create it, or check the name{_in(args)}"
            ) from None
    network = default_network(ctx, args)
    info = api.create_app(network, app)
    if not ctx.json:
        note(ctx, f"Created app {app} in network {network}")
    return AppRef(network, app), info, True


def _in(args: argparse.Namespace) -> str:
    return f" and network {args.network}" if getattr(args, "network", None) else ""


def upload_limit(api: Api) -> int | None:
    limit = api.health().get("max_upload_bytes")
    return int(limit) if isinstance(limit, int) and limit > 0 else None


def check_size(archive: Archive, limit: int | None) -> None:
    if limit is not None and archive.size > limit:
        raise UsageError(
            f"the archive is {human_bytes(archive.size)}, over the platform's upload limit of "
            f"{human_bytes(limit)}",
            hint="leave out what the app does not need with .rigignore; "
            "`rig deploy --dry-run` lists the files",
        )


@contextlib.contextmanager
def temporary_archive() -> Iterator[Path]:
    """A path for the archive, removed afterwards whatever happens (Ctrl+C included)."""
    fd, name = tempfile.mkstemp(prefix="rig-deploy-", suffix=".tar.gz")
    os.close(fd)
    try:
        yield Path(name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def bundle(ctx: Context, plan: BundlePlan, dest: Path) -> Archive:
    from rig.transport.upload import build_archive

    bar = progress_bar(ctx, "Bundling ", plan.total_bytes)

    def step(done: int) -> None:
        # A Ctrl+C that Python dropped (rig.interrupts) stops the bundling here, before the
        # bar is drawn again under the terminal's ^C.
        interrupts.check()
        bar(done)

    try:
        archive = build_archive(plan, dest, step)
    finally:
        bar.close()
    if not ctx.json:
        note(
            ctx,
            f"Bundled {counted(len(plan.files), 'file')} ({human_bytes(plan.total_bytes)}) "
            f"into {human_bytes(archive.size)}",
        )
        if plan.env_files_left_out:
            note(ctx, env_files_note(plan))
    return archive


def env_files_note(plan: BundlePlan) -> str:
    """What the default exclusion of ``.env*`` kept back, and how to upload one after all."""
    return (
        f".env* files are left out by default (local settings and secrets): "
        f"{', '.join(plan.env_files_left_out)}; a `!NAME` line in .rigignore uploads one"
    )


def release_params(message: str | None, git: dict[str, object] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    subject = git.get("subject") if git else None
    if message or subject:
        params["message"] = str(message or subject)
    if git:
        params["commit"] = str(git["commit"])
        if git.get("branch"):
            params["branch"] = str(git["branch"])
        params["dirty"] = "true" if git.get("dirty") else "false"
    return params


def send(ctx: Context, api: Api, ref: AppRef, archive: Archive, params: dict[str, str]) -> Release:
    """Stream the archive up as a new release; the release object the platform answers."""
    bar = progress_bar(ctx, "Uploading", archive.size)
    try:
        release = api.upload_release(
            ref.network, ref.app, archive.path, archive.sha256, params, bar
        )
    finally:
        bar.close()
    if not ctx.json:
        note(ctx, f"Uploaded release {release['number']} of {ref.app} ({release.get('status')})")
    return release


def print_build_line(stream: IO[str], line: dict[str, Any], *, colour: bool = False) -> None:
    """One line of the build's log, escapes and all shown escaped (the build runs the app's
    own commands)."""
    text = safe_text(str(line.get("line", "")), colour=colour)
    stream.write(f"{line.get('stream', 'build')}| {text}\n")
    stream.flush()


def note(ctx: Context, text: str) -> None:
    """A line for people on stderr; it may quote the platform, so shown through safe_text."""
    ctx.stderr.write(safe_text(text) + "\n")
    ctx.stderr.flush()
