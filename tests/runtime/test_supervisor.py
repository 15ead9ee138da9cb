"""One-for-one supervision: crashed loops come back, stop is graceful."""

from __future__ import annotations

import asyncio

from neurram.runtime.supervisor import Supervisor


class Flaky:
    """A loop that crashes on its first ``crashes`` runs, then serves until stopped."""

    def __init__(self, crashes: int = 2) -> None:
        self.crashes = crashes
        self.runs = 0
        self.serving = asyncio.Event()

    async def __call__(self, stop: asyncio.Event) -> None:
        self.runs += 1
        if self.runs <= self.crashes:
            raise RuntimeError("boom")
        self.serving.set()
        await stop.wait()


async def test_a_crashed_loop_is_restarted_and_stops_gracefully() -> None:
    flaky = Flaky()
    supervisor = Supervisor({"flaky": flaky})
    running = asyncio.create_task(supervisor.run())
    await asyncio.wait_for(flaky.serving.wait(), 5)
    assert flaky.runs == 3
    assert len(supervisor.restarts["flaky"]) == 2
    supervisor.stop.set()
    await asyncio.wait_for(running, 5)
    assert running.exception() is None


async def test_stop_during_backoff_does_not_restart() -> None:
    flaky = Flaky()
    supervisor = Supervisor({"flaky": flaky})
    supervisor.stop.set()
    await asyncio.wait_for(supervisor.run(), 5)
    assert flaky.runs == 0
