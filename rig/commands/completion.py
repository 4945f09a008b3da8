"""``completion bash|zsh|fish`` prints a completion script; the hidden ``__complete KIND`` gives
it resource names from the local cache (``rig.namecache``), never from the network.

Commands and options are written into the script from the parsers; only names are looked up
when Tab is pressed.
"""

from __future__ import annotations

import argparse
import shlex
from typing import TYPE_CHECKING

from rig.cli import CommandTree
from rig.output import Result

if TYPE_CHECKING:
    from rig.context import Context

SHELLS = ("bash", "zsh", "fish")
NAME_OPTIONS = {"--app": "app", "--network": "network", "--context": "context"}


def register(tree: CommandTree) -> None:
    parser = tree.add(
        "completion",
        completion,
        "print a shell completion script for bash, zsh or fish",
        examples=[
            'eval "$(rig completion bash)"          # in ~/.bashrc',
            'eval "$(rig completion zsh)"           # in ~/.zshrc',
            "rig completion fish > ~/.config/fish/completions/rig.fish",
        ],
        description="Print a completion script. Commands and options come from rig itself; "
        "network and app names from a local cache that commands listing, creating or deleting "
        "them keep fresh, so Tab never waits on the network.",
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell")

    parser = tree.add("__complete", complete_names, "")
    parser.add_argument("kind", help="network, app or context")


def complete_names(ctx: Context, args: argparse.Namespace) -> Result:
    from rig import namecache

    names = namecache.names(args.kind)
    return Result(data=names, message="\n".join(names), show_data=False) if names else Result()


def completion(ctx: Context, args: argparse.Namespace) -> Result:
    from rig.cli import build_parser
    from rig.helpdoc import commands

    found = commands(build_parser())
    script = _fish(found) if args.shell == "fish" else _bash(found, zsh=args.shell == "zsh")
    return Result(data={"shell": args.shell, "script": script}, message=script, show_data=False)


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(o for a in parser._actions for o in a.option_strings if o.startswith("--"))


def _positional_kind(parser: argparse.ArgumentParser) -> str:
    for action in parser._actions:
        if not action.option_strings and getattr(action, "complete_kind", None):
            return str(action.complete_kind)  # type: ignore[attr-defined]
    return ""


def _bash(found: list[tuple[str, str, argparse.ArgumentParser]], *, zsh: bool) -> str:
    groups: dict[str, list[str]] = {}
    for path, _, _ in found:
        word, _, sub = path.partition(" ")
        groups.setdefault(word, [])
        if sub:
            groups[word].append(sub)
    lines = [
        "# rig completion (bash). Names come from rig's local cache: `rig __complete KIND`.",
        '_rig_names() { rig __complete "$1" 2>/dev/null; }',
        "_rig() {",
        '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
        '  case "$prev" in',
    ]
    for option, kind in NAME_OPTIONS.items():
        lines.append(
            f'    {option}) COMPREPLY=($(compgen -W "$(_rig_names {kind})" -- "$cur")); return;;'
        )
    lines += [
        "  esac",
        '  if [ "$COMP_CWORD" -eq 1 ]; then',
        f'    COMPREPLY=($(compgen -W {shlex.quote(" ".join(groups))} -- "$cur")); return',
        "  fi",
        '  local word="${COMP_WORDS[1]}" sub="${COMP_WORDS[2]}" opts="" kind=""',
        '  case "$word" in',
    ]
    for word, subs in groups.items():
        if subs:
            quoted = shlex.quote(" ".join(subs))
            lines.append(
                f'    {word}) if [ "$COMP_CWORD" -eq 2 ]; then '
                f'COMPREPLY=($(compgen -W {quoted} -- "$cur")); return; fi;;'
            )
    lines += ["  esac", '  case "$word $sub" in']
    for path, _, parser in found:
        word, _, sub = path.partition(" ")
        pattern = f'"{word} {sub}"' if sub else f'"{word} "*'
        opts = shlex.quote(" ".join(_options(parser)))
        lines.append(f'    {pattern}) opts={opts}; kind="{_positional_kind(parser)}";;')
    lines += [
        "  esac",
        '  if [[ "$cur" == -* || -z "$kind" ]]; then',
        '    COMPREPLY=($(compgen -W "$opts" -- "$cur"))',
        "  else",
        '    COMPREPLY=($(compgen -W "$(_rig_names "$kind")" -- "$cur"))',
        "  fi",
        "}",
        "complete -F _rig rig",
    ]
    if zsh:
        lines.insert(0, "autoload -U +X bashcompinit && bashcompinit")
    return "\n".join(lines)


def _fish(found: list[tuple[str, str, argparse.ArgumentParser]]) -> str:
    lines = ["# rig completion (fish). Names come from rig's local cache: `rig __complete KIND`."]
    words: dict[str, list[tuple[str, str]]] = {}
    for path, help, _ in found:
        word, _, sub = path.partition(" ")
        words.setdefault(word, [])
        if sub:
            words[word].append((sub, help))
    top = " ".join(words)
    for word, subs in words.items():
        lines.append(f"complete -c rig -f -n '__fish_use_subcommand' -a {word}")
        if subs:
            names = " ".join(s for s, _ in subs)
            for sub, help in subs:
                lines.append(
                    f"complete -c rig -f -n '__fish_seen_subcommand_from {word}; and not "
                    f"__fish_seen_subcommand_from {names}' -a {sub} -d {shlex.quote(help)}"
                )
    for option, kind in NAME_OPTIONS.items():
        lines.append(f"complete -c rig -l {option[2:]} -x -a '(rig __complete {kind})'")
    lines.append(f"# top-level commands: {top}")
    return "\n".join(lines)
