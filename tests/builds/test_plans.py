"""Detection, without building: which builder, which environment, which start command, and
the clear refusals (real interpreters of this machine, real files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from maxlocal.builders.plan import PlanError, make_plan
from maxlocal.builders.pythons import interpreters, satisfies
from maxlocal.builders.source import DiskSource, MemorySource
from maxlocal.builders.toolbox import Toolbox
from tests.builds.conftest import package_json

FLASK_APP = "from flask import Flask\n\napp = Flask(__name__)\n"


def plan_of(tmp_path: Path, files: dict[str, str]) -> dict[str, object]:
    return make_plan(MemorySource(files, files), Toolbox(tmp_path)).to_dict()


def test_flask_with_gunicorn_in_requirements(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, {"requirements.txt": "flask==3.0.3\ngunicorn\n", "app.py": FLASK_APP})
    assert plan["builder"] == "python"
    assert plan["processes"] == {"web": "gunicorn app:app --bind 127.0.0.1:$PORT"}
    assert plan["processes_from"] == "inferred: gunicorn and a Flask app in app.py"
    newest = interpreters()[0].label
    assert str(plan["summary"]).startswith(f"python {newest} from requirements.txt, new env ")
    steps = [(s["name"], s["command"]) for s in plan["steps"]]  # type: ignore[attr-defined]
    assert [name for name, _ in steps] == ["install dependencies"]  # made and filled at once
    venv, install = steps[0][1].split(" && ")
    assert venv.startswith("uv venv --quiet --python ") and install.startswith("uv pip install ")


@pytest.mark.parametrize(
    ("files", "web", "why"),
    [
        ({"requirements.txt": "flask\n", "app.py": FLASK_APP},
         "flask --app app:app run --host 127.0.0.1 --port $PORT", "a Flask app in app.py"),
        ({"requirements.txt": "fastapi\nuvicorn[standard]\n",
          "main.py": "from fastapi import FastAPI\napi = FastAPI()\n"},
         "uvicorn main:api --host 127.0.0.1 --port $PORT", "uvicorn and an ASGI app in main.py"),
        ({"requirements.txt": "django\ngunicorn\n", "shop/wsgi.py": "",
          "manage.py": "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings')\n"},
         "gunicorn shop.wsgi --bind 127.0.0.1:$PORT", "gunicorn and Django project shop"),
        ({"requirements.txt": "django\n", "manage.py": ""},
         "python3 manage.py runserver 127.0.0.1:$PORT --noreload", "manage.py"),
        ({"requirements.txt": "requests\n", "main.py": ""}, "python3 main.py", "main.py"),
        ({"app.py": "print('no deps')\n"}, "python3 app.py", "app.py"),
        ({"package.json": package_json(scripts={"start": "node s.js"})}, "npm start",
         "the start script of package.json"),
        ({"package.json": package_json(main="lib/run.js"), "lib/run.js": ""},
         "node lib/run.js", "main of package.json"),
        ({"package.json": package_json(), "server.js": ""}, "node server.js", "server.js"),
        ({"index.html": "<h1>hi</h1>", "style.css": ""},
         "python3 -m http.server --bind 127.0.0.1 $PORT", "index.html and no code: a static site"),
    ],
)  # fmt: skip
def test_start_command_inference(tmp_path: Path, files: dict[str, str], web: str, why: str) -> None:
    plan = plan_of(tmp_path, files)
    assert plan["processes"] == {"web": web}
    assert plan["processes_from"] == f"inferred: {why}"


def test_procfile_then_rig_toml_win_over_inference(tmp_path: Path) -> None:
    files = {"requirements.txt": "gunicorn\n", "app.py": FLASK_APP, "Procfile": "web: ./run\n"}
    assert plan_of(tmp_path, files)["processes"] == {"web": "./run"}
    files["rig.toml"] = '[processes]\nweb = "./other"\n'
    plan = plan_of(tmp_path, files)
    assert (plan["processes"], plan["processes_from"]) == ({"web": "./other"}, "from rig.toml")


def test_node_lock_gives_npm_ci_and_a_build_script_npm_run_build(tmp_path: Path) -> None:
    files = {
        "package.json": package_json(scripts={"build": "tsc", "start": "node dist/s.js"}),
        "package-lock.json": "{}",
    }
    plan = plan_of(tmp_path, files)
    names = [s["name"] for s in plan["steps"]]  # type: ignore[attr-defined]
    assert names == ["npm ci", "create environment", "npm run build"]
    assert "from package-lock.json, new modules" in str(plan["summary"])
    del files["package-lock.json"]
    names = [s["name"] for s in plan_of(tmp_path, files)["steps"]]  # type: ignore[attr-defined]
    assert names == ["create environment", "npm install", "npm run build"]


def test_rig_toml_overrides_the_builder_and_the_build(tmp_path: Path) -> None:
    files = {"requirements.txt": "flask\n", "app.py": FLASK_APP, "rig.toml": 'build = "make"\n'}
    plan = plan_of(tmp_path, files)
    assert plan["builder"] == "custom"
    assert [s["command"] for s in plan["steps"]][-1] == "sh -c make"  # type: ignore[attr-defined]
    files["rig.toml"] = 'builder = "static"\nbuild_timeout = 5\n'
    plan = plan_of(tmp_path, files)
    assert (plan["builder"], plan["timeout_s"]) == ("static", 5.0)
    del files["requirements.txt"]
    files["rig.toml"] = 'builder = "python"\n'
    plan = plan_of(tmp_path, files)
    assert [e["kind"] for e in plan["environments"]] == ["python-default"]  # type: ignore[attr-defined]
    assert str(plan["description"]).endswith(", no dependencies")
    assert plan["processes"] == {"web": "flask --app app:app run --host 127.0.0.1 --port $PORT"}


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ({"README.md": "nothing to run"}, "no start command found: looked for a Procfile, "),
        ({"package.json": "{\"name\": ", "index.js": ""}, "package.json is not valid JSON"),
        ({"requirements.txt": "", ".python-version": "2.7\n", "app.py": ""},
         "Python 2.7 (.python-version) is not on this machine; available: "),
        ({"pyproject.toml": "[project]\nname = 'x'\nrequires-python = '>=4'\n", "main.py": ""},
         "Python >=4 (requires-python in pyproject.toml) is not on this machine"),
        ({"package.json": package_json(), "yarn.lock": "", "index.js": ""}, "yarn"),
    ],
)  # fmt: skip
def test_refusals_say_what_to_do(tmp_path: Path, files: dict[str, str], words: str) -> None:
    with pytest.raises(PlanError, match="Fix") as caught:
        plan_of(tmp_path, files)
    assert words in caught.value.message


def test_no_start_command_lists_what_was_looked_for_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(PlanError) as caught:
        plan_of(tmp_path, {"requirements.txt": "requests\n"})
    message = caught.value.message
    for looked in ("Procfile", "[processes] in rig.toml", "manage.py", "main.py", "server.js"):
        assert looked in message
    assert "web: python3 app.py" in message and 'web = "npm start"' in message


def test_a_release_on_disk_reads_the_same_as_the_files_sent_for_a_dry_run(tmp_path: Path) -> None:
    files = {"requirements.txt": "gunicorn\n", "app.py": FLASK_APP, ".python-version": "3\n"}
    root = tmp_path / "release"
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    tools = Toolbox(tmp_path / "cache")
    on_disk = make_plan(DiskSource(root), tools).to_dict()
    assert on_disk == make_plan(MemorySource(files, files), tools).to_dict()


@pytest.mark.parametrize(
    ("version", "spec", "ok"),
    [
        ((3, 11, 2), ">=3.10,<3.13", True),
        ((3, 11, 2), "~=3.11", True),
        ((3, 11, 2), "~=3.11.3", False),
        ((3, 11, 2), "==3.11.*", True),
        ((3, 11, 2), "!=3.11.*", False),
        ((3, 11, 2), ">3.11", True),
        ((3, 11, 0), ">3.11", False),
    ],
)
def test_requires_python(version: tuple[int, int, int], spec: str, ok: bool) -> None:
    assert satisfies(version, spec) is ok
