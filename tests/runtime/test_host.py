"""A runner's own loops, on a real server: how it reports the pressure on its lanes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from neurram.bus.entries import text
from neurram.bus.pressure import FLOOR, PRESSURE
from neurram.runtime.connection import Connection
from neurram.runtime.host import RegionHost
from neurram.settings import Settings


async def next_report(redis: aioredis.Redis, runner: str, after: str) -> tuple[str, float]:
    """The first report of ``runner`` after id ``after``: its id and wait (blocking read)."""
    while True:
        reply: Any = await redis.xread({PRESSURE: after}, block=10_000)
        assert reply, "no report"
        for entry_id, fields in reply[0][1]:
            after = text(entry_id)
            if fields[b"runner"].decode() == runner:
                return after, float(fields[b"wait"])


@pytest.mark.parametrize("region", ["sensory_cortex", "amygdala"])
async def test_a_runner_reports_how_long_brains_wait_for_its_lanes_on_the_way_of_stimuli(
    redis: aioredis.Redis, redis_url: str, brain_id: str, region: str
) -> None:
    settings = Settings.load(brain_id=brain_id, model="hash")
    host = RegionHost(settings, Connection(redis, redis_url), [region], brains=[brain_id])
    lane, runner, stop = host.lanes[region], host._host, asyncio.Event()
    latest: Any = await redis.xrevrange(PRESSURE, count=1)
    start = text(latest[0][0]) if latest else "0-0"
    lane.wake(brain_id)  # it waits: no worker serves the lane yet
    tasks = [asyncio.create_task(host._report_pressure(stop))]
    try:
        seen, wait = await next_report(redis, runner, start)
        assert wait >= FLOOR
        tasks.append(asyncio.create_task(lane.run(stop)))  # a worker takes the brain
        while wait:
            seen, wait = await next_report(redis, runner, seen)
        assert wait == 0.0  # reported once the wait is over
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await host.cells.close()


async def test_a_runner_whose_lanes_take_no_stimulus_reports_no_pressure(
    redis: aioredis.Redis, redis_url: str, brain_id: str
) -> None:
    settings = Settings.load(brain_id=brain_id, model="hash")
    host = RegionHost(settings, Connection(redis, redis_url), ["sleep_cycle"], brains=[brain_id])
    assert "pressure" not in host.supervisor.loops  # a sleep cycle that runs long holds no one
    await host.cells.close()
