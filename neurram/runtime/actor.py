"""The actor base: a region of one brain declares what it consumes and emits, and handles
batches; its consumer, heartbeats and commits are made here, and the runtime (``host.py``)
decides when it runs (see :mod:`neurram.bus.lanes`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeGuard

import msgspec
import redis.asyncio as aioredis
import structlog
from redis.asyncio.client import Pipeline

from neurram.bus import ConsumerStats, Delivery, Namespace, StreamConsumer, stage, stage_reply
from neurram.bus.bounds import stage_cap, trim_acknowledged
from neurram.bus.codec import FIELD
from neurram.bus.consumer import Acked, Prefetch, stage_ack, stage_dead
from neurram.bus.entries import Entry
from neurram.bus.lanes import HandOff, execute_handing_off
from neurram.bus.messages import MESSAGES, Heartbeat, Message, Outcome, codec_for
from neurram.bus.tally import is_tally, stage_tally
from neurram.encoder import Encoder
from neurram.engram import Vector
from neurram.runtime.encoding import EncodingQueue
from neurram.runtime.store import MemoryStore
from neurram.settings import Settings

if TYPE_CHECKING:
    from neurram.runtime.metrics import Metrics

HEARTBEAT_MAXLEN = 200  # enough for `top` to find the last two beats of every consumer
KEEPALIVE_PERIODS = 15  # an idle actor beats once every this many heartbeat periods
OUTCOME_MAXLEN = 100_000
# sent whole (EVAL, not EVALSHA): a server that lost its script cache still runs it
_ADD_EACH = f"""
for i = 1, #ARGV do redis.call('XADD', KEYS[1], '*', '{FIELD.decode()}', ARGV[i]) end
return #ARGV
"""


@dataclass
class Staged:
    """What a commit adds to its pipeline once, not once a message: the streams to ring
    for, the outcomes' summaries (one command), the outcomes by status, the tallies' counts by
    (tally, status)."""

    emitted: set[str] = field(default_factory=set)
    summaries: list[Message] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    tallies: Counter[tuple[str, str]] = field(default_factory=Counter)


class Bell(Protocol):
    """Told after a commit which streams of a brain received messages; asked before, which
    of their consumers are idle here, to read their next batch for them (hand-offs)."""

    async def ring(self, brain: str, streams: Collection[str]) -> None: ...

    def hand_offs(self, brain: str, streams: Collection[str]) -> list[HandOff]: ...


@dataclass
class ActorContext:
    """What an actor is given: settings, connections, and its place in the topology."""

    settings: Settings
    redis: aioredis.Redis
    name: str  # topology name = consumer group
    host: str  # names this host of regions: machine, process, instance
    encoding: EncodingQueue  # the host's encoder, shared by its actors
    metrics: Metrics | None = None  # counts and times the actor when metrics are served
    bell: Bell | None = None  # rung after each commit that emitted messages

    @property
    def namespace(self) -> Namespace:
        return Namespace(self.settings.brain_id)

    @property
    def consumer(self) -> str:
        """Stable per host and region, so a restarted actor drains its own pending first."""
        return f"{self.host}-{self.name}"


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

    def __init__(self, ctx: ActorContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.ns = ctx.namespace
        self.store = MemoryStore(ctx.redis, self.ns)
        self.log = structlog.get_logger("neurram").bind(
            brain=self.settings.brain_id, region=ctx.name
        )
        self._staged: weakref.WeakKeyDictionary[Pipeline, Staged] = weakref.WeakKeyDictionary()
        self._acked: set[tuple[str, str]] = set()  # of the batch in hand, by its commits

    # hooks for subclasses
    async def setup(self) -> None:
        """Prepare before consuming (load a model, build a cache)."""

    async def handle(self, batch: list[Delivery[Message]]) -> None:
        """Handle a batch; return only once every effect is committed (then it is ACKed, but
        for the deliveries a commit acknowledged: see :meth:`commit`)."""
        raise NotImplementedError

    async def tick(self) -> None:
        """Periodic work, every heartbeat period while the brain is loaded."""

    async def teardown(self) -> None:
        """Release what :meth:`setup` acquired."""

    # helpers
    def stream(self, name: str) -> str:
        return self.ns.key(name)

    def encoder(self) -> Encoder:
        return self.ctx.encoding.encoder

    async def load_encoder(self) -> None:
        """Load the model (seconds, the first time in a process) off the event loop."""
        await self.ctx.encoding.load()

    async def embed(self, texts: Sequence[str], beside: bool = False) -> Vector:
        """Embeddings of ``texts``, encoded one call at a time with those of the host's other
        actors (:mod:`neurram.runtime.encoding`); ``beside``: this actor runs work on
        another thread meanwhile."""
        return await self.ctx.encoding.encode(texts, beside)

    def emit(self, pipe: Pipeline, stream: str, message: Message) -> None:
        """Stage ``message`` on this brain's ``stream``; :meth:`commit` sends it."""
        self.emit_all(pipe, stream, [message])

    def emit_all(self, pipe: Pipeline, stream: str, messages: Sequence[Message]) -> None:
        """Stage ``messages`` on this brain's ``stream``, in order, as one command (a script
        adding each, when there are several): the pipeline packs and parses one command, not
        one a message."""
        if messages:
            self._stage_all(pipe, stream, messages)
            self._staged_on(pipe).emitted.add(stream)

    def _stage_all(self, pipe: Pipeline, stream: str, messages: Sequence[Message]) -> None:
        payloads = [MESSAGES.encode(m) for m in messages]
        if len(payloads) == 1:
            stage(pipe, self.stream(stream), payloads[0])
        else:
            pipe.eval(_ADD_EACH, 1, self.stream(stream), *payloads)

    def _staged_on(self, pipe: Pipeline) -> Staged:
        if (staged := self._staged.get(pipe)) is None:
            staged = self._staged[pipe] = Staged()
        return staged

    def awaits(self, reply_to: str | None) -> TypeGuard[str]:
        """Whether a client of this brain waits on ``reply_to`` for its reply (else it counts
        outcomes in a tally, or wants none)."""
        return bool(reply_to and reply_to.startswith(self.ns.prefix)) and not is_tally(
            reply_to, self.ns
        )

    def reply(self, pipe: Pipeline, reply_to: str | None, message: Message) -> None:
        """Stage a reply, if a client of this brain waits for one."""
        if self.awaits(reply_to):
            stage_reply(pipe, reply_to, MESSAGES.encode(message))

    def report(self, pipe: Pipeline, outcome: Outcome, reply_to: str | None) -> None:
        """Publish an outcome for observers (without the engram's bulk, capped at
        ``OUTCOME_MAXLEN``) and answer the client: a waiting one by its reply stream, one
        that did not wait (``reply_to`` is a tally) by counting the outcome's status."""
        engram_id = outcome.engram.engram_id if outcome.engram else None
        staged = self._staged_on(pipe)  # published, counted and capped once a commit
        staged.summaries.append(
            msgspec.structs.replace(outcome, engram=None, engram_id=engram_id, working_memory=None)
        )
        staged.outcomes[outcome.status] += 1
        if is_tally(reply_to, self.ns):
            staged.tallies[reply_to, outcome.status] += 1
        else:
            self.reply(pipe, reply_to, outcome)

    async def commit(self, pipe: Pipeline, done: Sequence[Delivery[Message]] = ()) -> list[Any]:
        """Execute ``pipe``; then ring for the streams emitted on it, so the regions that
        consume them learn they have work (see :mod:`neurram.bus.doorbell`). A region here
        that consumes them and is idle has its next batch read in the same transaction,
        after the writes, and handed over (:meth:`Bell.hand_offs`): it reads nothing itself.

        ``done``: deliveries of the batch in hand whose every effect is on ``pipe`` (a
        transaction): their ACK goes with it, a round trip fewer than after the handler. A
        command that fails inside the transaction (a key of the wrong type) does not stop
        the ACK: those deliveries then go to the dead stream, with the error, as a delivery
        that kept failing would.
        """
        staged = self._staged.pop(pipe, None) or Staged()
        if staged.summaries:
            self._stage_all(pipe, "outcome", staged.summaries)
            staged.emitted.add("outcome")
            stage_cap(pipe, self.stream("outcome"), OUTCOME_MAXLEN)
        for status, count in staged.outcomes.items():
            self.store.stage_count(pipe, status, count)
        for (tally, status), count in staged.tallies.items():
            stage_tally(pipe, tally, status, count)
        stage_ack(pipe, self.ctx.name, done)
        bell = self.ctx.bell
        hand_offs = [] if bell is None else bell.hand_offs(self.settings.brain_id, staged.emitted)
        replies = await execute_handing_off(pipe, hand_offs, raise_on_error=not done)
        self.acknowledged(done)
        failed = next((r for r in replies if isinstance(r, Exception)), None)
        if failed is not None:
            await self._bury(done, failed)
        if staged.emitted and bell is not None:
            await bell.ring(self.settings.brain_id, staged.emitted)
        return replies

    def acknowledged(self, done: Iterable[Delivery[Message]]) -> None:
        """Count ``done``, of the batch in hand, as acknowledged by a write of the handler's
        own (a commit, or a script that acknowledged them with its effects): the consumer
        does not acknowledge them again."""
        self._acked.update((d.stream, d.entry_id) for d in done)

    async def _bury(self, done: Sequence[Delivery[Message]], error: Exception) -> None:
        """Copy ``done``, acknowledged by a commit whose ``error`` left effects undone, to
        the dead stream."""
        reason = f"acknowledged by a commit that failed: {error}"
        pipe = self.ctx.redis.pipeline(transaction=False)
        for d in done:
            self.log.error("entry moved to dead stream", stream=d.stream, entry_id=d.entry_id)
            entry = Entry(d.stream, d.entry_id, {FIELD: MESSAGES.encode(d.message)})
            stage_dead(pipe, self.stream("dead"), self.ctx.name, entry, reason)
        await pipe.execute()

    def prefetch(self) -> Prefetch | None:
        """What :meth:`handle` reads before each batch, to be read with a batch a producer
        hands over (see :class:`~neurram.bus.consumer.Prefetch`); None: nothing."""
        return None

    def footprint(self) -> int:
        """How many engrams this actor holds in memory (what a runner's cache bounds)."""
        return 0

    # what the runtime drives
    def consumer(self) -> StreamConsumer[Message]:
        """The consumer of this actor's streams, handing batches to :meth:`handle`."""
        consumer: StreamConsumer[Message] = StreamConsumer(
            redis=self.ctx.redis,
            streams=[self.stream(s) for s in self.consumes],
            group=self.ctx.name,
            consumer=self.ctx.consumer,
            codec=codec_for(self.consumes),
            handler=self._handle
            if self.ctx.metrics is None
            else self.ctx.metrics.timed(self.ctx.name, self._handle),
            dead_stream=self.stream("dead"),
            batch_size=self.settings.batch_size,
            max_deliveries=self.settings.max_deliveries,
            claim_idle_ms=self.settings.claim_idle_ms,
            log=self.log,
            prefetch=self.prefetch(),
        )
        if self.ctx.metrics is not None:
            self.ctx.metrics.watch(self.ctx.name, consumer.stats)
        return consumer

    async def _handle(self, batch: list[Delivery[Message]]) -> Acked:
        """:meth:`handle`; returns the deliveries its commits acknowledged."""
        self._acked = set()
        await self.handle(batch)
        return self._acked

    async def beat(
        self, stats: ConsumerStats, *, stopped: bool = False, quiet: bool = False
    ) -> None:
        """Report activity with a heartbeat; ``stopped``: the last one, so `neurram top`
        stops counting this consumer at once; ``quiet``: without ringing (a beat that reports
        no activity is read whenever its reader next runs)."""
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
        pipe = self.ctx.redis.pipeline(transaction=False)
        self.emit(pipe, "heartbeat", beat)
        stage_cap(pipe, self.stream("heartbeat"), HEARTBEAT_MAXLEN)
        await (pipe.execute() if quiet else self.commit(pipe))

    async def trim(self) -> None:
        """Trim what every group acknowledged from the streams this actor consumes (so
        streams stay bounded)."""
        for stream in self.consumes:
            await trim_acknowledged(self.ctx.redis, self.stream(stream))
