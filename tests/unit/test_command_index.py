"""The command index (rig/commands/__init__.py) is generated from the registrations and current,
and a new command module is all it takes to add a command."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import rig.commands
from rig.helpdoc import command_modules, index_source

INDEX = Path(rig.commands.__file__)

SCALE = '''
    """`rig pause app`: the whole declaration of a new command, in its own module."""

    from rig.cli import CommandTree, add_name_argument


    def register(tree: CommandTree) -> None:
        tree.group("pause", "run more or fewer instances of an app")
        parser = tree.add("pause app", pause_app, "run N instances of an app's process")
        add_name_argument(parser, "app")


    def pause_app(ctx: object, args: object) -> None:
        raise NotImplementedError
'''


def test_the_index_is_current() -> None:
    assert INDEX.read_text(encoding="utf-8") == index_source(), "run scripts/gen-reference"


def test_the_index_lists_every_module_that_declares_commands() -> None:
    assert list(rig.commands.COMMAND_MODULES) == command_modules()
    assert "login" in rig.commands.WORDS and "__complete" not in rig.commands.WORDS


@pytest.fixture
def extra_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A second folder of the ``rig.commands`` package, for a module this test adds."""
    monkeypatch.setattr(rig.commands, "__path__", [*rig.commands.__path__, str(tmp_path)])
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("rig.commands.") and "pause" in m]:
        del sys.modules[name]


def test_a_new_command_module_is_indexed_with_its_word(extra_commands: Path) -> None:
    (extra_commands / "pause.py").write_text(textwrap.dedent(SCALE), encoding="utf-8")
    source = index_source()
    assert '    "pause app": "pause",\n' in source
    assert '    "pause": "run more or fewer instances of an app",\n' in source
    assert command_modules()[-1] == "pause"  # not in LISTING: listed last


def test_a_group_word_without_help_is_refused(extra_commands: Path) -> None:
    declaration = '    tree.group("pause", "run more or fewer instances of an app")\n'
    text = textwrap.dedent(SCALE).replace(declaration, "")
    (extra_commands / "pause.py").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="no help declared for pause"):
        index_source()
