"""Long-term regions: Neocortex, Cerebellum (stability >= 5), BasalGanglia (reward)."""

from __future__ import annotations

import math

import pytest

from neurram.engram import Layer, MemoryType
from neurram.regions.basal_ganglia import BasalGanglia
from neurram.regions.cerebellum import Cerebellum
from neurram.regions.long_term import REGION_FOR_TYPE
from neurram.regions.neocortex import Neocortex


def test_memory_types_map_to_their_regions() -> None:
    assert REGION_FOR_TYPE == {
        MemoryType.EPISODIC: "neocortex",
        MemoryType.SEMANTIC: "neocortex",
        MemoryType.PROCEDURAL: "cerebellum",
        MemoryType.HABITUAL: "basal_ganglia",
    }


@pytest.mark.parametrize("region", [Neocortex(), Cerebellum(), BasalGanglia()])
def test_consolidate_sets_layer_long_term_and_records_region(region, make_engram) -> None:
    engram = make_engram("x", layer=Layer.WORKING)
    assert region.consolidate(engram) is engram
    assert engram.layer is Layer.LONG_TERM
    assert engram.context["region"] == region.region


def test_neocortex_keeps_the_engram_as_it_was(make_engram) -> None:
    engram = make_engram("Paris is in France", stability=1.7, salience=0.4)
    Neocortex().consolidate(engram)
    assert (engram.stability, engram.salience) == (1.7, 0.4)


@pytest.mark.parametrize(("before", "after"), [(1.0, 5.0), (4.9, 5.0), (5.0, 5.0), (8.0, 8.0)])
def test_cerebellum_stability_at_least_five(make_engram, before, after) -> None:
    engram = make_engram("tie a bowline", memory_type=MemoryType.PROCEDURAL, stability=before)
    assert Cerebellum(unit=1.0).consolidate(engram).stability == after
    again = make_engram("x", memory_type=MemoryType.PROCEDURAL, stability=before)
    assert Cerebellum().consolidate(again).stability == max(before, 5 * 72.0)  # 15 days


@pytest.mark.parametrize(
    ("reward", "stability", "salience"),
    [(0.0, 1.0, 0.5), (0.25, 2.0, 0.55), (0.5, 3.0, 0.6), (1.0, 5.0, 0.7)],
)
def test_basal_ganglia_reward_sets_stability_and_salience(
    make_engram, reward, stability, salience
) -> None:
    engram = make_engram("coffee at 9", memory_type=MemoryType.HABITUAL)
    BasalGanglia(unit=1.0).consolidate(engram, reward)
    assert engram.stability == pytest.approx(stability)  # >= 1 + 4r
    assert engram.salience == pytest.approx(salience)  # += 0.2r
    assert engram.context["reward"] == reward


def test_basal_ganglia_keeps_higher_stability(make_engram) -> None:
    engram = make_engram("x", memory_type=MemoryType.HABITUAL, stability=7.0)
    BasalGanglia(unit=1.0).consolidate(engram, 0.5)
    assert engram.stability == 7.0


def test_basal_ganglia_salience_is_capped_at_one(make_engram) -> None:
    engram = make_engram("x", memory_type=MemoryType.HABITUAL, salience=0.95)
    BasalGanglia().consolidate(engram, 1.0)
    assert engram.salience == 1.0


def test_basal_ganglia_uses_the_reward_recorded_by_the_amygdala(make_engram) -> None:
    engram = make_engram("x", memory_type=MemoryType.HABITUAL, context={"reward": 0.5})
    BasalGanglia(unit=1.0).consolidate(engram)
    assert engram.stability == pytest.approx(3.0)
    assert engram.salience == pytest.approx(0.6)


@pytest.mark.parametrize(
    ("reward", "shortcut"), [(0.0, False), (0.3, False), (0.31, True), (1.0, True)]
)
def test_dopamine_shortcut_only_above_point_three(reward, shortcut) -> None:
    assert BasalGanglia().takes_shortcut(reward) is shortcut


@pytest.mark.parametrize("region", [Neocortex(), Cerebellum(), BasalGanglia()])
def test_consolidate_is_idempotent(region, make_engram) -> None:
    engram = make_engram("x", layer=Layer.LONG_TERM, stability=1.0, salience=0.5)
    region.consolidate(engram, 1.0)
    assert (engram.stability, engram.salience, engram.context) == (1.0, 0.5, {})


def test_second_consolidation_does_not_reapply_the_reward(make_engram) -> None:
    engram = make_engram("x", memory_type=MemoryType.HABITUAL)
    ganglia = BasalGanglia()
    ganglia.consolidate(engram, 1.0)
    ganglia.consolidate(engram, 1.0)
    assert engram.salience == pytest.approx(0.7)
    assert engram.stability == pytest.approx(5.0 * 72.0)  # (1 + 4r) units of 72 hours


# --- reinforce: feedback after the fact ----------------------------------------------------


@pytest.mark.parametrize("memory_type", [MemoryType.HABITUAL, MemoryType.PROCEDURAL])
def test_positive_reward_potentiates_and_rewards_habits_and_procedures(
    make_engram, now, memory_type
) -> None:
    engram = make_engram("x", memory_type=memory_type, stability=72.0, salience=0.5)
    BasalGanglia().reinforce(engram, 0.5, now + 3600)
    assert (engram.access_count, engram.last_accessed) == (1, now + 3600)  # LTP
    assert engram.stability == pytest.approx(3 * 72.0)  # >= (1 + 4r) units
    assert engram.salience == pytest.approx(0.6)
    assert engram.context["reward"] == 0.5


def test_positive_reward_only_potentiates_facts_and_episodes(make_engram, now) -> None:
    engram = make_engram("x", memory_type=MemoryType.SEMANTIC, stability=72.0, salience=0.5)
    BasalGanglia().reinforce(engram, 1.0, now)
    assert engram.access_count == 1
    assert engram.stability == pytest.approx(72.0 + 72.0 * 0.3 * math.log(2))
    assert (engram.salience, engram.context) == (0.5, {})


@pytest.mark.parametrize(("reward", "stability"), [(-1.0, 7.2), (-0.5, 39.6), (-0.1, 65.52)])
def test_negative_reward_depresses(make_engram, now, reward, stability) -> None:
    engram = make_engram("x", memory_type=MemoryType.HABITUAL, stability=72.0)
    BasalGanglia().reinforce(engram, reward, now)
    assert engram.stability == pytest.approx(stability)  # x (1 + 0.9 r)
    assert (engram.access_count, engram.salience, engram.context) == (0, 0.5, {})


def test_repeated_depression_stops_at_the_floor(make_engram, now) -> None:
    engram = make_engram("x", stability=72.0)
    for _ in range(5):
        BasalGanglia().reinforce(engram, -1.0, now)
    assert (engram.stability, engram.synaptic_strength) == (0.1, pytest.approx(0.0, abs=1e-4))


def test_zero_reward_changes_nothing(make_engram, now) -> None:
    engram = make_engram("x", stability=72.0)
    BasalGanglia().reinforce(engram, 0.0, now)
    assert (engram.stability, engram.access_count) == (72.0, 0)
