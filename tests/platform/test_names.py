import random
import re

from hypothesis import given
from hypothesis import strategies as st

from maxlocal import names

REFERENCE_NAME = re.compile(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?")
REFERENCE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")

name_like = st.text(alphabet="abcxyz019-_AZ.é ", max_size=70)
key_like = st.text(alphabet="abcXYZ09_-. é", max_size=260)


@given(name_like)
def test_name_validator_agrees_with_the_reference_regex(name: str) -> None:
    assert names.is_valid_name(name) == bool(REFERENCE_NAME.fullmatch(name))


@given(st.from_regex(REFERENCE_NAME, fullmatch=True))
def test_every_rfc1035_label_is_accepted(name: str) -> None:
    assert names.name_problem(name) is None


@given(key_like)
def test_key_validator_agrees_with_the_reference_regex(key: str) -> None:
    expected = bool(REFERENCE_KEY.fullmatch(key)) and key != "PORT"
    assert (names.key_problem(key) is None) == expected


@given(st.randoms(use_true_random=False))
def test_generated_names_are_valid(rng: random.Random) -> None:
    name = names.generate_name(rng)
    assert names.is_valid_name(name)
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d\d", name)


def test_name_edge_cases() -> None:
    assert names.is_valid_name("a")
    assert names.is_valid_name("a" * 63)
    assert not names.is_valid_name("a" * 64)
    assert not names.is_valid_name("")
    assert not names.is_valid_name("1abc")
    assert not names.is_valid_name("abc-")
    assert not names.is_valid_name("-abc")
    assert not names.is_valid_name("Abc")
    assert not names.is_valid_name("a_b")
    assert names.is_valid_name("a-1")


def test_key_edge_cases() -> None:
    assert names.key_problem("_") is None
    assert names.key_problem("port") is None
    assert names.key_problem("PORT") == "is reserved (the platform assigns it)"
    assert names.key_problem("A" * 255) is None
    assert names.key_problem("A" * 256) is not None
    assert names.key_problem("1A") is not None
    assert names.key_problem("") is not None


def test_value_limit_counts_utf8_bytes() -> None:
    assert names.value_problem("") is None
    assert names.value_problem("x" * 65536) is None
    assert names.value_problem("x" * 65537) is not None
    assert names.value_problem("é" * 32769) is not None
    assert names.value_problem("\ud800") is not None
