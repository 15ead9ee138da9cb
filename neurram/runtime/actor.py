"""The actor base: a region declares what it consumes and emits; the loop, acks, retries,
dead-lettering and heartbeats are owned here (and by :mod:`neurram.bus`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, ClassVar

import msgspec
import redis.asyncio as aioredis
import structlog
from redis.asyncio.client import Pipeline

from neurram.bus import ConsumerStats, Delivery, Namespace, StreamConsumer, stage, stage_reply
from neurram.bus.bounds import stage_cap, trim_acknowledged
from neurram.bus.messages import MESSAGES, Heartbeat, Message, Outcome, codec_for
from neurram.bus.tally import is_tally, stage_tally
from neurram.encoder import Encoder, resolve_encoder
from neurram.engram import Vector
from neurram.runtime.store import MemoryStore
from neurram.settings import Settings

if TYPE_CHECKING:
    from neurram.runtime.metrics import Metrics

INLINE_ENCODE = 2  # texts encoded on the event loop rather than in a worker thread
HEARTBEAT_MAXLEN = 1000
OUTCOME_MAXLEN = 100_000


@dataclass
class ActorContext:
    """What an actor is given: settings, connections, and its place in the topology."""

    settings: Settings
    redis: aioredis.Redis
    name: str  # topology name = consumer group
    host: str  # names this host of regions: machine, process, instance
    encoder: Encoder | None = None  # explicit encoder; else resolved from settings.model
    metrics: Metrics | None = None  # counts and times the actor when metrics are served

    @property
    def namespace(self) -> Namespace:
        return Namespace(self.settings.brain_id)

    @property
    def consumer(self) -> str:
        """Stable per host and region, so a restarted actor drains its own pending first."""
        return f"{self.host}-{self.name}"


Loop = Callable[[asyncio.Event], Awaitable[None]]


async def run_together(stop: asyncio.Event, loops: Sequence[Loop]) -> None:
    """Run loops that each return once their stop event is set. When one fails, the others
    are stopped by that event, never cancelled (a cancelled Redis call can hang), and its
    error is raised."""
    local = asyncio.Event()

    async def relay() -> None:
        await stop.wait()
        local.set()

    async def guarded(loop: Loop) -> None:
        try:
            await loop(local)
        except Exception:
            local.set()
            raise

    relaying = asyncio.create_task(relay())
    try:
        results = await asyncio.gather(*(guarded(loop) for loop in loops), return_exceptions=True)
    finally:
        relaying.cancel()
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to ``seconds`` for ``stop``; True if it was set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


class Actor:
    """Base of every region actor. Subclasses set ``consumes``/``emits`` and write ``handle``."""

    region: ClassVar[str] = ""
    consumes: ClassVar[tuple[str, ...]] = ()
    emits: ClassVar[tuple[str, ...]] = ()
    tick_seconds: float | None = None  # set (in the class or in setup) for periodic ticks

    def __init__(self, ctx: ActorContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.ns = ctx.namespace
        self.store = MemoryStore(ctx.redis, self.ns)
        self.log = structlog.get_logger("neurram").bind(
            brain=self.settings.brain_id, region=ctx.name
        )

    # hooks for subclasses
    async def setup(self) -> None:
        """Prepare before consuming (load a model, build a cache)."""

    async def handle(self, batch: list[Delivery[Message]]) -> None:
        """Handle a batch; return only once every effect is committed (then it is ACKed)."""
        raise NotImplementedError

    async def tick(self) -> None:
        """Periodic work, every ``tick_seconds`` when set."""

    async def teardown(self) -> None:
        """Release what :meth:`setup` acquired."""

    # helpers
    def stream(self, name: str) -> str:
        return self.ns.key(name)

    def encoder(self) -> Encoder:
        return self.ctx.encoder or resolve_encoder(self.settings.model)

    async def load_encoder(self) -> None:
        """Load the model (seconds, the first time in a process) off the event loop."""
        await asyncio.to_thread(self.encoder().encode, ["warm up"])

    async def embed(self, texts: Sequence[str]) -> Vector:
        """Embeddings of ``texts``. A few are encoded on the event loop (measured: one text
        takes 7.5 ms there, 12 ms in a worker thread); a batch in a worker thread, so the
        loop stays responsive."""
        if len(texts) <= INLINE_ENCODE:
            return self.encoder().encode(texts)
        return await asyncio.to_thread(self.encoder().encode, texts)

    def emit(self, pipe: Pipeline, stream: str, message: Message) -> None:
        """Stage ``message`` on this brain's ``stream``."""
        stage(pipe, self.stream(stream), MESSAGES.encode(message))

    def reply(self, pipe: Pipeline, reply_to: str | None, message: Message) -> None:
        """Stage a reply, if a client of this brain waits for one."""
        if reply_to and reply_to.startswith(self.ns.prefix):
            stage_reply(pipe, reply_to, MESSAGES.encode(message))

    def report(self, pipe: Pipeline, outcome: Outcome, reply_to: str | None) -> None:
        """Publish an outcome for observers (without the engram's bulk, capped at
        ``OUTCOME_MAXLEN``) and answer the client: a waiting one by its reply stream, one
        that did not wait (``reply_to`` is a tally) by counting the outcome's status."""
        engram_id = outcome.engram.engram_id if outcome.engram else None
        summary = msgspec.structs.replace(outcome, engram=None, engram_id=engram_id)
        self.emit(pipe, "outcome", summary)
        stage_cap(pipe, self.stream("outcome"), OUTCOME_MAXLEN)
        self.store.stage_count(pipe, outcome.status)
        if is_tally(reply_to, self.ns):
            stage_tally(pipe, reply_to, outcome.status)
        else:
            self.reply(pipe, reply_to, outcome)

    # lifecycle
    async def run(self, stop: asyncio.Event, ready: Callable[[], None] = lambda: None) -> None:
        """Consume until ``stop``; in-flight work is finished and ACKed before returning."""
        consumer: StreamConsumer[Message] = StreamConsumer(
            redis=self.ctx.redis,
            streams=[self.stream(s) for s in self.consumes],
            group=self.ctx.name,
            consumer=self.ctx.consumer,
            codec=codec_for(self.consumes),
            handler=self.handle
            if self.ctx.metrics is None
            else self.ctx.metrics.timed(self.ctx.name, self.handle),
            dead_stream=self.stream("dead"),
            batch_size=self.settings.batch_size,
            block_ms=self.settings.block_ms,
            max_deliveries=self.settings.max_deliveries,
            claim_idle_ms=self.settings.claim_idle_ms,
            log=self.log,
        )
        if self.ctx.metrics is not None:
            self.ctx.metrics.watch(self.ctx.name, consumer.stats)
        await self.setup()
        try:
            await consumer.ensure_groups()
            ready()
            self.log.debug("actor.started", consumes=self.consumes)
            loops: list[Loop] = [consumer.run, partial(self._housekeeping, consumer.stats)]
            if self.tick_seconds:
                loops.append(partial(self._ticks, self.tick_seconds))
            await run_together(stop, loops)
        finally:
            await self.teardown()
        self.log.debug("actor.stopped")

    async def _housekeeping(self, stats: ConsumerStats, stop: asyncio.Event) -> None:
        """Every heartbeat period: report activity, and trim what every group acknowledged
        from the streams this actor consumes (so streams stay bounded)."""
        while True:
            try:
                await self._beat(stats)
                for stream in self.consumes:
                    await trim_acknowledged(self.ctx.redis, self.stream(stream))
            except aioredis.RedisError as exc:
                self.log.warning("housekeeping.failed", error=str(exc))
            except Exception as exc:  # a bug here must not stop consuming: logged, retried
                self.log.exception("housekeeping.failed", error=repr(exc))
            if await stopped_within(stop, self.settings.heartbeat_seconds):
                break
        with contextlib.suppress(aioredis.RedisError):
            await self._beat(stats, stopped=True)  # `neurram top` stops counting it at once

    async def _beat(self, stats: ConsumerStats, stopped: bool = False) -> None:
        beat = Heartbeat(
            stopped=stopped,
            region=self.ctx.name,
            consumer=self.ctx.consumer,
            at=time.time(),
            handled=stats.handled,
            failed=stats.failed,
            dead=stats.dead,
            redelivered=stats.redelivered,
        )
        stream = self.stream("heartbeat")
        pipe = self.ctx.redis.pipeline(transaction=False)
        stage(pipe, stream, MESSAGES.encode(beat))
        stage_cap(pipe, stream, HEARTBEAT_MAXLEN)
        await pipe.execute()

    async def _ticks(self, seconds: float, stop: asyncio.Event) -> None:
        while not await stopped_within(stop, seconds):
            try:
                await self.tick()
            except Exception as exc:  # a failed tick is logged and retried next period
                self.log.exception("tick.failed", error=str(exc))
