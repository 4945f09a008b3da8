"""``details app`` and ``details network``: a resource with its environment (no secret values)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rig import configdoc
from rig.cli import CommandTree, add_name_argument, add_network_option
from rig.commands.apps import COLUMNS as APP_COLUMNS
from rig.commands.env import SECRET, VAR
from rig.errors import NotFoundError, RigError
from rig.output import Column, Result
from rig.output.units import counted
from rig.targets import app_ref, network_ref

if TYPE_CHECKING:
    from rig.context import Context


def register(tree: CommandTree) -> None:
    tree.group("details", "show the configuration of an app or network")
    parser = tree.add(
        "details app",
        app_details,
        "show an app's configuration: hostname, state, vars and secrets (digests only)",
        examples=[
            "rig details app api",
            "rig details app api --network my-project -o json",
            "rig details app api --export api.yaml   # configuration as code, for `rig apply`",
        ],
    )
    add_name_argument(parser, "app")
    add_network_option(parser, "the app's network (found when the app name is unique)")
    _export_option(parser)

    parser = tree.add(
        "details network",
        network_details,
        "show a network's configuration: domain, apps, vars and secrets (digests only)",
        examples=[
            "rig details network my-project",
            "rig details network my-project -o json",
            "rig details network my-project --export my-project.yaml",
        ],
    )
    add_name_argument(parser, "network")
    _export_option(parser)


def _export_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--export",
        metavar="FILE",
        help="write the configuration to FILE (*.yaml, *.yml or *.json; '-': YAML on stdout) "
        "for `rig apply` and `rig diff`; secrets as keys with digests, never values",
    )


SECTIONS: dict[str, Sequence[Column]] = {
    "apps": APP_COLUMNS,
    "vars": VAR.columns,
    "secrets": SECRET.columns,
}


def app_details(ctx: Context, args: argparse.Namespace) -> Result:
    ref = app_ref(ctx, args, args.name)
    if args.export:
        return export(ctx, args.export, configdoc.APP, ref.network, [ref.app])
    app = ctx.api().app(ref.network, ref.app)
    return Result(
        data=app,
        fields=["name", "network", "hostname", "url", "state", "created_at", "vars", "secrets"],
        sections=SECTIONS,
    )


def network_details(ctx: Context, args: argparse.Namespace) -> Result:
    name = network_ref(ctx, args, args.name, "details network")
    if args.export:
        return export(ctx, args.export, configdoc.NETWORK, name, [])
    network = ctx.api().network(name)
    return Result(
        data=network,
        fields=["name", "domain", "created_at", "apps", "vars", "secrets"],
        sections=SECTIONS,
    )


def export(ctx: Context, path: str, kind: str, network: str, apps: list[str]) -> Result:
    doc = configdoc.fetch(ctx.api(), kind, network, apps)
    if doc is None or (kind == configdoc.APP and not doc.apps):
        what = f"app {apps[0]!r} in network {network!r}" if apps else f"network {network!r}"
        raise NotFoundError(f"{what} not found", hint="run `rig list apps` to see yours")
    data = configdoc.to_data(doc)
    if path == "-":
        text = configdoc.dump(doc, "stdout.yaml").rstrip("\n")
        return Result(data=data, message=text, show_data=False)
    text = configdoc.dump(doc, path)
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise RigError(f"cannot write {path}: {exc.strerror}") from None
    envs = [a.env for a in doc.apps] + ([doc.network_env] if doc.network_env else [])
    variables = counted(sum(len(e.vars) for e in envs), "var")
    counts = f"{variables}, {counted(sum(len(e.secrets) for e in envs), 'secret')}"
    return Result(
        data={"file": path, "document": data},
        message=f"Exported {doc.label} to {path}: {counts} (secrets as digests, never values)",
        show_data=False,
    )
