"""SleepCycle: while the agent is idle, replay what earned it into long-term memory, let the
rest decay, and silence what fell below the forgetting threshold (synaptic homeostasis).

Sleep never deletes a memory that was kept: a silent engram stays stored, out of the active
index, until a restatement revives it; only ``silent_retention_days``, when set, deletes
engrams silent for longer than that.
"""

from __future__ import annotations

import asyncio
import operator
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

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
from neurram.settings import ForgettingLaw

LOCK_MS = 120_000
KEEP, CONSOLIDATE, DECAY, SILENCE, DELETE = range(5)  # a verdict's action
CONSOLIDATION_BATCH = 500
STRENGTH_STEP = 0.01  # a decay smaller than this is not worth a write
SECONDS_PER_DAY = 86_400.0


@dataclass
class SleepPlan:
    """What one cycle does, decided from a snapshot of the brain: ``prune_wm``/``prune_ltm``
    hold the engrams it silenced (from working memory / elsewhere), ``decayed`` the survivors
    whose strength moved by at least ``STRENGTH_STEP``, ``delete`` the ids of engrams silent
    for longer than the retention."""

    consolidate: list[Engram] = field(default_factory=list)
    prune_wm: list[Engram] = field(default_factory=list)
    prune_ltm: list[Engram] = field(default_factory=list)
    decayed: list[Engram] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)


class Vital(Protocol):
    """What the rules read of an engram: an :class:`Engram`, or its :class:`Vitals`."""

    engram_id: str
    layer: Layer
    salience: float
    access_count: int
    synaptic_strength: float
    stability: float
    last_accessed: float
    context: dict[str, Any]


class Verdicts(NamedTuple):
    """Per engram: its action (``KEEP``, ``CONSOLIDATE``, ...) and its retention now."""

    action: npt.NDArray[np.int8]
    retention: npt.NDArray[np.float64]


_NUMBERS = operator.attrgetter(
    "access_count", "salience", "last_accessed", "stability", "synaptic_strength"
)


def _numbers(engrams: Sequence[Vital]) -> npt.NDArray[np.float64]:
    """The numbers the rules read, one column each (in ``_NUMBERS``' order)."""
    return np.array(list(map(_NUMBERS, engrams)), dtype=np.float64).reshape(-1, 5).T


class SleepCycle:
    """(1) replay: working and hippocampal engrams that qualify move to long-term memory;
    (2) decay working memory, silencing what fell below the threshold;
    (3) decay every other engram and silence those below the threshold.
    Silent engrams are left alone, unless silent for longer than ``silent_retention_days``."""

    def __init__(
        self,
        threshold: float = dynamics.FORGETTING_THRESHOLD,
        min_access_count: int = dynamics.CONSOLIDATION_ACCESS_COUNT,
        min_salience: float = dynamics.CONSOLIDATION_SALIENCE,
        law: ForgettingLaw = dynamics.FORGETTING_LAW,
        silent_retention_days: float | None = None,
    ) -> None:
        self.threshold = threshold
        self.min_access_count = min_access_count
        self.min_salience = min_salience
        self.law = law
        self.silent_retention_days = silent_retention_days

    def plan(self, engrams: list[Engram], working_memory: set[str], now: float) -> SleepPlan:
        plan = SleepPlan()
        verdicts = self.verdicts(engrams, now)
        for engram, action, retention in zip(
            engrams, verdicts.action, verdicts.retention, strict=True
        ):
            if action == DELETE:
                plan.delete.append(engram.engram_id)
            elif action == CONSOLIDATE:
                plan.consolidate.append(engram)
            elif action == DECAY:
                engram.synaptic_strength = float(retention)
                plan.decayed.append(engram)
            elif action == SILENCE:
                engram.synaptic_strength = float(retention)
                dynamics.silence(engram, now)
                (plan.prune_wm if engram.engram_id in working_memory else plan.prune_ltm).append(
                    engram
                )
        return plan

    def verdicts(self, engrams: Sequence[Vital], now: float) -> Verdicts:
        """What the cycle does to each engram, decided for all of them at once."""
        layer = np.array([e.layer for e in engrams], dtype=str)
        silent = layer == Layer.SILENT.value
        access_count, salience, last_accessed, stability, strength = _numbers(engrams)
        qualifies = dynamics.qualifies(
            access_count, salience, self.min_access_count, self.min_salience
        )
        consolidate = ~silent & (layer != Layer.LONG_TERM.value) & qualifies
        retention = dynamics.retention_array(last_accessed, stability, now, self.law)
        active = ~silent & ~consolidate
        silence = active & (retention < self.threshold)
        moved = np.abs(retention - strength) >= STRENGTH_STEP
        action = np.full(len(engrams), KEEP, dtype=np.int8)
        action[silent & self.expired(engrams, now)] = DELETE
        action[consolidate] = CONSOLIDATE
        action[active & ~silence & moved] = DECAY
        action[silence] = SILENCE
        return Verdicts(action, retention)

    def expired(self, engrams: Sequence[Vital], now: float) -> npt.NDArray[np.bool_]:
        """Whether each engram, if silent, has been silent for longer than the retention."""
        if self.silent_retention_days is None:
            return np.zeros(len(engrams), dtype=bool)
        silenced_at = np.array(
            [float(e.context.get("silenced_at", now)) for e in engrams], dtype=np.float64
        )
        return now - silenced_at > self.silent_retention_days * SECONDS_PER_DAY


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
            s.forgetting_threshold,
            s.consolidation_access_count,
            s.consolidation_salience,
            s.forgetting_law,
            s.silent_retention_days,
        )
        self.idle = IdleDetector(s.idle_seconds, s.sleep_interval_seconds, time.time())
        self.lock = asyncio.Lock()

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
        await self.commit(pipe)

    async def tick(self) -> None:
        if not self.idle.due(time.time()):
            return
        enabled = await self.store.autosleep()
        if self.settings.auto_sleep if enabled is None else enabled:
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
        stats = dict.fromkeys(("consolidated", "pruned_wm", "pruned_ltm", "decayed", "deleted"), 0)
        replay: list[Engram] = []  # sent in batches: each batch waits for its answers
        async for vitals in self.store.scan_vitals():
            fresh = [v for v in vitals if v.engram_id not in seen]
            seen.update(v.engram_id for v in fresh)
            verdicts = self.logic.verdicts(fresh, now)
            # only the engrams with something to do are read whole, and judged again as read
            blobs = await self.store.get_blobs(
                [v.engram_id for v, a in zip(fresh, verdicts.action, strict=True) if a != KEEP]
            )
            plan = self.logic.plan([load_engram(b) for b in blobs.values()], working_memory, now)
            replay += plan.consolidate
            if len(replay) >= CONSOLIDATION_BATCH:
                stats["consolidated"] += await self._consolidate(replay)
                replay = []
            # what was recalled or changed since it was read is neither silenced nor overwritten
            silenced = plan.prune_wm + plan.prune_ltm
            written = set(
                await self.store.save_unchanged(
                    [(blobs[e.engram_id], e) for e in silenced + plan.decayed],
                    release=[e.engram_id for e in silenced],
                )
            )
            for key, engrams in (
                ("pruned_wm", plan.prune_wm),
                ("pruned_ltm", plan.prune_ltm),
                ("decayed", plan.decayed),
            ):
                stats[key] += sum(e.engram_id in written for e in engrams)
            stats["deleted"] += len(await self.store.delete(plan.delete, blobs))
        stats["consolidated"] += await self._consolidate(replay)
        self.idle.slept(time.time())
        return stats

    async def _consolidate(self, engrams: list[Engram]) -> int:
        """Send each engram to its long-term region; count the ones stored in time. The
        answers come to an inbox opened for this cycle only (a blocking connection held by
        an idle brain would make a runner's connections grow with its brains)."""
        if not engrams:
            return 0
        inbox: ReplyInbox[Reply] = ReplyInbox(
            self.ctx.redis, self.stream(f"reply:{self.ctx.consumer}"), REPLIES, request_id_of
        )
        await inbox.start()
        try:
            return await self._await_consolidation(inbox, engrams)
        finally:
            await inbox.close()

    async def _await_consolidation(self, inbox: ReplyInbox[Reply], engrams: list[Engram]) -> int:
        requests = {new_id(): e for e in engrams}
        for request_id in requests:
            inbox.expect(request_id)
        pipe = self.store.pipeline()
        for request_id, engram in requests.items():
            self.emit(
                pipe,
                "consolidate",
                Consolidate(
                    request_id=request_id,
                    region=REGION_FOR_TYPE[engram.memory_type],
                    engram=engram,
                    reply_to=inbox.stream,
                ),
            )
        await self.commit(pipe)
        timeout = self.settings.request_timeout_seconds
        answers = await asyncio.gather(
            *(inbox.wait(rid, timeout) for rid in requests), return_exceptions=True
        )
        missing = sum(isinstance(a, BaseException) for a in answers)
        if missing:
            self.log.warning("sleep.consolidation_unanswered", missing=missing)
        return len(answers) - missing
