"""Runner pressure: how long a runner's woken namespaces wait for their turn, for every
producer's backpressure.

A runner serving many namespaces serves each one's streams in turn. A producer that
measures only its own namespace (:func:`~neurram.bus.flow.measure`) cannot see that fifty
others are queued ahead of it: each of them would take its full credit at once, and the
runner would read the last entries too late, or, past its entry stream, keep them waiting
for its model for tens of seconds. So, while namespaces wait for any lane a produced entry
goes through (:data:`FLOOR` or more), a runner appends its longest such wait to one shared
stream,
:data:`PRESSURE`, every :data:`REPORT_EVERY` seconds, and once more when the wait is over
(a wait of 0). A producer reads the newest reports beside its own streams and counts each
runner's latest one that is at most :data:`FRESH` seconds old (an entry id is its server
time): a runner that stopped reporting (it died) stops counting soon.

The stream shares the hash tag ``{neurram}`` of the doorbell. :func:`busiest` is pure.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from neurram.bus.bounds import parse_id
from neurram.bus.entries import text

PRESSURE = "{neurram}:pressure"
PRESSURE_MAXLEN = 1000
FLOOR = 0.05  # seconds: a shorter wait is reported as none (not worth a write)
REPORT_EVERY = 0.25  # seconds between two reports of a runner while namespaces wait
FRESH = 5.0  # seconds a report counts for: a runner's loop pauses far less (it reports
# while it serves), and a producer held by a runner that died waits this long at most
READ_COUNT = 64  # newest reports a producer reads: each busy runner reports once per
# REPORT_EVERY, so the latest of each is among them while at most 64 report at once


async def report(redis: Redis, runner: str, wait: float) -> None:
    """Report that namespaces woken for ``runner`` wait ``wait`` seconds (``redis``: a
    client of the server of :data:`PRESSURE`)."""
    await redis.xadd(
        PRESSURE,
        {"runner": runner, "wait": f"{wait:.3f}"},
        maxlen=PRESSURE_MAXLEN,
        approximate=True,
    )


def stage_read(pipe: Pipeline) -> None:
    """Queue the read of the newest reports (for :func:`busiest`)."""
    pipe.xrevrange(PRESSURE, count=READ_COUNT)


def busiest(reply: Any, at: float) -> float:
    """The longest wait among the runners' latest reports in ``reply`` (an XREVRANGE of
    :data:`PRESSURE`, newest first) that are at most :data:`FRESH` seconds older than the
    server time ``at``; 0 when none is."""
    latest: dict[bytes, float] = {}
    for entry_id, fields in reply or ():
        if at - parse_id(text(entry_id))[0] / 1000 > FRESH:
            break  # newest first: the rest are older still
        latest.setdefault(fields.get(b"runner", b""), float(fields.get(b"wait", b"0")))
    return max(latest.values(), default=0.0)
