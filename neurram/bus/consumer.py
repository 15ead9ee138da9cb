"""The consumer: batched XREADGROUP, ACK after handling, retries, dead letters.

Delivery is at least once. Each :meth:`StreamConsumer.poll` is one turn, which never blocks
(the runner decides when a consumer has work: see ``doorbell.py``):

1. every ``claim_idle_ms / 2``: XAUTOCLAIM entries idle that long at other (dead) consumers
   and handle them at once;
2. when their backoff has elapsed: re-read this consumer's own pending entries (XREADGROUP
   id "0") — entries whose handler failed, or that a crash left unacknowledged;
3. read new entries (XREADGROUP ">"), unless a producer handed them over: it read them for
   this consumer in the transaction that wrote them (:meth:`StreamConsumer.stage_read`).

On Valkey 9 (and Redis 7) both XREADGROUP "0" and XAUTOCLAIM increment an entry's delivery
count (measured), so XPENDING tells how often a redelivered entry has been tried. An entry
tried ``max_deliveries`` times, or one that does not decode, goes to the dead stream.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import structlog
from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.typing import KeyT, StreamIdT

from neurram.bus.bounds import parse_id
from neurram.bus.codec import FIELD, Codec, DecodeError
from neurram.bus.entries import Entry, read_entries, text
from neurram.bus.timing import Backoff

T = TypeVar("T")

Acked = Collection[tuple[str, str]] | None  # (stream, entry id) a handler acknowledged itself
Handler = Callable[[list["Delivery[T]"]], Awaitable[Acked]]


class Prefetch(Protocol):
    """What a handler reads before each batch, read instead with a batch handed over (in the
    producer's transaction, after its writes)."""

    def stage(self, pipe: Pipeline) -> int:
        """Queue the reads on ``pipe``; how many commands."""
        ...

    def take(self, replies: list[Any] | None) -> None:
        """Their replies (None: lost), for the handler's next batch."""
        ...


@dataclass(frozen=True)
class Delivery(Generic[T]):
    """A decoded message; ``redelivered`` when it had been delivered before (retry or claim)."""

    stream: str
    entry_id: str
    message: T
    redelivered: bool


@dataclass
class ConsumerStats:
    """Counters kept by the loop, for heartbeats and tests."""

    handled: int = 0
    failed: int = 0
    dead: int = 0
    redelivered: int = 0
    last_handled_at: float | None = None
    lateness: float = 0.0  # seconds the oldest entry of the last new batch had waited when
    # read (its id's time against this clock)


class StreamConsumer(Generic[T]):
    """Consumes ``streams`` as ``consumer`` of ``group`` and hands decoded batches to ``handler``.

    The handler must be idempotent: after a crash, or when a batch fails and its entries are
    retried one by one, a message can be handled again. It may acknowledge deliveries itself,
    in the transaction that commits their effects (:func:`stage_ack`), and return their
    (stream, entry id): the consumer then acknowledges only the others, sparing a round trip.
    """

    def __init__(
        self,
        *,
        redis: Redis,
        streams: Sequence[str],
        group: str,
        consumer: str,
        codec: Codec[T],
        handler: Handler[T],
        dead_stream: str,
        batch_size: int = 64,
        max_deliveries: int = 5,
        claim_idle_ms: int = 60000,
        log: structlog.typing.FilteringBoundLogger | None = None,
        prefetch: Prefetch | None = None,
    ) -> None:
        if not streams:
            raise ValueError("StreamConsumer needs at least one stream")
        if batch_size < 1 or max_deliveries < 1 or claim_idle_ms < 1:
            raise ValueError("batch_size, max_deliveries and claim_idle_ms must be positive")
        self.streams = list(streams)
        self.group = group
        self.consumer = consumer
        self.dead_stream = dead_stream
        self.stats = ConsumerStats()
        self._redis = redis
        self._codec = codec
        self._handler = handler
        self._batch_size = batch_size
        self._max_deliveries = max_deliveries
        self._claim_idle_ms = claim_idle_ms
        self._log = (log or structlog.get_logger("neurram.bus")).bind(
            group=group, consumer=consumer
        )
        self._claim_at = 0.0  # monotonic time of the next XAUTOCLAIM
        self._retry_at: float | None = 0.0  # when to re-read own pending; None: nothing pending
        self._retry_backoff = Backoff()
        self._handed: list[Entry] = []  # new entries read for this consumer by a producer
        self._prefetch = prefetch

    def stage_read(self, pipe: Pipeline) -> int:
        """Queue on ``pipe`` this consumer's read of new entries (its next batch), and its
        handler's prefetch, for a producer to hand over the replies (:meth:`hand`): the read
        is then a round trip fewer. Returns how many commands. The entries are pending at
        this consumer from then on: were the replies lost, the consumer re-reads them."""
        self._read_new(pipe)
        return 1 + (self._prefetch.stage(pipe) if self._prefetch else 0)

    def hand(self, replies: list[Any] | None) -> None:
        """The replies of the commands :meth:`stage_read` queued; the next turn handles the
        entries read. None, or an error: the read may have taken entries nobody has, so the
        next turn re-reads this consumer's pending entries first."""
        read = None if replies is None else replies[0]
        if read is None or isinstance(read, Exception):
            self._retry_at = time.monotonic()
        else:
            self._handed += read_entries(read)
        if self._prefetch is not None:
            self._prefetch.take(None if replies is None else replies[1:])

    async def ensure_groups(self) -> None:
        """Create the group on every stream (and the stream itself) if missing."""
        for stream in self.streams:
            try:
                await self._redis.xgroup_create(stream, self.group, id="0", mkstream=True)
            except redis_errors.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def poll(self) -> int:
        """One turn, never blocking: claim what dead consumers left when due, re-read own
        pending entries when due, else read new ones. Returns how many entries it took (0:
        nothing to do now; see :meth:`next_due`). A missing group is recreated."""
        try:
            return await self._turn()
        except redis_errors.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._log.warning("consumer group missing, recreating", error=str(exc))
            await self.ensure_groups()
            return await self._turn()

    def next_due(self) -> float | None:
        """The monotonic time at which own pending entries are due to be retried (None:
        nothing of this consumer's is pending)."""
        return self._retry_at

    async def _turn(self) -> int:
        taken = 0
        if time.monotonic() >= self._claim_at:
            self._claim_at = time.monotonic() + self._claim_idle_ms / 2000
            taken += await self._reclaim()
        fresh, self._handed = self._handed, []  # pending here too: before a re-read of those
        if not fresh and self._retry_at is not None and time.monotonic() >= self._retry_at:
            pending = read_entries(
                await self._redis.xreadgroup(
                    self.group, self.consumer, dict.fromkeys(self.streams, "0"), self._batch_size
                )
            )
            if pending:
                self._after(await self._process(pending, redelivered=True), drained=True)
                return taken + len(pending)
            self._retry_at = None
            self._retry_backoff.reset()
        if not fresh:
            fresh = read_entries(await self._read_new(self._redis))
        if fresh:
            oldest = min(parse_id(entry.entry_id)[0] for entry in fresh) / 1000
            self.stats.lateness = max(0.0, time.time() - oldest)
            self._after(await self._process(fresh, redelivered=False), drained=False)
        return taken + len(fresh)

    def _read_new(self, client: Redis | Pipeline) -> Any:
        """XREADGROUP of new entries on ``client``: awaitable on a connection, queued on a
        pipeline."""
        streams: dict[KeyT, StreamIdT] = dict.fromkeys(self.streams, ">")
        return client.xreadgroup(self.group, self.consumer, streams, self._batch_size)

    def _after(self, failed: int, *, drained: bool) -> None:
        """Schedule the next read of own pending entries after a batch."""
        if failed:
            if drained or self._retry_at is None:
                self._retry_at = time.monotonic() + self._retry_backoff.delay()
        elif drained:
            self._retry_at = time.monotonic()  # more may be pending: read again at once
            self._retry_backoff.reset()

    async def _reclaim(self) -> int:
        taken = 0
        for stream in self.streams:
            cursor = ""
            while cursor != "0-0":
                reply: Any = await self._redis.xautoclaim(
                    stream,
                    self.group,
                    self.consumer,
                    min_idle_time=self._claim_idle_ms,
                    start_id=cursor or "0-0",
                    count=self._batch_size,
                )
                cursor = text(reply[0])
                claimed = [Entry(stream, text(i), dict(f or {})) for i, f in reply[1]]
                if claimed:
                    self._log.info("reclaimed idle entries", stream=stream, count=len(claimed))
                    self._after(await self._process(claimed, redelivered=True), drained=False)
                    taken += len(claimed)
        return taken

    async def _process(self, entries: list[Entry], *, redelivered: bool) -> int:
        """Dead-letter, decode and handle ``entries``; returns how many were left pending."""
        counts = await self._delivery_counts(entries) if redelivered else {}
        deliveries: list[Delivery[T]] = []
        gone: list[Entry] = []
        dead: list[tuple[Entry, str]] = []
        for entry in entries:
            if not entry.fields:
                gone.append(entry)  # trimmed or deleted while pending
                continue
            count = counts.get((entry.stream, entry.entry_id), 1)
            if count == 0:
                continue  # claimed by another consumer meanwhile
            if count > self._max_deliveries:
                dead.append((entry, f"failed {count - 1} deliveries"))
                continue
            try:
                message = self._codec.decode(entry.fields.get(FIELD, b""))
            except DecodeError as exc:
                dead.append((entry, f"undecodable: {exc}"))
                continue
            deliveries.append(Delivery(entry.stream, entry.entry_id, message, redelivered))
        await self._bury(dead)
        await self._ack(gone)
        if redelivered:
            self.stats.redelivered += len(deliveries)
        return await self._handle(deliveries) if deliveries else 0

    async def _delivery_counts(self, entries: list[Entry]) -> dict[tuple[str, str], int]:
        """Delivery count of each entry still pending at this consumer (0 if no longer)."""
        pipe = self._redis.pipeline(transaction=False)
        for entry in entries:
            pipe.xpending_range(
                entry.stream, self.group, entry.entry_id, entry.entry_id, 1, self.consumer
            )
        replies: list[list[dict[str, Any]]] = await pipe.execute()
        return {
            (entry.stream, entry.entry_id): reply[0]["times_delivered"] if reply else 0
            for entry, reply in zip(entries, replies, strict=True)
        }

    async def _handle(self, deliveries: list[Delivery[T]]) -> int:
        """Run the handler on the batch, then one by one if the batch fails; returns failures."""
        try:
            acked = await self._handler(deliveries)
        except Exception as exc:
            self._log.warning(
                "handler failed",
                streams=sorted({d.stream for d in deliveries}),
                ids=[d.entry_id for d in deliveries],
                error=repr(exc),
                exc_info=exc,
            )
        else:
            await self._ack(deliveries, acked)
            return 0
        if len(deliveries) == 1:
            self.stats.failed += 1
            return 1
        failed = 0
        for delivery in deliveries:
            try:
                acked = await self._handler([delivery])
            except Exception as exc:
                failed += 1
                self._log.warning(
                    "handler failed on a single entry, left pending",
                    stream=delivery.stream,
                    entry_id=delivery.entry_id,
                    error=repr(exc),
                )
            else:
                await self._ack([delivery], acked)
        self.stats.failed += failed
        return failed

    async def _ack(self, done: Sequence[Delivery[T] | Entry], acked: Acked = None) -> None:
        """Acknowledge ``done``, but for those the handler ``acked`` already."""
        if not done:
            return
        unacked = [item for item in done if (item.stream, item.entry_id) not in (acked or ())]
        if unacked:
            pipe = self._redis.pipeline(transaction=False)
            stage_ack(pipe, self.group, unacked)
            await pipe.execute()
        handled = sum(isinstance(item, Delivery) for item in done)
        if handled:
            self.stats.handled += handled
            self.stats.last_handled_at = time.time()

    async def _bury(self, dead: list[tuple[Entry, str]]) -> None:
        """Move poison entries to the dead stream with the reason, and ACK them."""
        if not dead:
            return
        pipe = self._redis.pipeline(transaction=False)
        for entry, reason in dead:
            self._log.error(
                "entry moved to dead stream",
                stream=entry.stream,
                entry_id=entry.entry_id,
                reason=reason,
            )
            stage_dead(pipe, self.dead_stream, self.group, entry, reason)
            pipe.xack(entry.stream, self.group, entry.entry_id)
        await pipe.execute()
        self.stats.dead += len(dead)


def stage_ack(pipe: Pipeline, group: str, done: Sequence[Delivery[Any] | Entry]) -> None:
    """Queue the XACKs of ``done`` for ``group`` on ``pipe``, one per stream."""
    by_stream: dict[str, list[str]] = {}
    for item in done:
        by_stream.setdefault(item.stream, []).append(item.entry_id)
    for stream, ids in by_stream.items():
        pipe.xack(stream, group, *ids)


def stage_dead(pipe: Pipeline, dead_stream: str, group: str, entry: Entry, reason: str) -> None:
    """Queue a copy of ``entry`` (read by ``group``) on ``dead_stream``, with why."""
    pipe.xadd(
        dead_stream,
        {
            "stream": entry.stream,
            "entry_id": entry.entry_id,
            "group": group,
            "reason": reason,
            "payload": entry.fields.get(FIELD, b""),
        },
    )
