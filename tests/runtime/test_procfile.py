from __future__ import annotations

from pathlib import Path

import pytest

from maxlocal.runtime.procfile import (
    ProcfileError,
    RigToml,
    load_spec,
    parse_procfile,
    parse_rig_toml,
)


def test_procfile_lines_comments_and_colons_in_commands() -> None:
    text = "# the app\n\nweb: python -m http.server $PORT\nworker:  python w.py --at 10:30 \n"
    assert parse_procfile(text) == {
        "web": "python -m http.server $PORT",
        "worker": "python w.py --at 10:30",
    }


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("web python app.py", "line 1: expected 'name: command'"),
        ("web:\n", "has no command"),
        ("web: a\nweb: b", "line 2: process 'web' is defined twice"),
        ("bad name: x", "invalid process name"),
    ],
)
def test_procfile_errors(text: str, words: str) -> None:
    with pytest.raises(ProcfileError, match=words):
        parse_procfile(text)


def test_rig_toml() -> None:
    text = 'app = "api"\nbuild = "pip install -r requirements.txt"\n[processes]\nweb = "run"\n'
    parsed = parse_rig_toml(text)
    assert (parsed.build, parsed.processes) == ("pip install -r requirements.txt", {"web": "run"})
    assert parse_rig_toml("") == RigToml()
    full = parse_rig_toml('builder = "node"\npython = "3.11"\nbuild_timeout = 60\n')
    assert (full.builder, full.python, full.build_timeout) == ("node", "3.11", 60.0)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("build = ", "not valid TOML"),
        ("build = 3", "'build' must be a non-empty string"),
        ("processes = 1", r"\[processes\] must be a table"),
        ("[processes]\nweb = 1", "'web' must be a non-empty string"),
        ('[processes]\n"a b" = "x"', "invalid process name"),
        ('builder = "ruby"', "'builder' must be one of python, node, static, none"),
        ("build_timeout = -1", "'build_timeout' must be a positive number"),
        ('python = ""', "'python' must be a non-empty string"),
    ],
)
def test_rig_toml_errors(text: str, words: str) -> None:
    with pytest.raises(ProcfileError, match=words):
        parse_rig_toml(text)


def test_rig_toml_wins_over_procfile(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web: from-procfile\n")
    (tmp_path / "rig.toml").write_text('build = "make"\n[processes]\nweb = "from-toml"\n')
    spec = load_spec(tmp_path)
    assert (spec.processes, spec.build, spec.source) == ({"web": "from-toml"}, "make", "rig.toml")
    assert spec.warnings


def test_procfile_with_build_from_rig_toml(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web: from-procfile\n")
    (tmp_path / "rig.toml").write_text('build = "make"\n')
    spec = load_spec(tmp_path)
    assert (spec.processes, spec.build, spec.source) == (
        {"web": "from-procfile"},
        "make",
        "Procfile",
    )


def test_nothing_to_run(tmp_path: Path) -> None:
    with pytest.raises(ProcfileError, match="nothing to run"):
        load_spec(tmp_path)
    (tmp_path / "Procfile").write_text("# empty\n")
    with pytest.raises(ProcfileError, match="nothing to run"):
        load_spec(tmp_path)


def test_web_can_declare_its_instances() -> None:
    toml = parse_rig_toml('[processes]\nweb = {command = "serve", instances = 3}\nworker = "w"\n')
    assert toml.processes == {"web": "serve", "worker": "w"} and toml.instances == 3
    assert parse_rig_toml('[processes]\nweb = {command = "serve"}\n').instances is None


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ('web = {command = "s", instances = 0}', "from 1 to 16"),
        ('web = {command = "s", instances = 17}', "from 1 to 16"),
        ('web = {command = "s", instances = true}', "from 1 to 16"),
        ('worker = {command = "w", instances = 2}', "only web runs several instances"),
        ('web = {command = "s", replicas = 2}', "unknown keys replicas"),
        ("web = {instances = 2}", "must be a non-empty string"),
    ],
)
def test_bad_instances_are_refused(table: str, says: str) -> None:
    with pytest.raises(ProcfileError, match=says):
        parse_rig_toml(f"[processes]\n{table}\n")
