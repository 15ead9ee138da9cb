"""Builders shared by the region tests: engrams and stimuli at a fixed clock, unit vectors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from neurram.bus.messages import Stimulus
from neurram.engram import Engram, Vector

T0 = 1_700_000_000.0  # the injected clock: every test runs at this "now"
HOUR = 3600.0


def unit(*components: float) -> Vector:
    """``components`` as a float32 vector of unit length."""
    v = np.asarray(components, dtype=np.float32)
    return v / np.float32(np.linalg.norm(v))


@pytest.fixture
def now() -> float:
    return T0


@pytest.fixture
def make_engram() -> Callable[..., Engram]:
    """Engram(content=..., **fields), encoded and last accessed at T0 unless told otherwise."""

    def make(content: str = "x", **fields: Any) -> Engram:
        fields.setdefault("encoded_at", T0)
        fields.setdefault("last_accessed", T0)
        return Engram(content=content, **fields)

    return make


@pytest.fixture
def make_stimulus() -> Callable[..., Stimulus]:
    """Stimulus(content=..., **fields), perceived at T0 unless told otherwise."""
    counter = iter(range(1_000_000))

    def make(content: str = "x", **fields: Any) -> Stimulus:
        fields.setdefault("stimulus_id", f"s{next(counter)}")
        fields.setdefault("perceived_at", T0)
        return Stimulus(content=content, **fields)

    return make


@pytest.fixture
def vec() -> Callable[[Sequence[float]], Vector]:
    """``vec([a, b, c])``: a unit float32 vector pointing that way."""
    return lambda components: unit(*components)
