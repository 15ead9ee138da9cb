"""Runner pressure: the latest fresh report of each runner counts, and a producer's
measurement reads it."""

from __future__ import annotations

import redis.asyncio as aioredis

from neurram.bus.flow import measure
from neurram.bus.pressure import FRESH, PRESSURE, busiest, report


def entry(ms: int, runner: str, wait: float) -> tuple[bytes, dict[bytes, bytes]]:
    return f"{ms}-0".encode(), {b"runner": runner.encode(), b"wait": str(wait).encode()}


def test_each_runners_latest_report_counts_and_the_busiest_wins() -> None:
    newest_first = [
        entry(10_000, "a", 0.0),  # a's queue drained: its older 2.0 no longer counts
        entry(9_900, "b", 0.4),
        entry(9_800, "a", 2.0),
        entry(9_700, "c", 0.7),
    ]
    assert busiest(newest_first, at=10.0) == 0.7


def test_stale_reports_and_no_reports_count_as_no_pressure() -> None:
    dead = [entry(10_000, "a", 3.0)]
    assert busiest(dead, at=10.0 + FRESH - 0.01) == 3.0
    assert busiest(dead, at=10.0 + FRESH + 0.01) == 0.0  # the runner stopped reporting
    assert busiest([], at=10.0) == 0.0


async def test_a_measurement_reads_the_busiest_runner(redis: aioredis.Redis, brain_id: str) -> None:
    stream = f"{brain_id}:entry"
    await report(redis, f"{brain_id}-runner", 7.5)  # longer than any real runner's here
    try:
        assert (await measure(redis, stream, [stream], redis)).pressure == 7.5
        assert (await measure(redis, stream, [stream])).pressure == 0.0  # not asked for
    finally:
        await report(redis, f"{brain_id}-runner", 0.0)  # done: other tests see no pressure
    assert PRESSURE.startswith("{neurram}:")  # the doorbell's slot, outside every brain's
