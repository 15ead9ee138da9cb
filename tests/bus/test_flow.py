"""Flow control: the throttle's rule with time passed in, and a measurement on a real server."""

from __future__ import annotations

import math

import pytest
import redis.asyncio as aioredis

from neurram.bus.flow import Load, Throttle, Watchdog, measure


def load(
    at: float = 0.0,
    lag: int = 0,
    delivered: int | None = 0,
    age: float = 0.0,
    backlog: int | None = None,
    progress: tuple[str, ...] = ("0-0",),
    pressure: float | None = 0.0,
) -> Load:
    backlog = lag if backlog is None else backlog
    return Load(
        at=at,
        lag=lag,
        delivered=delivered,
        age=age,
        backlog=backlog,
        progress=progress,
        pressure=pressure,
    )


def throttle(max_wait: float = 0.9, max_backlog: int = 10_000) -> Throttle:
    return Throttle(max_wait=max_wait, max_backlog=max_backlog, stall_seconds=5.0)


def test_an_idle_pipeline_lets_a_burst_through_and_is_measured_after_it() -> None:
    flow = throttle()
    assert flow.due()  # nothing measured yet
    assert flow.verdict(load(), now=0.0) == "go"
    for _ in range(49):  # half the probe of 100 (the rest is left to other producers)
        flow.sent()
        assert not flow.due()
    flow.sent()
    assert flow.due()


def test_a_batch_spends_the_credit_at_once() -> None:
    flow = throttle()
    assert flow.credit() == 0  # nothing measured yet
    assert flow.verdict(load(), now=0.0) == "go"
    assert flow.credit() == 50
    flow.sent(30)
    assert (flow.credit(), flow.due()) == (20, False)
    flow.sent(20)
    assert (flow.credit(), flow.due()) == (0, True)


def test_capacity_is_learnt_while_work_waits_and_bounds_what_may_wait() -> None:
    flow = throttle()
    assert flow.verdict(load(at=0.0, lag=500, delivered=0), now=0.0) == "wait"  # speed unknown
    assert flow.verdict(load(at=1.0, lag=500, delivered=1000), now=1.0) == "go"
    assert flow.capacity == 1000.0  # entries read per second while busy
    assert flow.window() == 900  # read within 0.9 s
    assert flow.verdict(load(at=1.1, lag=860, delivered=1100), now=1.1) == "wait"  # 40 free
    assert flow.verdict(load(at=1.2, lag=600, delivered=1200), now=1.2) == "go"  # 300 free


def test_a_pipeline_that_empties_teaches_nothing() -> None:
    flow = throttle()
    flow.verdict(load(at=0.0, lag=500, delivered=0), now=0.0)
    flow.verdict(load(at=1.0, lag=0, delivered=500), now=1.0)  # idle part of the time
    assert flow.capacity is None


def test_the_oldest_waiting_entry_holds_the_producer_back() -> None:
    assert throttle().verdict(load(lag=1, age=0.95), now=0.0) == "wait"
    assert throttle().verdict(load(lag=1, age=0.85), now=0.0) == "go"


def test_a_busy_runner_holds_every_producer_and_shrinks_their_credit() -> None:
    """A producer whose own stream is empty still waits while a runner it shares keeps
    namespaces waiting longer than max_wait, and takes less the nearer it is."""
    assert throttle().verdict(load(pressure=0.95), now=0.0) == "wait"
    flow = throttle()
    assert flow.verdict(load(pressure=0.6), now=0.0) == "go"
    sent = 0
    while not flow.due():
        flow.sent()
        sent += 1
    assert sent == 16  # a third of the 50 an idle runner gives
    assert throttle().verdict(load(pressure=None), now=0.0) == "go"  # reports unreadable


def test_the_backlog_bound_still_holds() -> None:
    flow = throttle(max_wait=math.inf, max_backlog=300)
    assert flow.verdict(load(lag=0, backlog=301), now=0.0) == "wait"
    assert flow.verdict(load(lag=10**6, age=1e6, backlog=300), now=0.0) == "go"  # TTL off


def test_held_back_without_progress_is_stalled_not_slow() -> None:
    flow = throttle()
    stuck = load(lag=500, delivered=None, progress=("5-0",))
    assert flow.verdict(stuck, now=0.0) == "wait"
    assert flow.verdict(stuck, now=5.0) == "wait"
    assert flow.verdict(stuck, now=5.1) == "stalled"
    moving = load(lag=500, delivered=None, progress=("6-0",))
    assert flow.verdict(moving, now=5.2) == "wait"  # the consumers moved: patience again


def test_held_back_for_a_busy_runner_alone_is_never_stalled() -> None:
    flow = throttle()
    idle_here = load(pressure=2.0, progress=("5-0",))  # this brain has nothing waiting
    assert flow.verdict(idle_here, now=0.0) == "wait"
    assert flow.verdict(idle_here, now=60.0) == "wait"
    stuck_here = load(lag=500, delivered=None, age=2.0, pressure=2.0, progress=("5-0",))
    assert flow.verdict(stuck_here, now=65.0) == "wait"
    assert flow.verdict(stuck_here, now=70.1) == "stalled"  # its own entries wait unread


def test_watchdog_counts_from_the_last_change() -> None:
    dog = Watchdog()
    assert dog.idle(1, 10.0) == 0.0
    assert dog.idle(1, 12.0) == 2.0
    assert dog.idle(2, 13.0) == 0.0
    dog.reset()
    assert dog.idle(2, 20.0) == 0.0


@pytest.fixture
async def server_ms(redis: aioredis.Redis) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def test_measure_reads_lag_speed_and_age_from_the_groups(
    redis: aioredis.Redis, brain_id: str, server_ms: int
) -> None:
    entry, later = f"{brain_id}:entry", f"{brain_id}:later"
    for back in (5000, 3000, 1000):  # entries added 5, 3 and 1 s ago
        await redis.xadd(entry, {"m": b"x"}, id=f"{server_ms - back}-0")
    await redis.xgroup_create(entry, "g", id="0")
    await redis.xreadgroup("g", "c", {entry: ">"}, count=1)
    measured = await measure(redis, entry, [entry, later])  # ``later`` does not exist yet
    assert (measured.lag, measured.delivered, measured.backlog) == (2, 1, 2)
    assert 3.0 <= measured.age < 3.5  # the oldest entry not yet delivered
    assert measured.progress == (f"{server_ms - 5000}-0",)


async def test_measure_without_groups_counts_everything_as_waiting(
    redis: aioredis.Redis, brain_id: str, server_ms: int
) -> None:
    entry = f"{brain_id}:entry"
    assert await measure(redis, entry, [entry]) == Load(
        at=pytest.approx(server_ms / 1000, abs=1.0),  # type: ignore[arg-type]
        lag=0,
        delivered=None,
        age=0.0,
        backlog=0,
        progress=(),
    )
    await redis.xadd(entry, {"m": b"x"}, id=f"{server_ms - 2000}-0")
    measured = await measure(redis, entry, [entry])
    assert (measured.lag, measured.delivered) == (1, None)
    assert 2.0 <= measured.age < 2.5
