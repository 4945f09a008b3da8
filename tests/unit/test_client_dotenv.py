"""The .env parser used by `rig create var|secret --from-file`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rig import dotenv

keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True).filter(lambda k: k != "export")
values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(st.dictionaries(keys, values, max_size=8))
def test_dump_then_parse_round_trips(env: dict[str, str]) -> None:
    assert dotenv.parse(dotenv.dump(env)) == env


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("# only a comment\n\n   \n", {}),
        ("A=1", {"A": "1"}),
        ("A=1\r\nB=2\r\n", {"A": "1", "B": "2"}),
        ("export A=1", {"A": "1"}),
        ("  A  =  spaced out  ", {"A": "spaced out"}),
        ("A=value # comment", {"A": "value"}),
        ("A=value#not-a-comment", {"A": "value#not-a-comment"}),
        ("A=#fff", {"A": "#fff"}),
        ("A=", {"A": ""}),
        ("A=''\nB=\"\"", {"A": "", "B": ""}),
        ("A='single $HOME \\n literal'", {"A": "single $HOME \\n literal"}),
        (
            'A="tab\\there \\"quoted\\" back\\\\slash \\$x \\q"',
            {"A": 'tab\there "quoted" back\\slash $x \\q'},
        ),
        ("A='line one\nline two'\nB=2", {"A": "line one\nline two", "B": "2"}),
        ('A="one\ntwo" # after\nB=2', {"A": "one\ntwo", "B": "2"}),
        ("A=a=b=c", {"A": "a=b=c"}),
        ("A=1\nA=2", {"A": "2"}),
        ("export=1", {"export": "1"}),
    ],
)
def test_parse(text: str, expected: dict[str, str]) -> None:
    assert dotenv.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("JUSTAKEY", 1, "expected '='"),
        ("A=1\n\nB 2", 3, "expected '='"),
        ('A="never closed\nB=2', 1, "unterminated double-quoted"),
        ("A=1\nB='open", 2, "unterminated single-quoted"),
        ('A="x" trailing', 1, "after the closing quote"),
        ("=value", 1, "expected KEY=VALUE"),
    ],
)
def test_errors_name_the_line(text: str, line: int, problem: str) -> None:
    with pytest.raises(dotenv.DotenvError) as info:
        dotenv.parse(text)
    assert info.value.line == line
    assert problem in str(info.value)


def test_errors_never_include_a_value() -> None:
    with pytest.raises(dotenv.DotenvError) as info:
        dotenv.parse('KEY="hunter2 is my password" and more')
    assert "hunter2" not in str(info.value)


def test_values_with_line_ends_and_quotes_round_trip() -> None:
    """`env pull` writes raw bytes in single quotes (what sh reads back exactly): a CR LF
    inside a value stays one, while CR LF line ends are still line ends."""
    env = {"A": "one\r\ntwo\rthree\n", "B": "it's 'quoted'", "C": "'", "D": ""}
    assert dotenv.parse(dotenv.dump(env)) == env
