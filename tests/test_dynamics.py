"""The SPEC 3 formulas against hand-computed numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurram.dynamics import (
    ACTIVATION_FLOOR,
    FORGETTING_THRESHOLD,
    LTP_RATE,
    MIN_STABILITY,
    POWER_FACTOR,
    SPREAD_DECAY,
    SPREAD_HOPS,
    activation_factors,
    compute_retention,
    cosine_similarities,
    decay,
    depress,
    horizon,
    hours_between,
    initial_activation,
    normalize,
    potentiate,
    qualifies_for_consolidation,
    retention_array,
    retention_of,
    revive,
    silence,
    spread_activation,
    time_until_forgotten,
    weigh,
)
from neurram.engram import Engram, Layer
from neurram.errors import InvalidInputError

T0 = 1_700_000_000.0
HOUR = 3600.0
DAY = 24 * HOUR
EXP = "exponential"  # the original's law, with its numbers (stability unit: 1 hour)


def engram(**fields: float) -> Engram:
    values = {"last_accessed": T0, "encoded_at": T0, **fields}
    return Engram(content="x", **values)


def test_spec_numbers() -> None:
    assert (FORGETTING_THRESHOLD, LTP_RATE, MIN_STABILITY) == (0.05, 0.3, 0.1)
    assert (SPREAD_DECAY, SPREAD_HOPS, ACTIVATION_FLOOR) == (0.6, 2, 0.08)


def test_hours_between_is_never_negative() -> None:
    assert hours_between(T0, T0 + 90 * 60) == pytest.approx(1.5)
    assert hours_between(T0 + HOUR, T0) == 0.0


def test_exponential_retention_is_one_when_fresh_and_e_inverse_at_t_equals_s() -> None:
    e = engram(stability=4.0)
    assert compute_retention(e, T0, EXP) == 1.0
    assert compute_retention(e, T0 + 4 * HOUR, EXP) == pytest.approx(math.exp(-1))
    assert compute_retention(e, T0 + 8 * HOUR, EXP) == pytest.approx(math.exp(-2))


def test_power_retention_is_ninety_percent_at_t_equals_s_then_a_long_tail() -> None:
    """FSRS: R = (1 + 19/81 t/S) ** -0.5, so R(S) = 0.9; at 100 S it is still 0.2."""
    assert math.isclose(POWER_FACTOR, 19 / 81)
    e = engram(stability=72.0)
    assert compute_retention(e, T0) == 1.0
    assert compute_retention(e, T0 + 72 * HOUR) == pytest.approx(0.9)
    assert compute_retention(e, T0 + 300 * DAY) == pytest.approx((1 + 19 / 81 * 100) ** -0.5)
    assert compute_retention(e, T0 + 300 * DAY) > 0.2 > compute_retention(e, T0 + 300 * DAY, EXP)


@pytest.mark.parametrize("law", ["power", EXP])
def test_retention_ignores_future_access_and_defaults_to_wall_clock(law: str) -> None:
    assert compute_retention(engram(stability=1.0), T0 - HOUR, law) == 1.0
    old = Engram(content="x", last_accessed=0.0, stability=1.0)
    assert compute_retention(old, law=law) < 0.01


def test_time_until_forgotten_exponential() -> None:
    e = engram(stability=2.0)
    assert time_until_forgotten(e, T0, law=EXP) == pytest.approx(2.0 * math.log(20))  # 5.99 h
    assert time_until_forgotten(e, T0 + HOUR, law=EXP) == pytest.approx(2.0 * math.log(20) - 1.0)
    assert time_until_forgotten(e, T0 + 10 * HOUR, law=EXP) == 0.0
    assert time_until_forgotten(e, T0, threshold=math.exp(-1), law=EXP) == pytest.approx(2.0)


def test_time_until_forgotten_power() -> None:
    """R < 5 % once 1 + F t/S > 400: t = 399 S / F, about 1,701 S (S = 72 h: 14 years)."""
    e = engram(stability=72.0)
    assert time_until_forgotten(e, T0) == pytest.approx(72.0 * 399 * 81 / 19)
    assert time_until_forgotten(e, T0) / (365 * 24) == pytest.approx(13.98, abs=0.01)
    assert time_until_forgotten(e, T0 + DAY) == pytest.approx(72.0 * 399 * 81 / 19 - 24)
    assert time_until_forgotten(e, T0, threshold=0.9) == pytest.approx(72.0)


@pytest.mark.parametrize("law", ["power", EXP])
@pytest.mark.parametrize("stability", [0.05, 3.0, 72.0])
def test_retention_at_forgetting_horizon_is_the_threshold(law: str, stability: float) -> None:
    e = engram(stability=stability)
    hours = time_until_forgotten(e, T0, law=law)
    assert hours == pytest.approx(horizon(stability, FORGETTING_THRESHOLD, law))
    retention = compute_retention(e, T0 + hours * HOUR, law)
    assert retention == pytest.approx(FORGETTING_THRESHOLD)
    later = compute_retention(e, T0 + hours * HOUR * 1.01, law)
    assert later < FORGETTING_THRESHOLD


def test_potentiate_neutral_salience() -> None:
    e = engram(stability=1.0, synaptic_strength=0.2)
    potentiate(e, T0 + 5 * HOUR, unit=1.0)
    assert e.access_count == 1
    assert e.last_accessed == T0 + 5 * HOUR
    assert e.stability == pytest.approx(1.0 + 0.3 * math.log(2))  # 1.2079
    assert e.synaptic_strength == 1.0
    potentiate(e, T0 + 6 * HOUR, unit=1.0)
    assert e.access_count == 2
    assert e.stability == pytest.approx(1.0 + 0.3 * math.log(2) + 0.3 * math.log(3))


def test_potentiate_counts_in_units_of_72_hours_by_default() -> None:
    e = engram(stability=72.0)
    potentiate(e, T0)
    assert e.stability == pytest.approx(72.0 + 72.0 * 0.3 * math.log(2))  # + 15 h


def test_potentiate_high_salience_grows_faster() -> None:
    e = engram(stability=1.0, salience=0.9, access_count=2)
    potentiate(e, T0, unit=1.0)
    assert e.access_count == 3
    assert e.stability == pytest.approx(1.0 + 0.3 * 1.6 * math.log(4))  # 1.6654


def test_potentiate_custom_rate() -> None:
    e = engram(stability=1.0)
    potentiate(e, T0, rate=1.0, unit=1.0)
    assert e.stability == pytest.approx(1.0 + math.log(2))


def test_silence_then_revive_with_savings() -> None:
    e = engram(stability=5.0, layer=Layer.WORKING)
    silence(e, T0)
    assert (e.layer, e.context["silenced_at"]) == (Layer.SILENT, T0)
    revive(e, savings=72.0)
    assert (e.layer, e.stability, e.context) == (Layer.WORKING, 77.0, {})
    revive(e, savings=72.0)  # only a silent engram is revived
    assert e.stability == 77.0


def test_revive_returns_a_consolidated_engram_to_long_term() -> None:
    e = engram(layer=Layer.SILENT)
    e.context["region"] = "neocortex"
    revive(e, savings=1.0)
    assert e.layer is Layer.LONG_TERM


def test_potentiate_revives_a_silent_engram_without_savings() -> None:
    e = engram(stability=1.0, layer=Layer.SILENT)
    potentiate(e, T0, unit=1.0)
    assert e.layer is Layer.WORKING
    assert e.stability == pytest.approx(1.0 + 0.3 * math.log(2))


def test_depress_scales_and_floors() -> None:
    e = engram(stability=1.0, synaptic_strength=0.8)
    depress(e)
    assert (e.stability, e.synaptic_strength) == pytest.approx((0.5, 0.4))
    for _ in range(10):
        depress(e, 0.1)
    assert e.stability == MIN_STABILITY
    assert 0.0 <= e.synaptic_strength < 1e-9


@pytest.mark.parametrize("factor", [0.0, 1.0, 1.5, -0.2])
def test_depress_rejects_factor_outside_open_unit_interval(factor: float) -> None:
    with pytest.raises(InvalidInputError):
        depress(engram(), factor)


def test_decay_sets_strength_to_retention() -> None:
    e = engram(stability=2.0)
    assert decay(e, T0 + 2 * HOUR, EXP) == pytest.approx(math.exp(-1))
    assert e.synaptic_strength == pytest.approx(math.exp(-1))
    assert decay(e, T0 + 2 * HOUR) == pytest.approx(0.9)


def test_retention_array_matches_scalar() -> None:
    last = np.array([T0, T0 - HOUR, T0 - 6 * HOUR, T0 + HOUR])
    stab = np.array([1.0, 1.0, 3.0, 1.0])
    got = retention_array(last, stab, T0, EXP)
    assert got == pytest.approx([1.0, math.exp(-1), math.exp(-2), 1.0])
    for law in ("power", EXP):
        scalar = [
            compute_retention(engram(last_accessed=la, stability=s), T0, law)
            for la, s in zip(last, stab, strict=True)
        ]
        assert retention_array(last, stab, T0, law) == pytest.approx(scalar)
        assert retention_of((T0 - last) / HOUR, stab, law) == pytest.approx(scalar)


def test_initial_activation_product_and_floor() -> None:
    factors = activation_factors(
        [1.0, 0.5, 1.0, 1.0], [0.5, 1.0, 1.0, 0.0], salience_weight=0.5, retention_weight=1.0
    )
    got = initial_activation([0.9, 0.5, 0.1, 0.16], factors)
    # the original's form: 0.9*1*0.75, 0.5*0.5*1.0, 0.1*1*1.0 (0.1 > 0.08 kept), 0.16*1*0.5
    # = 0.08 (not above: 0)
    assert got == pytest.approx([0.675, 0.25, 0.1, 0.0])
    assert initial_activation([0.5], activation_factors([1.0], [0.5]), floor=0.45).tolist() == [
        0.0
    ]  # 0.4375


def test_spread_activation_two_hops_on_a_chain() -> None:
    # 0 -> 1 -> 2 -> 3, weights 0.5, 0.8, 1.0; only node 0 starts active.
    act = np.array([1.0, 0.0, 0.0, 0.0])
    src, dst, w = np.array([0, 1, 2]), np.array([1, 2, 3]), np.array([0.5, 0.8, 1.0])
    got = spread_activation(act, src, dst, w)
    assert got == pytest.approx([1.0, 0.3, 0.3 * 0.8 * 0.6, 0.0])  # node 3 is 3 hops away
    assert act.tolist() == [1.0, 0.0, 0.0, 0.0]  # input untouched
    three = spread_activation(act, src, dst, w, hops=3)
    assert three[3] == pytest.approx(0.144 * 1.0 * 0.6)
    assert spread_activation(act, src, dst, w, hops=0).tolist() == act.tolist()


def test_spread_activation_keeps_the_max() -> None:
    # Node 2 (own 0.25) gets 0.9*0.5*0.6 = 0.27 from node 0 and 0.4*1.0*0.6 = 0.24 from node 1:
    # it keeps the max, 0.27, not a sum. What flows back from node 2 is below 0 and 1's own.
    act = np.array([0.9, 0.4, 0.25])
    src, dst = np.array([0, 2, 1, 2]), np.array([2, 0, 2, 1])
    w = np.array([0.5, 0.5, 1.0, 1.0])
    got = spread_activation(act, src, dst, w, hops=1)
    assert got == pytest.approx([0.9, 0.4, 0.27])
    two = spread_activation(act, src, dst, w)  # hop 2: node 1 gets 0.27*1.0*0.6 = 0.162 < 0.4
    assert two == pytest.approx([0.9, 0.4, 0.27])


def test_spread_activation_custom_decay_and_no_edges() -> None:
    got = spread_activation([1.0, 0.0], [0], [1], [1.0], hops=1, decay=0.5)
    assert got.tolist() == [1.0, 0.5]
    empty = np.array([], dtype=int)
    assert spread_activation([0.3], empty, empty, np.array([])).tolist() == [0.3]


def test_spread_activation_above_a_floor_is_the_full_spread_there() -> None:
    rng = np.random.default_rng(7)
    pruned = 0
    for trial in range(300):
        n, e = int(rng.integers(2, 40)), int(rng.integers(0, 120))
        act = np.where(rng.random(n) < 0.6, rng.random(n), 0.0)
        src, dst, w = rng.integers(0, n, e), rng.integers(0, n, e), rng.random(e)
        hops, floor = int(rng.integers(0, 4)), float(rng.uniform(0.0, 0.6))
        full = spread_activation(act, src, dst, w, hops, 0.6)
        got = spread_activation(act, src, dst, w, hops, 0.6, floor=floor)
        above = full >= floor
        assert got[above].tolist() == full[above].tolist(), trial  # exact where it ranks
        assert (got[~above] >= act[~above]).all() and (got <= full).all(), trial
        bound = float(w.max(initial=0.0)) * float(rng.uniform(1.0, 1.6))  # a caller's bound
        loose = spread_activation(act, src, dst, w, hops, 0.6, floor=floor, strongest=bound)
        assert loose[above].tolist() == full[above].tolist(), trial
        pruned += int((got < full).sum())
    assert pruned  # the floor spared some spreading: below it, values stayed short of full


def test_spread_activation_rejects_mismatched_edges() -> None:
    with pytest.raises(InvalidInputError):
        spread_activation([1.0, 0.0], [0, 1], [1], [1.0])


def test_normalize_and_cosine() -> None:
    v = normalize(np.array([3.0, 4.0], dtype=np.float32))
    assert v.dtype == np.float32
    assert v.tolist() == pytest.approx([0.6, 0.8])
    assert normalize(np.zeros(3, dtype=np.float32)).tolist() == [0.0, 0.0, 0.0]
    rows = normalize(np.array([[1, 0], [0, 2], [1, 1], [-1, 0]], dtype=np.float32))
    sims = cosine_similarities(rows, np.array([1.0, 0.0], dtype=np.float32))
    assert sims == pytest.approx([1.0, 0.0, math.sqrt(0.5), -1.0], abs=1e-6)
    assert cosine_similarities(np.zeros((0, 2), dtype=np.float32), v).shape == (0,)


def test_qualifies_for_consolidation() -> None:
    assert not qualifies_for_consolidation(engram(access_count=2, salience=0.79))
    assert qualifies_for_consolidation(engram(access_count=3, salience=0.1))
    assert qualifies_for_consolidation(engram(access_count=0, salience=0.8))
    assert not qualifies_for_consolidation(engram(access_count=3), min_access_count=4)


def test_weigh_blends_a_factor_into_an_activation() -> None:
    assert weigh([0.0, 0.5, 1.0], 0.25).tolist() == [0.75, 0.875, 1.0]
    assert weigh([0.2], 1.0).tolist() == [0.2] and weigh([0.2], 0.0).tolist() == [1.0]
