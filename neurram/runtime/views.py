"""What `neurram inspect` and `neurram top` show: gathered from Redis, rendered as text."""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis.asyncio as aioredis

from neurram.bus import FIELD, Namespace
from neurram.bus.bounds import group_backlog
from neurram.bus.messages import MESSAGES, Heartbeat
from neurram.dynamics import compute_retention, time_until_forgotten
from neurram.engram import Engram, Layer
from neurram.runtime import topology
from neurram.runtime.actor import HEARTBEAT_MAXLEN, KEEPALIVE_PERIODS
from neurram.settings import ForgettingLaw, Settings

LAYER_ORDER = {Layer.WORKING: 0, Layer.LONG_TERM: 1, Layer.SENSORY: 2, Layer.SILENT: 3}
CONTENT_WIDTH = 48


def engram_table(
    engrams: list[Engram], working_memory: set[str], now: float, law: ForgettingLaw
) -> str:
    """One line an engram: where it rests (``silent`` ones last), how well it is retained
    under ``law``, what it says."""
    header = f"{'ID':<12} {'LAYER':<10} {'TYPE':<10} {'REGION':<13} {'RETAIN':>6} "
    header += f"{'HOURS':>7} {'RECALLS':>7} {'SAL':>4}  CONTENT"
    lines = [header]
    ranked = sorted(engrams, key=lambda e: (LAYER_ORDER[e.layer], -compute_retention(e, now, law)))
    for e in ranked:
        layer = "held" if e.engram_id in working_memory else e.layer.value
        content = (
            e.content if len(e.content) <= CONTENT_WIDTH else e.content[: CONTENT_WIDTH - 1] + "…"
        )
        lines.append(
            f"{e.engram_id[:12]:<12} {layer:<10} {e.memory_type.value:<10} "
            f"{e.context.get('region', 'hippocampus' if e.layer is Layer.WORKING else '-'):<13} "
            f"{compute_retention(e, now, law):>6.1%} {time_until_forgotten(e, now, law=law):>7.1f} "
            f"{e.access_count:>7} {e.salience:>4.2f}  {content}"
        )
    return "\n".join(lines)


@dataclass
class RegionStatus:
    """One region of a brain as `neurram top` shows it."""

    region: str
    consumers: int
    rate: float  # messages handled per second, over the last two heartbeats
    lag: int  # entries not yet delivered to its group
    pending: int  # delivered, not yet acknowledged
    failed: int
    dead: int


async def region_statuses(redis: aioredis.Redis, settings: Settings) -> list[RegionStatus]:
    """Each region of the topology: live consumers (those that beat within the keepalive
    period: they have the brain loaded), rate, lag, pending, errors."""
    ns = Namespace(settings.brain_id)
    recent: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrevrange(  # type: ignore[assignment]
        ns.key("heartbeat"), count=HEARTBEAT_MAXLEN
    )
    beats: dict[str, list[Heartbeat]] = {}
    for _, fields in recent:
        beat = MESSAGES.decode(fields[FIELD])
        if isinstance(beat, Heartbeat):
            beats.setdefault(beat.consumer, []).append(beat)
    alive_since = time.time() - (KEEPALIVE_PERIODS + 2) * settings.heartbeat_seconds
    statuses = []
    for name, actor in topology.select(settings).items():
        live = [
            b
            for b in beats.values()
            if b[0].region == name and b[0].at >= alive_since and not b[0].stopped
        ]
        backlogs = [await group_backlog(redis, ns.key(s), name) for s in actor.consumes]
        lag = sum(lag for lag, _ in backlogs)
        pending = sum(pending for _, pending in backlogs)
        statuses.append(
            RegionStatus(
                region=name,
                consumers=len(live),
                rate=sum(_rate(b) for b in live),
                lag=lag,
                pending=pending,
                failed=sum(b[0].failed for b in live),
                dead=sum(b[0].dead for b in live),
            )
        )
    return statuses


def region_table(statuses: list[RegionStatus], held: int, capacity: int) -> str:
    lines = [
        f"{'REGION':<18} {'UP':>3} {'MSG/S':>8} {'LAG':>7} {'PENDING':>8} {'FAILED':>7} {'DEAD':>5}"
    ]
    lines += [
        f"{s.region:<18} {s.consumers:>3} {s.rate:>8.1f} {s.lag:>7} {s.pending:>8} "
        f"{s.failed:>7} {s.dead:>5}"
        for s in statuses
    ]
    lines.append(f"working memory {held} / {capacity}")
    return "\n".join(lines)


def _rate(beats: list[Heartbeat]) -> float:
    """Handled per second between a consumer's two latest heartbeats (newest first)."""
    if len(beats) < 2 or beats[0].at <= beats[1].at:
        return 0.0
    return (beats[0].handled - beats[1].handled) / (beats[0].at - beats[1].at)
