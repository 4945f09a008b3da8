"""A pytest plugin that collects ``transcripts/*.txt`` and runs each as a test.

Use it with ``pytest -p rig.testing.plugin transcripts/``; the project's own
suite runs the same files through ``tests/transcripts/test_transcripts.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rig.testing.runner import TranscriptFailed, run_file


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".txt" and file_path.parent.name == "transcripts":
        return TranscriptFile.from_parent(parent, path=file_path)
    return None


class TranscriptFile(pytest.File):
    def collect(self) -> Any:
        yield TranscriptItem.from_parent(self, name=self.path.stem)


class TranscriptItem(pytest.Item):
    def runtest(self) -> None:
        workdir = Path(self.config._tmp_path_factory.mktemp(self.name))  # type: ignore[attr-defined]
        run_file(self.path, workdir)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, TranscriptFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"transcript {self.name}"
