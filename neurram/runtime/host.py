"""Runs a set of regions in this process, under one supervisor."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Sequence
from functools import partial

import redis.asyncio as aioredis

from neurram.encoder import Encoder
from neurram.engram import new_id
from neurram.errors import BrainUnavailableError
from neurram.runtime import topology
from neurram.runtime.actor import ActorContext
from neurram.runtime.metrics import Metrics
from neurram.runtime.supervisor import Supervisor
from neurram.settings import Settings

START_TIMEOUT = 120.0  # the first model load on a cold machine is slow


class RegionHost:
    """The regions ``names`` (all when empty) of one brain, as supervised asyncio tasks."""

    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis,
        names: Sequence[str] = (),
        encoder: Encoder | None = None,
    ) -> None:
        classes = topology.select(settings, names)
        self.names = list(classes)
        self.settings = settings
        self.metrics = (
            None
            if settings.metrics_port is None
            else Metrics(settings, redis, {name: cls.consumes for name, cls in classes.items()})
        )
        host = f"{socket.gethostname()}-{os.getpid()}-{new_id()[:6]}"  # unique per host object
        self.supervisor = Supervisor(
            {
                name: partial(cls, ActorContext(settings, redis, name, host, encoder, self.metrics))
                for name, cls in classes.items()
            }
        )
        self._task: asyncio.Task[None] | None = None
        self._metrics_task: asyncio.Task[None] | None = None

    async def start(self, timeout: float = START_TIMEOUT) -> None:  # noqa: ASYNC109
        """Start every region (and the metrics endpoint, when set) and wait until each
        consumes its streams."""
        if self.metrics is not None and self.settings.metrics_port is not None:
            self.metrics.serve(self.settings.metrics_port, self.settings.metrics_host)
            self._metrics_task = asyncio.create_task(self.metrics.run(self.supervisor.stop))
        self._task = asyncio.create_task(self.supervisor.run(), name="neurram:supervisor")
        ready = asyncio.create_task(self.supervisor.wait_ready())
        await asyncio.wait(
            {ready, self._task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if not ready.done():
            ready.cancel()
            await self.stop()
            raise BrainUnavailableError(
                f"regions did not start within {timeout:g} s; see the log for the failing region"
            )

    async def stop(self) -> None:
        """Graceful stop: in-flight batches finish and are acknowledged."""
        self.supervisor.stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._metrics_task is not None:
            await self._metrics_task
            self._metrics_task = None
        if self.metrics is not None:
            self.metrics.close()

    async def run_until_stopped(self) -> None:
        """Serve until :meth:`stop` is called (e.g. by a signal handler)."""
        if self._task is None:
            await self.start()
        assert self._task is not None
        await self._task
