"""SPEC 8: bad input raises a typed neurram error at the call."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from neurram import validation
from neurram.engram import MemoryType
from neurram.errors import (
    ContentTooLargeError,
    InvalidInputError,
    NeurramError,
    UnknownMemoryTypeError,
)

LIMIT = 64 * 1024


@pytest.mark.parametrize("value", ["", " ", "\n\t  ", None, 42, b"bytes", ["text"]])
def test_empty_whitespace_or_non_str_content(value) -> None:
    with pytest.raises(InvalidInputError, match="content must"):
        validation.content(value, LIMIT)


def test_content_is_returned_unchanged() -> None:
    assert validation.content("  hello  ", LIMIT) == "  hello  "


def test_oversize_content_counts_utf8_bytes() -> None:
    assert validation.content("a" * LIMIT, LIMIT)  # exactly the limit is fine
    with pytest.raises(ContentTooLargeError, match="65537 bytes, above the limit of 65536"):
        validation.content("a" * (LIMIT + 1), LIMIT)
    with pytest.raises(ContentTooLargeError, match="6 bytes"):
        validation.content("éèê", 5)  # 3 characters, 6 bytes


def test_errors_are_neurram_and_value_errors() -> None:
    assert issubclass(ContentTooLargeError, InvalidInputError)
    assert issubclass(UnknownMemoryTypeError, InvalidInputError)
    assert issubclass(InvalidInputError, NeurramError) and issubclass(InvalidInputError, ValueError)


@pytest.mark.parametrize("value", [0, 0.0, 0.5, 1, 1.0])
def test_unit_interval_accepts(value) -> None:
    assert validation.unit_interval("salience", value) == float(value)


@pytest.mark.parametrize(
    "value", [-0.01, 1.01, -1, 2, math.nan, math.inf, -math.inf, True, False, "0.5", None]
)
@pytest.mark.parametrize("name", ["salience", "reward"])
def test_unit_interval_refuses(name, value) -> None:
    with pytest.raises(InvalidInputError, match=name):
        validation.unit_interval(name, value)


@pytest.mark.parametrize(
    "value", ["episodic", "EPISODIC", "Episodic", "ePiSoDiC", MemoryType.EPISODIC]
)
def test_memory_type_by_name_or_value_in_any_case(value) -> None:
    assert validation.memory_type(value) is MemoryType.EPISODIC


@pytest.mark.parametrize("member", list(MemoryType))
def test_every_memory_type_by_name(member) -> None:
    assert validation.memory_type(member.name) is member
    assert validation.memory_type(member.value.upper()) is member


@pytest.mark.parametrize("value", ["dream", "", "episodic memory", 1, None])
def test_unknown_memory_type(value) -> None:
    with pytest.raises(UnknownMemoryTypeError, match="use one of EPISODIC, SEMANTIC"):
        validation.memory_type(value)


@pytest.mark.parametrize("value", [0, -1, True, 2.0, "3"])
def test_positive_int_refuses(value) -> None:
    with pytest.raises(InvalidInputError, match="top_k"):
        validation.positive_int("top_k", value)


def test_positive_int_accepts() -> None:
    assert validation.positive_int("top_k", 5) == 5


def test_text() -> None:
    assert validation.text("modality", "speech") == "speech"
    with pytest.raises(InvalidInputError, match="modality must be a str"):
        validation.text("modality", 3)


def test_context() -> None:
    assert validation.context(None) == {}
    assert validation.context({"user": "ana", "n": [1, 2.5, {"k": None}]}) == {
        "user": "ana",
        "n": [1, 2.5, {"k": None}],
    }


@pytest.mark.parametrize("value", [["a"], "text", {1: "int key"}, {"obj": object()}])
def test_context_refuses(value) -> None:
    with pytest.raises(InvalidInputError, match="context"):
        validation.context(value)


NOW = 1_800_000_000.0


def test_moments_are_unix_seconds_or_datetimes() -> None:
    assert validation.moment("since", 5) == 5.0
    moment = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert validation.moment("since", moment) == moment.timestamp()
    assert validation.occurred_at(NOW, NOW) == NOW  # now itself is not the future


@pytest.mark.parametrize("value", [NOW + 1, "2026-03-02", None, math.nan, math.inf, True, [1.0]])
def test_occurred_at_in_the_future_or_not_a_time(value) -> None:
    with pytest.raises(InvalidInputError, match="occurred_at"):
        validation.occurred_at(value, NOW)


def test_a_window_may_be_open_but_not_reversed() -> None:
    assert validation.window(None, None) == (None, None)
    assert validation.window(1.0, None) == (1.0, None)
    assert validation.window(1.0, 1.0) == (1.0, 1.0)
    with pytest.raises(InvalidInputError, match=r"since .* is after until"):
        validation.window(2.0, 1.0)
