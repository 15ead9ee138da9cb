"""Checks at the boundary where caller input enters; each failure says what to pass instead."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from neurram.engram import MemoryType
from neurram.errors import ContentTooLargeError, InvalidInputError, UnknownMemoryTypeError


def content(value: Any, max_bytes: int) -> str:
    """A non-empty string of at most ``max_bytes`` UTF-8 bytes."""
    if not isinstance(value, str):
        raise InvalidInputError(f"content must be a str, got {type(value).__name__}")
    if not value.strip():
        raise InvalidInputError("content must not be empty or only whitespace")
    size = len(value.encode("utf-8"))
    if size > max_bytes:
        raise ContentTooLargeError(
            f"content is {size} bytes, above the limit of {max_bytes}; split it, or raise "
            "max_content_bytes (NEURRAM_MAX_CONTENT_BYTES)"
        )
    return value


def unit_interval(name: str, value: Any, low: float = 0.0) -> float:
    """A real number in [``low``, 1] (booleans and NaN refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(f"{name} must be a number in [{low:g}, 1], got {value!r}")
    number = float(value)
    if math.isnan(number) or not low <= number <= 1.0:
        raise InvalidInputError(f"{name} must be in [{low:g}, 1], got {value!r}")
    return number


def engram_id(value: Any) -> str:
    """A non-empty str."""
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"engram_id must be a non-empty str, got {value!r}")
    return value


def memory_type(value: Any) -> MemoryType:
    """A :class:`MemoryType`, or its name or value as a string (any case)."""
    if isinstance(value, MemoryType):
        return value
    if isinstance(value, str):
        for member in MemoryType:
            if value.lower() in (member.value, member.name.lower()):
                return member
    known = ", ".join(m.name for m in MemoryType)
    raise UnknownMemoryTypeError(f"unknown memory type {value!r}; use one of {known}")


def positive_int(name: str, value: Any) -> int:
    """An int >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def text(name: str, value: Any) -> str:
    """Any str (for labels such as modality or a context hint)."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a str, got {type(value).__name__}")
    return value


def context(value: Any) -> dict[str, Any]:
    """A mapping with str keys whose values msgpack can carry."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise InvalidInputError(f"context must be a dict with str keys, got {value!r}")
    try:
        msgspec.msgpack.encode(value)
    except (TypeError, msgspec.EncodeError) as exc:
        raise InvalidInputError(
            f"context values must be plain data (str, numbers, lists, dicts): {exc}"
        ) from exc
    return dict(value)


def moment(name: str, value: Any) -> float:
    """A point in time as unix seconds: a finite number, or a datetime (naive = local time)."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(
            f"{name} must be unix seconds (a finite number) or a datetime, got {value!r}"
        )
    return float(value)


def occurred_at(value: Any, now: float) -> float:
    """When a remembered event happened: a :func:`moment` not after ``now``."""
    at = moment("occurred_at", value)
    if at > now:
        raise InvalidInputError(
            f"occurred_at {at:.3f} is in the future (now is {now:.3f}); pass when the event "
            "happened, or nothing for now"
        )
    return at


def window(since: Any, until: Any) -> tuple[float | None, float | None]:
    """An ``occurred_at`` window; either bound may be None (open)."""
    start = None if since is None else moment("since", since)
    end = None if until is None else moment("until", until)
    if start is not None and end is not None and start > end:
        raise InvalidInputError(f"since ({start:.3f}) is after until ({end:.3f}); swap them")
    return start, end
