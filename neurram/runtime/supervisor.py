"""One-for-one supervision: each actor runs as a task; a crashed one is restarted with
exponential backoff, and a restart storm is logged loudly. Stopping is graceful."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from neurram.runtime.actor import Actor, stopped_within

MIN_BACKOFF = 0.1
MAX_BACKOFF = 5.0
STORM_RESTARTS = 5  # restarts within STORM_WINDOW that count as a storm
STORM_WINDOW = 60.0


@dataclass
class Supervisor:
    """Runs actors made by ``factories`` (name -> factory) until ``stop`` is set."""

    factories: dict[str, Callable[[], Actor]]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    restarts: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.log = structlog.get_logger("neurram").bind(component="supervisor")
        self._ready = {name: asyncio.Event() for name in self.factories}

    async def wait_ready(self) -> None:
        """Until every actor has started consuming once."""
        await asyncio.gather(*(e.wait() for e in self._ready.values()))

    async def run(self) -> None:
        """Supervise every actor; returns once all have stopped after ``stop`` was set."""
        async with asyncio.TaskGroup() as tasks:
            for name in self.factories:
                tasks.create_task(self._supervise(name), name=f"neurram:{name}")

    async def _supervise(self, name: str) -> None:
        backoff = MIN_BACKOFF
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                await self.factories[name]().run(self.stop, self._ready[name].set)
            except Exception as exc:  # supervision: any crash is logged and restarted
                self.log.exception("actor.crashed", region=name, error=repr(exc))
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
                "actor.restart_storm", region=name, restarts=len(recent), window_s=STORM_WINDOW
            )
