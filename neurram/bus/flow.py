"""Flow control for a producer: hold it back before an entry waits too long to be read.

Lag is counted in time, not only in entries. By Little's law an entry added now waits about
``lag / capacity`` seconds before its consumer group reads it: the entries ahead of it over
the rate at which the group reads when it has work. The producer may send while that wait,
and the age of the oldest entry not yet delivered (server time minus the entry id's
milliseconds, so client clocks do not matter), stay under ``max_wait``; it gets a credit of
entries it may send before it measures again. The capacity is learnt from the group's
``entries-read`` counter between two measurements that both found work waiting, so it is the
group's speed, not the producer's. Progress is the groups' last-delivered ids moving: a
producer held back while they stand still is stalled, not slow.

:class:`Throttle` and :class:`Watchdog` are pure (time passed in); :func:`measure` does the I/O.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from redis.asyncio import Redis
from redis.exceptions import NoPermissionError, ResponseError

from neurram.bus import pressure
from neurram.bus.bounds import parse_id
from neurram.bus.entries import text

CHECK_EVERY = 100  # entries sent between two measurements at most
RATE_INTERVAL = 0.5  # seconds between the two measurements a capacity is learnt from:
# longer than a consumer's batch cycle, so bursts of reads do not inflate it
RATE_WEIGHT = 0.5  # weight of the newest capacity sample (exponential moving average)
REFILL = 0.25  # share of the window that must be free before a held producer goes on

Verdict = Literal["go", "wait", "stalled"]


@dataclass(frozen=True)
class Load:
    """One measurement of the consumers of a producer's streams."""

    at: float  # server time of the measurement, in seconds
    lag: int  # entries of the entry stream not yet delivered to its slowest group
    delivered: int | None  # entries its slowest group was delivered so far; None: unknown
    age: float  # seconds the oldest of those ``lag`` entries has waited
    backlog: int  # entries not yet delivered to the slowest group, summed over the streams
    progress: tuple[str, ...]  # every group's last-delivered id: moves when consumers do
    pressure: float | None = 0.0  # seconds the busiest runner keeps namespaces waiting
    # (:mod:`neurram.bus.pressure`); None: the reports may not be read (ACL)


class Watchdog:
    """How long a progress marker has stood still."""

    def __init__(self) -> None:
        self._marker: Hashable = None
        self._since = math.nan

    def idle(self, marker: Hashable, now: float) -> float:
        """Seconds since ``marker`` last changed (0 at the first look)."""
        if math.isnan(self._since) or marker != self._marker:
            self._marker, self._since = marker, now
        return now - self._since

    def reset(self) -> None:
        """Forget the marker: the next look starts counting again."""
        self._since = math.nan


class Throttle:
    """Backpressure rule: hold while an entry sent now would wait more than ``max_wait``
    seconds to be read, or the oldest waiting one already has, or more than ``max_backlog``
    entries are on their way; stalled when, held back, the consumers made no progress for
    ``stall_seconds``. A producer measures when its credit is spent (:meth:`due`), at most
    every ``check_every`` entries, so an unloaded one pays almost nothing."""

    def __init__(
        self,
        max_wait: float,
        max_backlog: int,
        stall_seconds: float,
        check_every: int = CHECK_EVERY,
    ) -> None:
        self.max_wait = max_wait
        self.max_backlog = max_backlog
        self.stall_seconds = stall_seconds
        self.check_every = check_every
        self.capacity: float | None = None  # entries/s the group reads when it has work
        self._busy: Load | None = None  # the last measurement that found work waiting
        self._credit = 0
        self._sent = 0
        self._watchdog = Watchdog()

    def due(self) -> bool:
        """True when the producer must measure before it sends another entry."""
        return self._sent >= self._credit

    def credit(self) -> int:
        """Entries the producer may still send before it measures again."""
        return max(0, self._credit - self._sent)

    def sent(self, count: int = 1) -> None:
        """Count ``count`` entries sent."""
        self._sent += count

    def window(self) -> int | None:
        """Entries that may wait at once: what the group reads in ``max_wait`` seconds
        (``check_every`` while its speed is unknown; None: no bound)."""
        if math.isinf(self.max_wait):
            return None
        if self.capacity is None:
            return self.check_every
        return max(1, math.floor(self.capacity * self.max_wait))

    def verdict(self, load: Load, now: float) -> Verdict:
        """Whether the producer may go on (with a new credit), must wait and measure again,
        or is stalled; ``now`` is the producer's monotonic clock. A held producer goes on
        once a ``REFILL`` share of the window is free, so it measures once per burst; it takes
        half the free room, leaving the rest to other producers measuring meanwhile, and
        less as the busiest runner's wait nears ``max_wait``: the producers of every
        namespace it serves share it. Held for that wait alone, it is never stalled: its own
        namespace has nothing waiting to make progress on, and the runner's report is fresh,
        so the runner is alive (a dead one's reports stop counting)."""
        self._learn(load)
        window = self.window()
        room = self.check_every if window is None else window - load.lag
        need = 1 if window is None else max(1, min(self.check_every, int(window * REFILL)))
        pressure = load.pressure or 0.0
        own = room >= need and load.age <= self.max_wait and load.backlog <= self.max_backlog
        if own and pressure <= self.max_wait:
            self._watchdog.reset()
            free = 1.0 - pressure / self.max_wait if pressure else 1.0  # max_wait >= pressure
            self._sent, self._credit = 0, max(1, int(min(self.check_every, room // 2) * free))
            return "go"
        if own:  # held for the runners alone: a fresh report says they are at work
            self._watchdog.reset()
        elif self._watchdog.idle(load.progress, now) > self.stall_seconds:
            return "stalled"
        return "wait"

    def _learn(self, load: Load) -> None:
        """Update the capacity from two measurements that both found work waiting."""
        busy = self._busy
        if load.lag == 0 or load.delivered is None:
            self._busy = None
            return
        if busy is None or busy.delivered is None:
            self._busy = load
            return
        if load.at - busy.at < RATE_INTERVAL:
            return
        rate = max(0, load.delivered - busy.delivered) / (load.at - busy.at)
        previous = rate if self.capacity is None else self.capacity
        self.capacity = RATE_WEIGHT * rate + (1 - RATE_WEIGHT) * previous
        self._busy = load


def stream_backlog(groups: list[dict[str, Any]], length: int) -> int:
    """Entries of a stream not yet delivered to its slowest group (all ``length`` of them
    when it has no group, or when a group's lag is unknown)."""
    lags = [g.get("lag") for g in groups]
    if groups and all(lag is not None for lag in lags):
        return max(int(lag) for lag in lags if lag is not None)
    return length


def slowest_delivered(groups: list[dict[str, Any]]) -> int | None:
    """Entries the slowest group was delivered (``entries-read``); None if not known."""
    counts = [g.get("entries-read") for g in groups]
    if not groups or any(c is None for c in counts):
        return None
    return min(int(c) for c in counts if c is not None)


def undelivered_from(groups: list[dict[str, Any]]) -> str | None:
    """The XRANGE start of the oldest entry some group has not been delivered; None when
    every group is up to date."""
    if not groups:
        return "-"
    if all(g.get("lag") == 0 for g in groups):
        return None
    slowest = min((text(g["last-delivered-id"]) for g in groups), key=parse_id)
    return f"({slowest}"


async def measure(
    redis: Redis, entry: str, streams: Sequence[str], runners: Redis | None = None
) -> Load:
    """The :class:`Load` of ``entry`` (where the producer writes) and ``streams`` (every
    stream its work crosses, ``entry`` included), with the pressure runners report on
    ``runners`` (a client of the server of :data:`~neurram.bus.pressure.PRESSURE`; None:
    no runner-wide pressure): two round trips (the first one on each server at once)."""
    pipe = redis.pipeline(transaction=False)
    pipe.time()
    for stream in streams:
        pipe.xinfo_groups(stream)
        pipe.xlen(stream)
    elsewhere = None  # the reports' server, when it is not ``redis``'s
    if runners is not None and runners is not redis:
        elsewhere = runners.pipeline(transaction=False)
    if runners is not None:
        pressure.stage_read(elsewhere or pipe)
    executed = [p.execute(raise_on_error=False) for p in (pipe, elsewhere) if p is not None]
    (seconds, micros), *replies = [r for rs in await asyncio.gather(*executed) for r in rs]
    read: Any = replies.pop() if runners is not None else []
    at = int(seconds) + int(micros) / 1e6
    runner_wait = None if isinstance(read, NoPermissionError) else pressure.busiest(read, at)
    for reply in replies:
        if isinstance(reply, NoPermissionError):  # not "no stream yet": the ACL refused
            raise reply
    groups: dict[str, list[dict[str, Any]]] = {}
    lags: dict[str, int] = {}
    for stream, info, length in zip(streams, replies[::2], replies[1::2], strict=True):
        groups[stream] = [] if isinstance(info, ResponseError) else info  # no stream yet
        lags[stream] = stream_backlog(groups[stream], int(length))
    start = undelivered_from(groups[entry]) if lags[entry] else None
    oldest: Any = [] if start is None else await redis.xrange(entry, min=start, count=1)
    age = max(0.0, at - parse_id(text(oldest[0][0]))[0] / 1000) if oldest else 0.0
    return Load(
        at=at,
        lag=lags[entry],
        delivered=slowest_delivered(groups[entry]),
        age=age,
        backlog=sum(lags.values()),
        progress=tuple(text(g["last-delivered-id"]) for s in streams for g in groups[s]),
        pressure=runner_wait,
    )
