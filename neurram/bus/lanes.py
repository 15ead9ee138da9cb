"""A lane: one consumer group served for many namespaces by a few workers.

Each namespace with possible work is *woken* (by a ring, a local emit, a sweep or a retry
timer) and waits its turn in arrival order. A worker takes it, polls it once (one batch,
never blocking) and, if more may be waiting (a full batch), wakes it again behind the
others, so a busy namespace cannot starve the rest. A wake that comes while a namespace is
polled is kept, and honoured once the poll is done: no message added after a poll's read
goes unnoticed. A namespace is polled by one worker at a time, which keeps the order
of its messages within a group as one consumer would.

An idle namespace can be *reserved*: a producer in this process then reads its next batch
for it, in the very transaction that writes the messages (a hand-off, see
:meth:`neurram.runtime.actor.Actor.commit`), and wakes it once the batch is in hand. A
reserved namespace is busy: nothing polls it meanwhile, so no later read overtakes the
batch handed off.

A stopping lane polls what is in progress and nothing more: a batch handed off (read, so
pending for its consumer) is still polled, a reservation still being read is waited for,
and no new one is granted; namespaces merely woken wait for the next process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from redis import exceptions as redis_errors
from redis.asyncio.client import Pipeline

from neurram.bus.consumer import StreamConsumer
from neurram.bus.timing import Backoff

Poll = Callable[[str], Awaitable[bool]]  # namespace -> whether more may be waiting
Due = Callable[[str], float | None]  # namespace -> monotonic time its retries are due


class Lane:
    """Polls namespaces as they are woken, ``workers`` at a time."""

    def __init__(self, name: str, poll: Poll, due: Due, workers: int = 4) -> None:
        if workers < 1:
            raise ValueError("a lane needs at least one worker")
        self.name = name
        self._poll = poll
        self._due = due
        self._workers = workers
        self._ready: dict[str, float] = {}  # woken, not being polled, in arrival order:
        # when (monotonic)
        self._busy: dict[str, float] = {}  # being polled: when it was woken (monotonic)
        self._again: set[str] = set()  # woken while being polled
        self._reserved: set[str] = set()  # a producer reads their next batch
        self._handed: set[str] = set()  # their batch was handed off, not yet polled
        self._stop: asyncio.Event | None = None  # set: the lane is stopping
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._failures: dict[str, Backoff] = {}
        self._wakeup = asyncio.Event()
        self._log = structlog.get_logger("neurram").bind(lane=name)

    def wake(self, namespace: str) -> None:
        """``namespace`` may have work for this lane."""
        if namespace in self._busy:
            self._again.add(namespace)
        else:
            self._ready.setdefault(namespace, time.monotonic())
            self._wakeup.set()

    def reserve(self, namespace: str) -> bool:
        """Mark ``namespace`` busy if it is idle (neither woken nor polled) and the lane is
        not stopping; whether it was. :meth:`release` ends the reservation."""
        stopping = self._stop is not None and self._stop.is_set()
        if stopping or namespace in self._busy or namespace in self._ready:
            return False
        self._busy[namespace] = time.monotonic()
        self._reserved.add(namespace)
        return True

    def release(self, namespace: str) -> None:
        """End a reservation and wake ``namespace``: its batch is in hand (or must be read)."""
        del self._busy[namespace]
        self._reserved.discard(namespace)
        self._handed.add(namespace)  # polled even if the lane stops meanwhile
        self._again.discard(namespace)
        self.wake(namespace)

    def wake_at(self, namespace: str, when: float) -> None:
        """Wake ``namespace`` at monotonic time ``when`` (the earliest such time wins)."""
        timer = self._timers.get(namespace)
        if timer is not None and timer.when() - asyncio.get_running_loop().time() <= (
            when - time.monotonic()
        ):
            return
        if timer is not None:
            timer.cancel()
        self._timers[namespace] = asyncio.get_running_loop().call_later(
            max(0.0, when - time.monotonic()), self._timer_fired, namespace
        )

    @property
    def waiting(self) -> int:
        """Namespaces woken and not yet polled."""
        return len(self._ready)

    def longest_wait(self, now: float) -> float:
        """Seconds, at monotonic time ``now``, since the oldest wake not yet served: waiting
        for a worker, or for its poll to end (0 when none)."""
        return now - min(next(iter(self._ready.values()), now), *self._busy.values(), now)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve woken namespaces until ``stop``; polls in progress then finish first, and
        so do batches handed off (see the module's docstring)."""
        self._stop = stop
        stopping = asyncio.create_task(self._wake_at_stop(stop))
        try:
            await asyncio.gather(*(self._work(stop) for _ in range(self._workers)))
        finally:
            stopping.cancel()
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()

    async def _wake_at_stop(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wakeup.set()  # idle workers see the stop

    def _timer_fired(self, namespace: str) -> None:
        self._timers.pop(namespace, None)
        self.wake(namespace)

    async def _work(self, stop: asyncio.Event) -> None:
        while (namespace := await self._take(stop)) is not None:
            try:
                more = await self._poll(namespace)
            except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
                self._failed(namespace, "lane.redis_unavailable", repr(exc))
            except Exception as exc:  # one namespace's failure must not stop the others
                self._failed(namespace, "lane.poll_failed", repr(exc), trace=True)
            else:
                self._failures.pop(namespace, None)
                if more:
                    self._again.add(namespace)
                elif (due := self._due(namespace)) is not None:
                    self.wake_at(namespace, due)
            finally:
                del self._busy[namespace]
                if namespace in self._again:
                    self._again.discard(namespace)
                    self.wake(namespace)

    def _failed(self, namespace: str, event: str, error: str, *, trace: bool = False) -> None:
        """Log, then retry ``namespace`` after its own growing backoff."""
        backoff = self._failures.setdefault(namespace, Backoff(first=0.1, cap=5.0))
        delay = backoff.delay()
        (self._log.exception if trace else self._log.warning)(
            event, namespace=namespace, error=error, retry_in=delay
        )
        self._again.discard(namespace)
        self.wake_at(namespace, time.monotonic() + delay)

    async def _take(self, stop: asyncio.Event) -> str | None:
        """The longest-waiting woken namespace, marked busy; once ``stop`` is set, only one
        whose batch was handed off, and None when none is, nor can be any more."""
        while True:
            if stop.is_set():
                namespace = next((n for n in self._ready if n in self._handed), None)
                if namespace is None and not self._reserved:
                    return None
            else:
                namespace = next(iter(self._ready), None)
            if namespace is not None:
                self._busy[namespace] = self._ready.pop(namespace)
                self._handed.discard(namespace)
                return namespace
            self._wakeup.clear()
            await self._wakeup.wait()


@dataclass(frozen=True)
class HandOff:
    """A namespace ``lane`` reserved while a producer reads the next batch of its
    ``consumer`` in the transaction that writes to it."""

    lane: Lane
    namespace: str
    consumer: StreamConsumer[Any]

    def stage(self, pipe: Pipeline) -> int:
        """Queue the consumer's read on the producer's ``pipe``, after its writes; how many
        commands."""
        return self.consumer.stage_read(pipe)

    def done(self, replies: list[Any] | None) -> None:
        """Hand the replies of those commands (None if the transaction failed) to the
        consumer, and wake its namespace."""
        self.consumer.hand(replies)
        self.lane.release(self.namespace)


async def execute_handing_off(
    pipe: Pipeline, hand_offs: Sequence[HandOff], *, raise_on_error: bool = True
) -> list[Any]:
    """Execute ``pipe`` with the reads of ``hand_offs`` queued after its commands, and hand
    each the replies of its own (None when the pipe failed); the replies of the pipe's own
    commands (``raise_on_error``: the first that is an error is raised; a hand-off's error
    is its consumer's to deal with)."""
    counts: list[int] = []
    replies: list[Any] = []
    try:  # whatever happens, each reserved lane is released
        counts = [hand_off.stage(pipe) for hand_off in hand_offs]
        replies = await pipe.execute(raise_on_error=raise_on_error and not hand_offs)
    finally:
        start = len(replies) - sum(counts)
        for at, hand_off in enumerate(hand_offs):
            count = counts[at] if replies else 0
            hand_off.done(replies[start : start + count] if replies else None)
            start += count
    own = replies[: len(replies) - sum(counts)]
    failed = next((r for r in own if isinstance(r, Exception)), None)
    if raise_on_error and failed is not None:
        raise failed
    return own
