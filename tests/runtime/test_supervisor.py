"""One-for-one supervision: crashed actors come back, stop is graceful."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from neurram.runtime.actor import Actor
from neurram.runtime.supervisor import Supervisor


class Flaky(Actor):
    """Crashes on its first ``crashes`` runs, then serves until stopped."""

    runs = 0
    crashes = 2

    def __init__(self) -> None:  # no context needed: run() is overridden
        pass

    async def run(self, stop: asyncio.Event, ready: Callable[[], None] = lambda: None) -> None:
        type(self).runs += 1
        if type(self).runs <= self.crashes:
            raise RuntimeError("boom")
        ready()
        await stop.wait()


async def test_a_crashed_actor_is_restarted_and_stops_gracefully() -> None:
    Flaky.runs = 0
    supervisor = Supervisor({"flaky": Flaky})
    running = asyncio.create_task(supervisor.run())
    await asyncio.wait_for(supervisor.wait_ready(), 5)
    assert Flaky.runs == 3
    assert len(supervisor.restarts["flaky"]) == 2
    supervisor.stop.set()
    await asyncio.wait_for(running, 5)
    assert running.exception() is None


async def test_stop_during_backoff_does_not_restart() -> None:
    Flaky.runs = 0
    supervisor = Supervisor({"flaky": Flaky})
    supervisor.stop.set()
    await asyncio.wait_for(supervisor.run(), 5)
    assert Flaky.runs == 0
