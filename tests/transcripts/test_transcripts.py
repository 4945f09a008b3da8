"""Every transcript in transcripts/ runs in a fresh shell against a fresh local platform."""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.testing.runner import run_file

TRANSCRIPTS = sorted((Path(__file__).resolve().parents[2] / "transcripts").glob("*.txt"))


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript(path: Path, tmp_path: Path) -> None:
    run_file(path, tmp_path)
