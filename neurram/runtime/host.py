"""Runs a set of regions in this process for every brain of a Redis, or for some.

Design (many brains, one runtime):

- **Who has work.** Clients ring the doorbell (:mod:`neurram.bus.doorbell`) each time they
  send a brain a message, and register the brain when they connect. One task per runner
  reads the doorbell with one blocking connection and wakes, in the lane of each region that
  consumes the rung stream, that brain. When a region commits messages for other regions,
  the runner wakes its own lanes at once and rings the doorbell only for streams consumed by
  regions it does not run.
- **Lanes.** Each region is one :class:`~neurram.bus.lanes.Lane`: a few workers poll woken
  brains through that brain's consumer group (XREADGROUP without BLOCK), one batch each, in
  turn. Connections are the runner's pool and the doorbell's, whatever the brains.
- **Sweeps.** Every ``claim_idle_ms / 2`` (and at start) the runner visits every registered
  brain it serves, with one round trip each, and wakes the lanes whose group has entries
  not yet delivered, or pending ones: a lost ring, or the work of a runner that died (its
  entries are claimed once idle ``claim_idle_ms``).
- **Heartbeats.** A loaded brain's actors beat after each heartbeat period in which they
  handled something, else every ``KEEPALIVE_PERIODS`` periods, so idle brains cost little.
- **Cache.** Brains are loaded on first work and unloaded least recently used past
  ``index_cache_engrams`` (:mod:`neurram.runtime.cells`). Heartbeats report on loaded
  actors: written here, they wake only a loaded brain, and the sweep does not count them as
  work, else the last heartbeats of each unloaded brain would load it again, forever.
- **Pressure.** While a lane a stimulus goes through is late, a runner reports how late to
  :data:`~neurram.bus.pressure.PRESSURE`, and every client's backpressure counts it: the
  clients of many brains hold back together (:mod:`neurram.bus.pressure`).
- **Scale out.** Every runner sees every ring; the consumer groups give each message to one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Collection, Sequence
from functools import partial

import msgspec
import structlog
from redis import exceptions as redis_errors

from neurram.bus import Namespace
from neurram.bus.doorbell import REGISTRY, Listener, Ring, registered, stage_rings
from neurram.bus.entries import text
from neurram.bus.lanes import HandOff, Lane
from neurram.bus.pressure import FLOOR, REPORT_EVERY, report
from neurram.encoder import Encoder, encoder_for
from neurram.engram import new_id
from neurram.errors import BrainUnavailableError
from neurram.runtime import topology
from neurram.runtime.actor import KEEPALIVE_PERIODS, Actor, ActorContext, stopped_within
from neurram.runtime.cells import Cell, Cells
from neurram.runtime.connection import Connection
from neurram.runtime.encoding import EncodingQueue
from neurram.runtime.metrics import Metrics
from neurram.runtime.supervisor import Supervisor
from neurram.settings import Settings

START_TIMEOUT = 120.0  # the first model load on a cold machine is slow
REPORTS = frozenset({"heartbeat"})  # streams of this host that never load a brain
HELD_BACK = "sensory"  # the stream whose producers backpressure holds (perceive(wait=False))


class RegionHost:
    """The regions ``names`` (all when empty) for the brains ``brains`` (every registered
    brain when empty), as supervised asyncio tasks."""

    def __init__(
        self,
        settings: Settings,
        connection: Connection,
        names: Sequence[str] = (),
        encoder: Encoder | None = None,
        brains: Collection[str] = (),
    ) -> None:
        for brain in brains:
            Namespace(brain)  # a bad id fails here, with what to fix
        classes = topology.select(settings, names)
        self.names = list(classes)
        self.settings = settings
        self.brains = frozenset(brains)
        self._classes = classes
        self._connection = connection
        self._encoding = EncodingQueue(encoder or encoder_for(settings))
        self._host = f"{socket.gethostname()}-{os.getpid()}-{new_id()[:6]}"  # unique per host
        self._consumers_of: dict[str, list[str]] = {}
        for name, cls in classes.items():
            for stream in cls.consumes:
                self._consumers_of.setdefault(stream, []).append(name)
        every = topology.select(settings)  # every region, here or elsewhere
        self._elsewhere = {  # streams that regions this host does not run consume
            stream for name, cls in every.items() if name not in classes for stream in cls.consumes
        }
        self._known: set[str] = set(self.brains)
        self._held_back = topology.downstream(every, HELD_BACK) & set(classes)  # regions here
        # that what producers are held back on goes through
        self._late = 0.0  # the longest any of them read a message after it was sent, since
        # the last report of pressure
        self.metrics = (
            None
            if settings.metrics_port is None
            else Metrics(
                settings,
                connection.redis,
                {name: cls.consumes for name, cls in classes.items()},
                brain=next(iter(self.brains)) if len(self.brains) == 1 else None,
            )
        )
        self.cells = Cells(self._make, settings.index_cache_engrams, self.brains)
        self.lanes = {
            name: Lane(name, partial(self._poll, name), partial(self._due, name), settings.lanes)
            for name in classes
        }
        self.supervisor = Supervisor(
            {
                **{f"lane:{name}": lane.run for name, lane in self.lanes.items()},
                "doorbell": self._listen,
                "sweep": self._sweep,
                "housekeeping": self._housekeep,
                **({"pressure": self._report_pressure} if self._held_back else {}),
            }
        )
        self.log = structlog.get_logger("neurram").bind(component="host")
        self._listener = Listener(connection.doorbell, settings.block_ms)
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._metrics_task: asyncio.Task[None] | None = None

    @property
    def connection(self) -> Connection:
        """The connection the regions here use (the caller opened it and closes it)."""
        return self._connection

    # the bell of every actor here
    async def ring(self, brain: str, streams: Collection[str]) -> None:
        """Streams of ``brain`` received messages: wake the lanes here that consume them, and
        ring the doorbell for those consumed elsewhere."""
        loaded = self.cells.get(brain) is not None
        for stream in streams:
            if stream in REPORTS and not loaded:
                continue
            self._wake(brain, stream)
        remote = [Ring(brain, s) for s in streams if s in self._elsewhere]
        if remote:
            pipe = self._connection.doorbell.pipeline(transaction=False)
            stage_rings(pipe, remote)
            await pipe.execute()

    def hand_offs(self, brain: str, streams: Collection[str]) -> list[HandOff]:
        """Reserve, for ``brain``, the idle lanes here whose region consumes one of
        ``streams`` and is loaded: its consumer's next batch is read for it by the commit
        that writes to ``streams`` (a round trip fewer a hop)."""
        cell = self.cells.get(brain)
        if cell is None:
            return []
        names = dict.fromkeys(name for s in streams for name in self._consumers_of.get(s, ()))
        return [
            HandOff(self.lanes[name], brain, consumer)
            for name in names
            if (consumer := cell.consumers.get(name)) is not None
            and self.lanes[name].reserve(brain)
        ]

    def _wake(self, brain: str, stream: str) -> None:
        """Wake, for ``brain``, the lanes of the regions here that consume ``stream``."""
        for name in self._consumers_of.get(stream, ()):
            self.lanes[name].wake(brain)

    def serves(self, brain: str) -> bool:
        return not self.brains or brain in self.brains

    # lifecycle
    async def start(self, timeout: float = START_TIMEOUT) -> None:  # noqa: ASYNC109
        """Start serving (and the metrics endpoint, when set); returns once the doorbell is
        read and the brains pinned to this host are loaded."""
        if self.metrics is not None and self.settings.metrics_port is not None:
            self.metrics.serve(self.settings.metrics_port, self.settings.metrics_host)
            self._metrics_task = asyncio.create_task(self.metrics.run(self.supervisor.stop))
        self._task = asyncio.create_task(self.supervisor.run(), name="neurram:supervisor")
        ready = asyncio.create_task(self._ready())
        await asyncio.wait(
            {ready, self._task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if not ready.done() or ready.exception() is not None:
            error = None if not ready.done() else ready.exception()
            ready.cancel()
            await self.stop()
            raise BrainUnavailableError(
                f"regions did not start within {timeout:g} s: {error or 'see the log'}"
            ) from error

    async def _ready(self) -> None:
        # the model loads before anything is served, so no stimulus waits (and expires)
        # while the first brain loads it
        await self._encoding.load()
        await self._listening.wait()
        for brain in sorted(self.brains):  # pinned brains answer their first request at once
            for region in self.names:
                self.cells.release(await self.cells.use(brain, region))

    async def stop(self) -> None:
        """Graceful stop: batches in progress finish and are acknowledged."""
        self.supervisor.stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.cells.close()
        self._encoding.close()
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

    # what the lanes run
    def _make(self, brain: str, region: str) -> Actor:
        settings = msgspec.structs.replace(self.settings, brain_id=brain)
        redis = self._connection.client_for(brain)
        context = ActorContext(
            settings, redis, region, self._host, self._encoding, self.metrics, self
        )
        return self._classes[region](context)

    async def _poll(self, region: str, brain: str) -> bool:
        """One batch of ``brain`` for ``region``; whether more may be waiting (it was full)."""
        cell = await self.cells.use(brain, region)
        try:
            consumer = cell.consumers[region]
            taken = await consumer.poll()
            if taken and region in self._held_back:
                self._late = max(self._late, consumer.stats.lateness)
            return taken >= self.settings.batch_size
        finally:
            self.cells.release(cell)

    def _due(self, region: str, brain: str) -> float | None:
        cell = self.cells.get(brain)
        consumer = None if cell is None else cell.consumers.get(region)
        return None if consumer is None else consumer.next_due()

    # the runner's own loops
    async def _listen(self, stop: asyncio.Event) -> None:
        """Wake lanes as rings arrive."""
        listener = self._listener
        try:
            await listener.start()
            self._listening.set()
            while not stop.is_set():
                for ring in await listener.next(stop):
                    if self.serves(ring.namespace) and await self._registered(ring.namespace):
                        self._wake(ring.namespace, ring.stream)
        finally:
            await listener.aclose()  # a restart reads on from the last ring seen

    async def _registered(self, brain: str) -> bool:
        """Whether ``brain`` was registered (a ring naming anything else is ignored)."""
        if brain not in self._known:
            if not await self._connection.doorbell.sismember(REGISTRY, brain):
                return False
            self._known.add(brain)
        return True

    async def _report_pressure(self, stop: asyncio.Event) -> None:
        """Every ``REPORT_EVERY`` while brains wait for the lanes that what producers are held
        back on goes through (a stimulus: from the SensoryCortex to the Hippocampus and
        long-term regions, not the sleep cycle), and once when none does, report the longest
        wait (:mod:`neurram.bus.pressure`): every client's backpressure counts it. The wait is
        the longer of the oldest wake those lanes have not served yet, and the longest a
        message they read since the last report had waited (a brain with more than a batch
        waiting is woken again behind the others: its wake is younger than its messages)."""
        lanes = [self.lanes[name] for name in self._held_back]
        reported = 0.0
        while not await stopped_within(stop, REPORT_EVERY):
            now = time.monotonic()
            wait = max(self._late, *(lane.longest_wait(now) for lane in lanes))
            self._late = 0.0
            wait = wait if wait >= FLOOR else 0.0
            if wait or reported:
                try:
                    await report(self._connection.doorbell, self._host, wait)
                except redis_errors.RedisError as exc:
                    self.log.warning("pressure.not_reported", error=repr(exc))
                    continue
                reported = wait

    async def _sweep(self, stop: asyncio.Event) -> None:
        """Every half ``claim_idle_ms``: wake each lane for each served brain whose group has
        undelivered or pending entries."""
        while True:
            try:
                brains = self.brains or await registered(self._connection.doorbell)
                self._known |= brains
                for brain in sorted(brains):
                    for name in await self._with_work(brain):
                        self.lanes[name].wake(brain)
            except redis_errors.RedisError as exc:
                self.log.warning("sweep.failed", error=repr(exc))
            if await stopped_within(stop, self.settings.claim_idle_ms / 2000):
                return

    async def _with_work(self, brain: str) -> set[str]:
        """The regions here whose group has entries of ``brain`` to deliver or pending."""
        ns = Namespace(brain)
        streams = list(self._consumers_of)
        pipe = self._connection.client_for(brain).pipeline(transaction=False)
        for stream in streams:
            pipe.xinfo_groups(ns.key(stream))
        replies = await pipe.execute(raise_on_error=False)
        loaded = self.cells.get(brain) is not None
        busy: set[str] = set()
        for stream, groups in zip(streams, replies, strict=True):
            if isinstance(groups, Exception):
                continue  # no such stream yet: nothing to do
            undelivered_counts = loaded or stream not in REPORTS
            made = set()
            for group in groups:
                name = text(group["name"])
                made.add(name)
                lag = group.get("lag")
                if (undelivered_counts and (lag is None or lag)) or group["pending"]:
                    busy.add(name)
            busy.update(set(self._consumers_of[stream]) - made)  # a group not made yet
        return busy & set(self.lanes)  # groups of regions run elsewhere are theirs

    async def _housekeep(self, stop: asyncio.Event) -> None:
        """Every heartbeat period: a heartbeat (and stream trim) from each actor that handled
        something since the last, then the ticks of loaded brains."""
        while not await stopped_within(stop, self.settings.heartbeat_seconds):
            for cell in self.cells.loaded():
                cell.users += 1
                try:
                    await self._beat(cell)
                    await self._tick(cell)
                except redis_errors.RedisError as exc:
                    self.log.warning("housekeeping.failed", brain=cell.brain, error=repr(exc))
                except Exception as exc:  # a bug here must not stop serving: logged, retried
                    self.log.exception("housekeeping.failed", brain=cell.brain, error=repr(exc))
                finally:
                    cell.users -= 1
            await self.cells.shrink()

    async def _beat(self, cell: Cell) -> None:
        """A heartbeat (and a trim of its streams) from each actor that handled something
        since its last, or (the beat alone) whose last is ``KEEPALIVE_PERIODS`` periods old.
        An actor that reads heartbeats beats only at that pace: else each of its beats, read
        by itself, would count as work and call for the next, for ever."""
        keepalive = KEEPALIVE_PERIODS * self.settings.heartbeat_seconds
        for region, actor in list(cell.actors.items()):  # regions load meanwhile
            stats = cell.consumers[region].stats
            handled, at = cell.reported.get(region, (-1, 0.0))
            # what a reader of heartbeats handles is others' beats, and its own: not work
            reader = not REPORTS.isdisjoint(actor.consumes)
            worked = handled != stats.handled and not reader
            due = time.monotonic() - at >= keepalive
            if worked or (due and reader and handled != stats.handled):
                await actor.trim()
            if worked or due:
                await actor.beat(stats, quiet=not worked)
                cell.reported[region] = (stats.handled, time.monotonic())

    async def _tick(self, cell: Cell) -> None:
        for actor in list(cell.actors.values()):  # regions load meanwhile
            await actor.tick()
