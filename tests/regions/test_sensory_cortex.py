"""SensoryCortex: a stimulus not attended within the TTL (3 s) expires."""

from __future__ import annotations

import math

import pytest

from neurram.regions.sensory_cortex import SensoryCortex


def test_default_ttl_is_three_seconds() -> None:
    assert SensoryCortex().ttl_seconds == 3.0


@pytest.mark.parametrize(
    ("waited", "expired"), [(0.0, False), (2.9, False), (3.0, False), (3.01, True), (60.0, True)]
)
def test_expires_only_after_the_ttl(make_stimulus, now, waited, expired) -> None:
    stimulus = make_stimulus("the oven is on")
    assert SensoryCortex().expired(stimulus, now + waited) is expired


def test_redelivered_stimulus_is_exempt(make_stimulus, now) -> None:
    stimulus = make_stimulus("the oven is on")
    assert SensoryCortex().expired(stimulus, now + 3600.0, redelivered=True) is False


def test_infinite_ttl_never_expires(make_stimulus, now) -> None:
    stimulus = make_stimulus("the oven is on")
    assert SensoryCortex(math.inf).expired(stimulus, now + 1e9) is False


def test_custom_ttl(make_stimulus, now) -> None:
    stimulus = make_stimulus("the oven is on")
    cortex = SensoryCortex(ttl_seconds=0.5)
    assert cortex.expired(stimulus, now + 0.4) is False
    assert cortex.expired(stimulus, now + 0.6) is True
