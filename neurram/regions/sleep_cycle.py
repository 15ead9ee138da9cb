"""SleepCycle: while the agent is idle, replay what earned it into long-term memory, let the
rest decay, and prune what fell below the forgetting threshold (synaptic homeostasis)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from neurram import dynamics
from neurram.bus import Delivery, ReplyInbox
from neurram.bus.messages import (
    REPLIES,
    Consolidate,
    Heartbeat,
    Message,
    Reply,
    SleepReply,
    SleepRequest,
    request_id_of,
)
from neurram.engram import Engram, Layer, load_engram, new_id
from neurram.regions.long_term import REGION_FOR_TYPE
from neurram.runtime.actor import Actor

LOCK_MS = 120_000
STRENGTH_STEP = 0.01  # a decay smaller than this is not worth a write


@dataclass
class SleepPlan:
    """What one cycle does, decided from a snapshot of the brain; ``decayed`` holds the
    survivors whose strength moved by at least ``STRENGTH_STEP``."""

    consolidate: list[Engram] = field(default_factory=list)
    prune_wm: list[str] = field(default_factory=list)
    prune_ltm: list[str] = field(default_factory=list)
    decayed: list[Engram] = field(default_factory=list)


class SleepCycle:
    """(1) replay: working and hippocampal engrams that qualify move to long-term memory;
    (2) decay working memory, dropping what fell below the threshold;
    (3) decay every other engram and delete those below the threshold."""

    def __init__(
        self,
        threshold: float = dynamics.FORGETTING_THRESHOLD,
        min_access_count: int = dynamics.CONSOLIDATION_ACCESS_COUNT,
        min_salience: float = dynamics.CONSOLIDATION_SALIENCE,
    ) -> None:
        self.threshold = threshold
        self.min_access_count = min_access_count
        self.min_salience = min_salience

    def plan(self, engrams: list[Engram], working_memory: set[str], now: float) -> SleepPlan:
        plan = SleepPlan()
        for engram in engrams:
            if engram.layer is not Layer.LONG_TERM and dynamics.qualifies_for_consolidation(
                engram, self.min_access_count, self.min_salience
            ):
                plan.consolidate.append(engram)
                continue
            before = engram.synaptic_strength
            if dynamics.decay(engram, now) >= self.threshold:
                if abs(engram.synaptic_strength - before) >= STRENGTH_STEP:
                    plan.decayed.append(engram)
            elif engram.engram_id in working_memory:
                plan.prune_wm.append(engram.engram_id)
            else:
                plan.prune_ltm.append(engram.engram_id)
        return plan


class IdleDetector:
    """Due when the brain has been idle ``idle_seconds`` after some activity, or every
    ``interval_seconds`` while activity goes on."""

    def __init__(self, idle_seconds: float, interval_seconds: float, now: float) -> None:
        self.idle_seconds = idle_seconds
        self.interval_seconds = interval_seconds
        self.last_activity = now
        self.last_sleep = now
        self._handled: dict[str, int] = {}

    def observe(self, consumer: str, handled: int, now: float) -> None:
        """A heartbeat: activity when the consumer's handled count grew."""
        if handled > self._handled.get(consumer, 0):
            self.last_activity = now
        self._handled[consumer] = handled

    def due(self, now: float) -> bool:
        if self.last_activity <= self.last_sleep:
            return False
        idle = now - self.last_activity >= self.idle_seconds
        return idle or now - self.last_sleep >= self.interval_seconds

    def slept(self, now: float) -> None:
        self.last_sleep = now


class SleepCycleActor(Actor):
    """Consumes ``sleep`` (cycles asked for by clients) and ``heartbeat`` (idle detection);
    consolidation goes through the long-term regions, whose answers it awaits."""

    region = "sleep_cycle"
    consumes = ("sleep", "heartbeat")
    emits = ("consolidate",)

    async def setup(self) -> None:
        s = self.settings
        self.logic = SleepCycle(
            s.forgetting_threshold, s.consolidation_access_count, s.consolidation_salience
        )
        self.idle = IdleDetector(s.idle_seconds, s.sleep_interval_seconds, time.time())
        self.tick_seconds = min(1.0, s.heartbeat_seconds)
        self.inbox: ReplyInbox[Reply] = ReplyInbox(
            self.ctx.redis, self.stream(f"reply:{self.ctx.consumer}"), REPLIES, request_id_of
        )
        await self.inbox.start()
        self.lock = asyncio.Lock()

    async def teardown(self) -> None:
        await self.inbox.close()

    async def handle(self, batch: list[Delivery[Message]]) -> None:
        now = time.time()
        for delivery in batch:
            message = delivery.message
            if isinstance(message, Heartbeat) and message.region != self.ctx.name:
                self.idle.observe(message.consumer, message.handled, now)
            elif isinstance(message, SleepRequest):
                await self._answer(message)

    async def _answer(self, request: SleepRequest) -> None:
        """Run a cycle for a client; a failure is answered (the client may ask again)."""
        try:
            reply = SleepReply(request_id=request.request_id, stats=await self.cycle())
        except Exception as exc:
            self.log.exception("sleep.failed", error=repr(exc))
            reply = SleepReply(request_id=request.request_id, error=repr(exc))
        pipe = self.store.pipeline()
        self.reply(pipe, request.reply_to, reply)
        await pipe.execute()

    async def tick(self) -> None:
        enabled = await self.store.autosleep()
        if (self.settings.auto_sleep if enabled is None else enabled) and self.idle.due(
            time.time()
        ):
            stats = await self.cycle()
            self.log.info("sleep.cycle", trigger="idle", **stats)

    async def cycle(self) -> dict[str, int]:
        """One sleep cycle over the whole brain; one at a time across all instances."""
        lock_key = self.ns.key("sleeplock")
        async with self.lock:
            while not await self.ctx.redis.set(lock_key, self.ctx.consumer, nx=True, px=LOCK_MS):  # noqa: ASYNC110
                # another instance is sleeping: poll its lock (it expires if that one died)
                await asyncio.sleep(0.05)
            try:
                return await self._cycle()
            finally:
                await self.ctx.redis.delete(lock_key)

    async def _cycle(self) -> dict[str, int]:
        """Chunk by chunk, so memory stays bounded whatever the size of the brain."""
        now = time.time()
        working_memory = set(await self.store.working_memory_ids())
        seen: set[str] = set()
        stats = dict.fromkeys(("consolidated", "pruned_wm", "pruned_ltm", "decayed"), 0)
        async for blobs in self.store.scan_blobs():
            fresh = {i: b for i, b in blobs.items() if i not in seen}
            seen.update(fresh)
            engrams = [load_engram(b) for b in fresh.values()]
            plan = self.logic.plan(engrams, working_memory, now)
            stats["consolidated"] += await self._consolidate(plan.consolidate)
            # what was recalled or changed while we planned is neither pruned nor overwritten
            pruned = set(await self.store.delete(plan.prune_wm + plan.prune_ltm, fresh))
            stats["pruned_wm"] += len(pruned.intersection(plan.prune_wm))
            stats["pruned_ltm"] += len(pruned.intersection(plan.prune_ltm))
            decayed = await self.store.save_unchanged(
                [(fresh[e.engram_id], e) for e in plan.decayed]
            )
            stats["decayed"] += len(decayed)
        self.idle.slept(time.time())
        return stats

    async def _consolidate(self, engrams: list[Engram]) -> int:
        """Send each engram to its long-term region; count the ones stored in time."""
        if not engrams:
            return 0
        requests = {new_id(): e for e in engrams}
        for request_id in requests:
            self.inbox.expect(request_id)
        pipe = self.store.pipeline()
        for request_id, engram in requests.items():
            self.emit(
                pipe,
                "consolidate",
                Consolidate(
                    request_id=request_id,
                    region=REGION_FOR_TYPE[engram.memory_type],
                    engram=engram,
                    reply_to=self.inbox.stream,
                ),
            )
        await pipe.execute()
        timeout = self.settings.request_timeout_seconds
        answers = await asyncio.gather(
            *(self.inbox.wait(rid, timeout) for rid in requests), return_exceptions=True
        )
        missing = sum(isinstance(a, BaseException) for a in answers)
        if missing:
            self.log.warning("sleep.consolidation_unanswered", missing=missing)
        return len(answers) - missing
