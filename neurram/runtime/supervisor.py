"""One-for-one supervision: each loop of a runner (a region's lane, the doorbell, the sweep)
runs as a task; a crashed one is restarted with exponential backoff, and a restart storm is
logged loudly. Stopping is graceful."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from neurram.runtime.actor import stopped_within

MIN_BACKOFF = 0.1
MAX_BACKOFF = 5.0
STORM_RESTARTS = 5  # restarts within STORM_WINDOW that count as a storm
STORM_WINDOW = 60.0


Loop = Callable[[asyncio.Event], Awaitable[None]]  # runs until its stop event is set


@dataclass
class Supervisor:
    """Runs ``loops`` (name -> loop) until ``stop`` is set."""

    loops: dict[str, Loop]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    restarts: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.log = structlog.get_logger("neurram").bind(component="supervisor")

    async def run(self) -> None:
        """Supervise every loop; returns once all have returned after ``stop`` was set."""
        async with asyncio.TaskGroup() as tasks:
            for name in self.loops:
                tasks.create_task(self._supervise(name), name=f"neurram:{name}")

    async def _supervise(self, name: str) -> None:
        backoff = MIN_BACKOFF
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                await self.loops[name](self.stop)
            except Exception as exc:  # supervision: any crash is logged and restarted
                self.log.exception("loop.crashed", loop=name, error=repr(exc))
                self._count_restart(name)
            else:
                return
            if time.monotonic() - started > MAX_BACKOFF:
                backoff = MIN_BACKOFF  # it ran a good while: a fresh failure, not a loop
            if await stopped_within(self.stop, backoff):
                return
            backoff = min(MAX_BACKOFF, backoff * 2)

    def _count_restart(self, name: str) -> None:
        now = time.monotonic()
        recent = [t for t in self.restarts.get(name, []) if now - t < STORM_WINDOW]
        recent.append(now)
        self.restarts[name] = recent
        if len(recent) >= STORM_RESTARTS:
            self.log.error(
                "loop.restart_storm", loop=name, restarts=len(recent), window_s=STORM_WINDOW
            )
