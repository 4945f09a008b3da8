"""A static site: ``index.html`` at the top and no code, served by the platform itself."""

from __future__ import annotations

from maxlocal.builders.plan import Detected
from maxlocal.builders.source import Source
from maxlocal.builders.toolbox import Toolbox
from maxlocal.runtime.procfile import Declared

# The platform's server for static files: Python's own, from the release's bare Python
# environment (every release has one), on loopback, one access line per request.
SERVE = "python3 -m http.server --bind 127.0.0.1 $PORT"
CODE_FILES = (
    "package.json",
    "requirements.txt",
    "pyproject.toml",
    "Pipfile",
    "Pipfile.lock",
    "poetry.lock",
    "manage.py",
)


def detect(source: Source, tools: Toolbox, config: Declared, *, forced: bool) -> Detected | None:
    has_code = any(source.exists(f) for f in CODE_FILES) or any(
        name.endswith(".py") for name in source.top_level()
    )
    if not forced and (has_code or not source.exists("index.html")):
        return None
    return Detected(
        "static",
        "static site served by the platform",
        processes={"web": SERVE},
        inferred_from="index.html and no code: a static site",
    )
