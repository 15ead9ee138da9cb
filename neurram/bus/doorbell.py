"""The doorbell: how a runner serving many namespaces learns which have work.

Whoever adds a message to a namespace's stream also rings: it appends ``(namespace,
stream)`` to one shared stream, :data:`DOORBELL`. A runner reads the doorbell with a single
blocking XREAD (every runner sees every ring) and then reads the named stream through its
consumer group without blocking. So a runner holds one blocking connection whatever the
number of namespaces, and each namespace's messages stay in its own streams, under its
hash tag: one namespace's commit stays one transaction on one shard.

A ring is a hint, never the message: a ring lost (a crash between the commit and the
ring, or the doorbell trimmed while a runner was away) only delays the work until a
runner's sweep, which visits every namespace of :data:`REGISTRY`. Clients add their
namespace there when they connect.

Both keys share the hash tag ``{neurram}``, outside every namespace's ``neurram:{...}:``
prefix, so a namespace's ACL pattern never covers them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from neurram.bus.blocking import InterruptibleConnection
from neurram.bus.entries import read_entries, text
from neurram.bus.keys import Namespace
from neurram.bus.lanes import HandOff, execute_handing_off
from neurram.bus.publish import stage

DOORBELL = "{neurram}:doorbell"
REGISTRY = "{neurram}:brains"
DOORBELL_MAXLEN = 100_000  # rings kept for a runner that falls behind; older ones are swept
SCAN_COUNT = 1000


class Ring(NamedTuple):
    """A message was added to ``stream`` of namespace ``namespace``."""

    namespace: str
    stream: str


def stage_rings(pipe: Pipeline, rings: Iterable[Ring]) -> None:
    """Queue one ring per ``rings`` on ``pipe`` (which must reach the doorbell's node)."""
    for ring in rings:
        pipe.xadd(
            DOORBELL,
            {"ns": ring.namespace, "stream": ring.stream},
            maxlen=DOORBELL_MAXLEN,
            approximate=True,
        )


async def register(doorbell: Redis, namespace: Namespace) -> None:
    """Register ``namespace``, so runners serve it and their sweeps visit it."""
    await doorbell.sadd(REGISTRY, namespace.name)


async def deliver(
    redis: Redis,
    doorbell: Redis,
    namespace: Namespace,
    stream: str,
    *payloads: bytes,
    ring: bool = True,
    hand_offs: Sequence[HandOff] = (),
) -> None:
    """Append ``payloads`` in order to ``stream`` of ``namespace`` and ring once: one round
    trip when the doorbell lives on the same server (``doorbell is redis``), else two, the
    ring after the entries. ``ring=False``: the caller wakes the consumers itself;
    ``hand_offs``: idle consumers in this process whose next batch is read with the
    entries (see :class:`~neurram.bus.lanes.HandOff`)."""
    pipe = redis.pipeline(transaction=False)
    for payload in payloads:
        stage(pipe, namespace.key(stream), payload)
    rings = [Ring(namespace.name, stream)] if ring else []
    if doorbell is redis:
        stage_rings(pipe, rings)
        rings = []
    await execute_handing_off(pipe, hand_offs)
    if rings:
        ringing = doorbell.pipeline(transaction=False)
        stage_rings(ringing, rings)
        await ringing.execute()


async def registered(redis: Redis) -> set[str]:
    """Every namespace registered so far."""
    return {text(name) async for name in redis.sscan_iter(REGISTRY, count=SCAN_COUNT)}


class Listener:
    """Reads the rings added after it started, on one dedicated connection of ``redis``."""

    def __init__(self, redis: Redis, block_ms: int, count: int = 1000) -> None:
        self._redis = redis
        self._blocking: InterruptibleConnection | None = None
        self._block_ms = block_ms
        self._count = count
        self._last_id: str | None = None

    async def start(self) -> None:
        """Listen from the latest ring on (what came before is the sweep's); after a restart
        (a lost connection), from the last ring read."""
        if self._last_id is None:
            latest: Any = await self._redis.xrevrange(DOORBELL, count=1)
            self._last_id = text(latest[0][0]) if latest else "0-0"
        self._blocking = InterruptibleConnection(self._redis)

    async def next(self, stop: asyncio.Event) -> list[Ring]:
        """The next rings (none when ``block_ms`` passed or ``stop`` was set)."""
        assert self._blocking is not None, "start() first"
        after = self._last_id or "$"
        reply: Any = await self._blocking.read(
            lambda client: client.xread({DOORBELL: after}, count=self._count, block=self._block_ms),
            stop,
        )
        entries = read_entries(reply)
        if entries:
            self._last_id = entries[-1].entry_id
        return [
            Ring(text(e.fields.get(b"ns", b"")), text(e.fields.get(b"stream", b"")))
            for e in entries
        ]

    async def aclose(self) -> None:
        """Return the connection; :meth:`start` takes another and reads on."""
        if self._blocking is not None:
            await self._blocking.aclose()
            self._blocking = None
