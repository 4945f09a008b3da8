"""``init`` (write a project file) and ``context show`` (what a command here would run against)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rig.cli import CommandTree, add_app_option, add_network_option
from rig.errors import AlreadyExistsError, RigError, UsageError
from rig.output import Result
from rig.targets import FLAG, check_name, defaults

if TYPE_CHECKING:
    from rig.context import Context

CONTEXT_FIELDS = [
    "login_context",
    "context_source",
    "platform",
    "user",
    "network",
    "network_source",
    "app",
    "app_source",
    "project_file",
]


def register(tree: CommandTree) -> None:
    parser = tree.add(
        "init",
        init,
        "write a rig.toml here naming the app and network, so commands here need no flags",
        examples=[
            "rig init --app api --network shop",
            "rig init   # the app is named after the directory",
        ],
        description="Write a project file, rig.toml, naming this directory's app and network. "
        "In this directory and below, `rig deploy`, `rig logs app`, `rig status app` and the "
        "other app commands then need no --app or --network. An existing rig.toml without an "
        "[app] table gets one added; its build and [processes] are kept.",
    )
    add_app_option(parser, "the app (default: the directory's name)")
    add_network_option(parser, "the app's network")
    parser.add_argument(
        "--dir", metavar="DIR", default=".", help="where to write rig.toml (default: .)"
    )

    parser = tree.add(
        "context show",
        show_context,
        "show what commands here run against, and where each part came from",
        examples=["rig context show", "rig context show -o json", "RIG_APP=web rig context show"],
        description="Show the login context, platform and user, and the network and app that "
        "commands without --network/--app use here, each with its source. Precedence: a flag; "
        "else the shell's selection (`use`); else RIG_NETWORK/RIG_APP; else the nearest "
        "rig.toml. The first of these that names a network or an app gives both.",
    )
    add_app_option(parser, "resolve as if --app were given")
    add_network_option(parser, "resolve as if --network were given")


def init(ctx: Context, args: argparse.Namespace) -> Result:
    from rig.project import HEADER, PROJECT_FILE, app_table, read

    directory = Path(args.dir)
    if not directory.is_dir():
        raise UsageError(f"no such directory: {directory}", hint="pass an existing --dir")
    app = check_name("app", args.app or _name_from(directory))
    network = check_name("network", args.network) if args.network else None
    path = directory / PROJECT_FILE
    table = app_table(app, network)
    if path.exists():
        existing = read(path)
        if existing.app or existing.network or "[app]" in path.read_text(encoding="utf-8"):
            raise AlreadyExistsError(
                f"{path} already names an app ({existing.app or '-'})",
                hint="edit its [app] table, or delete it and run `rig init` again",
            )
        text = path.read_text(encoding="utf-8")
        content = text + ("" if text.endswith("\n") or not text else "\n") + "\n" + table
    else:
        content = HEADER + "\n" + table
    try:
        path.write_text(content, encoding="utf-8")
    except OSError as exc:
        raise RigError(f"cannot write {path}: {exc.strerror}") from None
    where = f" in network {network}" if network else ""
    return Result(
        data={"file": str(path), "app": app, "network": network},
        message=f"Wrote {path}: app {app}{where}. Commands here now need no --app or --network.",
        show_data=False,
    )


def _name_from(directory: Path) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", directory.resolve().name.lower()).strip("-")
    name = re.sub(r"^[^a-z]+", "", name)[:63].rstrip("-")
    if not name:
        raise UsageError("cannot make an app name from this directory's name", hint="pass --app")
    return name


def show_context(ctx: Context, args: argparse.Namespace) -> Result:
    from rig.project import find_file

    data: dict[str, Any] = _login(ctx)
    chosen = defaults(ctx)
    app, network = args.app, args.network
    data["app"] = app or chosen.app
    data["app_source"] = FLAG if app else _source(chosen.source, chosen.detail, chosen.app)
    data["network"] = network or chosen.network
    data["network_source"] = (
        FLAG if network else _source(chosen.source, chosen.detail, chosen.network)
    )
    if data["app"] and not data["network"]:
        data["network_source"] = "looked up from the app's name when a command runs"
    project = find_file()
    data["project_file"] = str(project) if project else None
    return Result(data=data, fields=CONTEXT_FIELDS)


def _source(source: str, detail: str, value: str | None) -> str:
    if not value:
        return "none (pass a flag, set RIG_NETWORK/RIG_APP, or run `rig init`)"
    return f"{source} ({detail})" if detail else source


def _login(ctx: Context) -> dict[str, Any]:
    from rig.config import config_dir
    from rig.transport.session import env_token, resolve_target

    target = resolve_target(ctx)
    if env_token(ctx.env):
        return {
            "login_context": None,
            "context_source": "RIG_TOKEN (an API token; no context is used)",
            "platform": target.api if target else None,
            "user": None,
        }
    if target is None:
        source = "not logged in (run `rig login` or `rig local start`)"
    elif ctx.context_name:
        source = "--context or RIG_CONTEXT"
    elif ctx.api_url:
        source = "--api or RIG_API"
    else:
        source = f"current context in {config_dir() / 'contexts.json'}"
    return {
        "login_context": target.context if target else None,
        "context_source": source,
        "platform": target.api if target else None,
        "user": target.entry.user if target and target.entry else None,
    }
