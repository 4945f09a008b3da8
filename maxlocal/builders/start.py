"""How an app starts when its release does not say (no ``Procfile``, no ``[processes]``).

Apps listen on ``127.0.0.1:$PORT``, where the router forwards their requests.
"""

from __future__ import annotations

import json
import re

from maxlocal.builders.source import Source

LOOKED_FOR = [
    "gunicorn or uvicorn with a Flask/FastAPI app in main.py, app.py or wsgi.py",
    "manage.py (Django)",
    "main.py",
    "app.py",
    "a start script or main in package.json",
    "server.js",
    "index.js",
]
_MODULES = ("app", "main", "wsgi", "asgi", "server")
_WSGI = re.compile(r"^(\w+)\s*(?::[^=]*)?=\s*(?:flask\.)?Flask\(", re.MULTILINE)
_ASGI = re.compile(r"^(\w+)\s*(?::[^=]*)?=\s*(?:fastapi\.)?(?:FastAPI|Starlette|Quart)\(", re.M)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", re.MULTILINE)

Inferred = tuple[dict[str, str], str]
"""(processes, why): ({"web": "gunicorn app:app ..."}, "gunicorn and a Flask app in app.py")."""


def python_dependencies(source: Source) -> set[str]:
    """The (normalised) names of the packages a Python release depends on, roughly: enough
    to tell whether gunicorn, uvicorn or flask are among them."""
    files = ("requirements.txt", "pyproject.toml", "Pipfile", "poetry.lock", "Pipfile.lock")
    text = "\n".join(source.read(name) or "" for name in files)
    names = {m.group(1).lower().replace("_", "-") for m in _NAME.finditer(text)}
    names |= {m.lower() for m in re.findall(r"[\"']([A-Za-z0-9][A-Za-z0-9._-]*)", text)}
    return names


def _app_object(source: Source, pattern: re.Pattern[str]) -> tuple[str, str] | None:
    for module in _MODULES:
        text = source.read(f"{module}.py")
        match = pattern.search(text) if text else None
        if match:
            return module, match.group(1)
    return None


def _django_project(source: Source) -> str | None:
    text = source.read("manage.py") or ""
    match = re.search(r"DJANGO_SETTINGS_MODULE['\"]\s*,\s*['\"]([\w]+)\.", text)
    return match.group(1) if match else None


def infer_python(source: Source) -> Inferred | None:
    deps = python_dependencies(source)
    wsgi, asgi = _app_object(source, _WSGI), _app_object(source, _ASGI)
    if source.exists("manage.py"):
        project = _django_project(source)
        if "gunicorn" in deps and project and source.exists(f"{project}/wsgi.py"):
            command = f"gunicorn {project}.wsgi --bind 127.0.0.1:$PORT"
            return {"web": command}, f"gunicorn and Django project {project}"
        return {"web": "python3 manage.py runserver 127.0.0.1:$PORT --noreload"}, "manage.py"
    if wsgi and "gunicorn" in deps:
        module, name = wsgi
        command = f"gunicorn {module}:{name} --bind 127.0.0.1:$PORT"
        return {"web": command}, f"gunicorn and a Flask app in {module}.py"
    if asgi and "uvicorn" in deps:
        module, name = asgi
        command = f"uvicorn {module}:{name} --host 127.0.0.1 --port $PORT"
        return {"web": command}, f"uvicorn and an ASGI app in {module}.py"
    if wsgi:
        module, name = wsgi
        command = f"flask --app {module}:{name} run --host 127.0.0.1 --port $PORT"
        return {"web": command}, f"a Flask app in {module}.py"
    for script in ("main.py", "app.py"):
        if source.exists(script):
            return {"web": f"python3 {script}"}, script
    return None


def infer_node(source: Source) -> Inferred | None:
    package = package_json(source) or {}
    scripts = package.get("scripts") if isinstance(package.get("scripts"), dict) else {}
    if isinstance(scripts, dict) and scripts.get("start"):
        return {"web": "npm start"}, "the start script of package.json"
    main = package.get("main")
    if isinstance(main, str) and main.strip() and source.exists(main.strip().removeprefix("./")):
        return {"web": f"node {main.strip()}"}, "main of package.json"
    for script in ("server.js", "index.js"):
        if source.exists(script):
            return {"web": f"node {script}"}, script
    return None


def package_json(source: Source) -> dict[str, object] | None:
    """package.json as a dict; None when there is none. Its syntax errors are the node
    builder's to report (``node.detect``)."""
    text = source.read("package.json")
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
