"""SleepCycle: the plan of one cycle (replay, decay, prune) and the idle trigger."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurram.engram import Layer, dump_engram, load_vitals
from neurram.regions.sleep_cycle import IdleDetector, SleepCycle, SleepPlan

from .conftest import HOUR

# The original's law, as most tests here use it (EXP): retention exp(-t/S) with S = 1:
# 1 h -> 0.368 (kept), 3 h -> 0.0498 (silenced), 2.99 h -> 0.0503
EXP = "exponential"
DAY = 24 * HOUR


def ids(engrams) -> list[str]:
    return [e.engram_id for e in engrams]


def test_qualifying_engrams_are_consolidated(make_engram, now) -> None:
    rehearsed = make_engram(engram_id="rehearsed", layer=Layer.WORKING, access_count=3)
    salient = make_engram(engram_id="salient", layer=Layer.WORKING, salience=0.8)
    neither = make_engram(
        engram_id="neither",
        layer=Layer.WORKING,
        access_count=2,
        salience=0.79,
        last_accessed=now - HOUR,
    )
    plan = SleepCycle(law=EXP).plan([rehearsed, salient, neither], {"rehearsed"}, now)
    assert ids(plan.consolidate) == ["rehearsed", "salient"]
    assert ids(plan.decayed) == ["neither"]


def test_replay_comes_before_pruning(make_engram, now) -> None:
    """A salient engram consolidates even if it has faded below 5 % (step 1 precedes 2)."""
    faded = make_engram(
        engram_id="faded", layer=Layer.WORKING, salience=0.9, last_accessed=now - 10 * HOUR
    )
    plan = SleepCycle(law=EXP).plan([faded], {"faded"}, now)
    assert ids(plan.consolidate) == ["faded"]
    assert plan.prune_wm == [] and plan.prune_ltm == []


def test_long_term_engrams_are_never_reconsolidated(make_engram, now) -> None:
    lt = make_engram(
        engram_id="lt",
        layer=Layer.LONG_TERM,
        access_count=9,
        salience=1.0,
        last_accessed=now - HOUR,
    )
    plan = SleepCycle(law=EXP).plan([lt], set(), now)
    assert plan.consolidate == []
    assert ids(plan.decayed) == ["lt"]


def test_faded_working_memory_is_silenced_as_prune_wm(make_engram, now) -> None:
    wm = make_engram(engram_id="wm", layer=Layer.WORKING, last_accessed=now - 3 * HOUR)
    plan = SleepCycle(law=EXP).plan([wm], {"wm"}, now)
    assert ids(plan.prune_wm) == ["wm"]
    assert (wm.layer, wm.context["silenced_at"]) == (Layer.SILENT, now)
    assert plan.prune_ltm == [] and plan.decayed == []


@pytest.mark.parametrize("layer", [Layer.WORKING, Layer.LONG_TERM])
def test_other_faded_engrams_are_silenced_as_prune_ltm(make_engram, now, layer) -> None:
    """Hippocampal (not in working memory) and long-term engrams below 5 %."""
    old = make_engram(engram_id="old", layer=layer, last_accessed=now - 3 * HOUR)
    plan = SleepCycle(law=EXP).plan([old], set(), now)
    assert ids(plan.prune_ltm) == ["old"]
    assert plan.prune_wm == [] and plan.decayed == [] and plan.delete == []
    assert old.layer is Layer.SILENT


def test_survivors_decay_to_their_retention(make_engram, now) -> None:
    hour = make_engram(engram_id="hour", layer=Layer.WORKING, last_accessed=now - HOUR)
    edge = make_engram(engram_id="edge", layer=Layer.LONG_TERM, last_accessed=now - 2.99 * HOUR)
    stable = make_engram(
        engram_id="stable", layer=Layer.LONG_TERM, stability=10.0, last_accessed=now - 10 * HOUR
    )
    plan = SleepCycle(law=EXP).plan([hour, edge, stable], {"hour"}, now)
    assert ids(plan.decayed) == ["hour", "edge", "stable"]
    assert hour.synaptic_strength == pytest.approx(math.exp(-1))
    assert edge.synaptic_strength == pytest.approx(math.exp(-2.99))
    assert stable.synaptic_strength == pytest.approx(math.exp(-1))


def test_an_unchanged_strength_is_not_rewritten(make_engram, now) -> None:
    fresh = make_engram(engram_id="fresh", layer=Layer.WORKING, last_accessed=now - 10.0)
    faded_a_little = make_engram(engram_id="little", layer=Layer.WORKING, last_accessed=now - 72.0)
    plan = SleepCycle(law=EXP).plan([fresh, faded_a_little], set(), now)
    assert ids(plan.decayed) == ["little"]  # 1 - e^-0.02 >= 0.01 > 1 - e^-(10/3600)
    assert fresh.synaptic_strength == 1.0  # left as stored
    assert faded_a_little.synaptic_strength == pytest.approx(math.exp(-72 / HOUR))


def test_mixed_snapshot(make_engram, now) -> None:
    engrams = [
        make_engram(engram_id="c", layer=Layer.WORKING, access_count=4),
        make_engram(engram_id="w", layer=Layer.WORKING, last_accessed=now - 5 * HOUR),
        make_engram(engram_id="h", layer=Layer.WORKING, last_accessed=now - 5 * HOUR),
        make_engram(engram_id="l", layer=Layer.LONG_TERM, last_accessed=now - 5 * HOUR),
        make_engram(engram_id="k", layer=Layer.LONG_TERM, last_accessed=now - HOUR),
    ]
    plan = SleepCycle(law=EXP).plan(engrams, {"c", "w"}, now)
    assert ids(plan.consolidate) == ["c"]
    assert ids(plan.prune_wm) == ["w"]
    assert ids(plan.prune_ltm) == ["h", "l"]
    assert ids(plan.decayed) == ["k"]


def test_custom_thresholds(make_engram, now) -> None:
    def engram():
        return make_engram(
            engram_id="e", layer=Layer.WORKING, access_count=2, last_accessed=now - HOUR
        )

    plan = SleepCycle(threshold=0.5, min_access_count=5, law=EXP).plan([engram()], set(), now)
    assert plan.consolidate == [] and ids(plan.prune_ltm) == ["e"]  # exp(-1) = 0.37 < 0.5
    plan = SleepCycle(min_access_count=2).plan([engram()], set(), now)
    assert ids(plan.consolidate) == ["e"]


def test_silent_engrams_are_left_alone(make_engram, now) -> None:
    """Not decayed, not consolidated, not deleted: they cost a cycle nothing."""
    silent = make_engram(
        engram_id="s", layer=Layer.SILENT, access_count=5, last_accessed=now - 900 * DAY
    )
    silent.context["silenced_at"] = now - 800 * DAY
    plan = SleepCycle().plan([silent], {"s"}, now)
    assert plan == SleepPlan()
    assert silent.layer is Layer.SILENT


def test_silent_retention_days_deletes_only_what_has_been_silent_longer(make_engram, now) -> None:
    old, recent, unknown = (
        make_engram(engram_id=i, layer=Layer.SILENT) for i in ("old", "recent", "unknown")
    )
    old.context["silenced_at"] = now - 31 * DAY
    recent.context["silenced_at"] = now - 29 * DAY
    plan = SleepCycle(silent_retention_days=30).plan([old, recent, unknown], set(), now)
    assert plan.delete == ["old"]
    assert SleepCycle(silent_retention_days=0).plan([recent], set(), now).delete == ["recent"]


@pytest.mark.parametrize(
    ("stability", "days", "silenced"),
    [
        (72.0, 400, False),  # said once, default: active for 14 years
        (72.0, 14 * 365, True),
        (1.0, 60, False),  # the original's 1 hour lasts 71 days under the power law
        (1.0, 72, True),
        (0.1, 8, True),  # depressed to the floor: silent after 7.1 days
    ],
)
def test_power_law_silences_on_a_human_scale(make_engram, now, stability, days, silenced) -> None:
    engram = make_engram(layer=Layer.WORKING, stability=stability, last_accessed=now - days * DAY)
    plan = SleepCycle().plan([engram], set(), now)
    assert (engram.layer is Layer.SILENT) is silenced
    assert len(plan.prune_ltm) == int(silenced)


def test_verdicts_from_vitals_are_those_from_whole_engrams(make_engram, now) -> None:
    """The cycle judges everything from :class:`Vitals` first, whole engrams only after."""
    rng = np.random.default_rng(3)
    engrams = [
        make_engram(
            engram_id=f"e{i}",
            layer=Layer(rng.choice([*Layer])),
            salience=float(rng.uniform(0.3, 0.9)),
            access_count=int(rng.integers(0, 4)),
            stability=float(rng.uniform(0.1, 200.0)),
            synaptic_strength=float(rng.uniform(0.0, 1.0)),
            last_accessed=now - float(rng.uniform(0.0, 400.0)) * DAY,
            embedding=rng.normal(size=8).astype(np.float32),
            context={"silenced_at": now - float(rng.uniform(0.0, 60.0)) * DAY},
        )
        for i in range(500)
    ]
    vitals = [load_vitals(dump_engram(e)) for e in engrams]
    logic = SleepCycle(silent_retention_days=30)
    whole, vital = logic.verdicts(engrams, now), logic.verdicts(vitals, now)
    assert (whole.action == vital.action).all()
    assert len(set(whole.action)) == 5  # every action occurs
    plan = logic.plan(engrams, set(), now)
    acted = {e.engram_id for e in plan.consolidate + plan.decayed + plan.prune_ltm}
    judged = zip(engrams, vital.action, strict=True)
    assert acted | set(plan.delete) == {e.engram_id for e, action in judged if action}


# --- IdleDetector -----------------------------------------------------------------------


@pytest.fixture
def idle(now) -> IdleDetector:
    return IdleDetector(idle_seconds=10.0, interval_seconds=60.0, now=now)


def test_not_due_without_activity(idle, now) -> None:
    assert not idle.due(now + 1000)
    idle.observe("pfc-1", 0, now + 5)  # a heartbeat, but nothing handled
    assert not idle.due(now + 1000)


def test_due_after_idle_seconds_following_activity(idle, now) -> None:
    idle.observe("pfc-1", 3, now + 5)
    assert not idle.due(now + 14.9)
    assert idle.due(now + 15)


def test_unchanged_count_is_not_activity(idle, now) -> None:
    idle.observe("pfc-1", 3, now + 5)
    idle.observe("pfc-1", 3, now + 12)
    assert idle.due(now + 15)


def test_due_every_interval_while_activity_continues(idle, now) -> None:
    for second in range(0, 60, 5):
        idle.observe("pfc-1", second + 1, now + second)
        assert not idle.due(now + second)
    idle.observe("pfc-1", 100, now + 60)
    assert idle.due(now + 60)


def test_not_due_again_right_after_sleeping(idle, now) -> None:
    idle.observe("pfc-1", 3, now + 5)
    assert idle.due(now + 15)
    idle.slept(now + 15)
    assert not idle.due(now + 16)
    assert not idle.due(now + 1000)  # no new activity since
    idle.observe("pfc-1", 4, now + 1001)
    assert idle.due(now + 1011)


def test_consumers_are_tracked_separately(idle, now) -> None:
    idle.observe("pfc-1", 10, now + 1)
    idle.slept(now + 2)
    idle.observe("amygdala-1", 1, now + 3)  # lower count, but a different consumer
    assert idle.due(now + 13)
