"""Every transcript in transcripts/ runs in a fresh shell against a fresh local platform."""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.repl.transcript import matches
from rig.testing.runner import run_file

TRANSCRIPTS = sorted((Path(__file__).resolve().parents[2] / "transcripts").glob("*.txt"))


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript(path: Path, tmp_path: Path) -> None:
    run_file(path, tmp_path)


def test_a_pattern_stays_within_its_line_unless_it_says_otherwise() -> None:
    """``/.*/`` once matched across lines (re.DOTALL), so an expected line could swallow
    lines of output nobody wrote down; now only ``(?s:...)`` spans lines."""
    assert matches("Deployed /.*/ s", "Deployed api in 1.2 s")
    assert not matches("/.*/Deployed", "platform| no build command\nDeployed")
    assert not matches("a /.*/ c", "a b\nunexpected\nc")
    assert matches("a\n/.*/\nc", "a\nb\nc")
    assert matches("/(?s:.*)/Deployed", "platform| no build command\nDeployed")
