"""PrefrontalCortex: working memory, a few slots with LRU eviction (7 +/- 2)."""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Collection, Iterable

from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from neurram import dynamics
from neurram.bus import Delivery
from neurram.bus.messages import Consolidate, Held, Message, Tagged
from neurram.engram import Engram, Layer, load_engram, new_id
from neurram.regions.long_term import REGION_FOR_TYPE
from neurram.runtime.actor import Actor
from neurram.runtime.store import CAS_ATTEMPTS, Holding, StoreConflictError, content_key


def keep_in_mind(engram: Engram, now: float) -> None:
    """Rehearsal: the engram is fresh again and in working memory."""
    engram.last_accessed = now
    if engram.layer is Layer.SENSORY:
        engram.layer = Layer.WORKING


class PrefrontalCortex:
    """Holds at most ``capacity`` engrams; holding one already held is rehearsal."""

    def __init__(self, capacity: int = 7, held: Iterable[Engram] = ()) -> None:
        self.capacity = capacity
        self._slots: OrderedDict[str, Engram] = OrderedDict((e.engram_id, e) for e in held)

    @property
    def held(self) -> list[Engram]:
        """Held engrams, least recently used first."""
        return list(self._slots.values())

    def __contains__(self, engram_id: object) -> bool:
        return engram_id in self._slots

    def __len__(self) -> int:
        return len(self._slots)

    def hold(self, engram: Engram, now: float | None = None) -> Engram | None:
        """Hold ``engram`` as the most recent; returns the engram displaced, if any."""
        now = time.time() if now is None else now
        if engram.engram_id in self._slots:
            keep_in_mind(engram, now)
            self._slots[engram.engram_id] = engram
            self._slots.move_to_end(engram.engram_id)
            return None
        if engram.layer is Layer.SENSORY:
            engram.layer = Layer.WORKING
        self._slots[engram.engram_id] = engram
        if len(self._slots) > self.capacity:
            return self._slots.popitem(last=False)[1]
        return None

    def release(self, engram_id: str) -> Engram | None:
        return self._slots.pop(engram_id, None)


class PrefrontalCortexActor(Actor):
    """Consumes ``tagged``; stores each engram, updates the slots, emits ``held``, and sends a
    displaced engram that already qualifies to ``consolidate`` (opportunistic consolidation).

    A restatement (same type, same normalised content) rehearses and potentiates the engram it
    restates instead of storing a duplicate, and revives it if it was silent (with one more
    unit of stability: savings); a redelivered engram is simply held again.
    """

    region = "prefrontal_cortex"
    consumes = ("tagged",)
    emits = ("held", "consolidate")

    async def handle(self, batch: list[Delivery[Message]]) -> None:
        tagged = [d.message for d in batch if isinstance(d.message, Tagged)]
        if not tagged:
            return
        now = time.time()
        async with self.store.redis.pipeline(transaction=True) as pipe:
            # the slots watched from before they are read (in the read's round trip): the
            # commit fails if another PrefrontalCortex instance changes them meanwhile
            holding = await self.store.read_holding([t.engram for t in tagged], watching=pipe)
            known = self._known(holding)
            held_ids: list[str] = []  # the engram each message ends up holding
            inserts: dict[str, Engram] = {}
            restated: Counter[str] = Counter()
            for message in tagged:
                new = message.engram
                key = content_key(new.memory_type, new.content)
                engram = known.get(new.engram_id) or known.get(key)
                if engram is None:
                    engram = known[key] = inserts[new.engram_id] = new
                elif engram.engram_id != new.engram_id:
                    restated[engram.engram_id] += 1
                held_ids.append(engram.engram_id)

            unit = self.settings.stability_unit_hours

            def hold(engram: Engram) -> None:
                if engram.engram_id in inserts and not restated[engram.engram_id]:
                    # new: it ages from when it occurred
                    engram.layer = Layer.WORKING
                    return
                dynamics.revive(engram, savings=unit)  # a silent engram restated: relearning
                for _ in range(restated[engram.engram_id]):
                    dynamics.potentiate(engram, now, unit=unit)
                keep_in_mind(engram, now)

            engrams = await self.store.update(
                held_ids, hold, inserts, read=holding.stored, logged=False
            )
            held = [engrams[i] for i in held_ids]
            await self._fill_slots(pipe, batch, tagged, engrams, held, inserts, holding, now)

    async def _fill_slots(
        self,
        pipe: Pipeline,
        batch: list[Delivery[Message]],
        tagged: list[Tagged],
        written: Collection[str],
        held: list[Engram],
        inserts: dict[str, Engram],
        holding: Holding,
        now: float,
    ) -> None:
        """Update the slots, log the engrams ``written``, emit and acknowledge ``batch``, in
        one transaction on ``pipe``, which watches the slots; redone, the slots read again,
        if another PrefrontalCortex instance changed them meanwhile."""
        working = holding.working
        for attempt in range(CAS_ATTEMPTS):
            if attempt:
                working = await self.store.working_memory(watching=pipe)
            pfc = PrefrontalCortex(self.settings.working_memory_capacity, working)
            displaced = [out for engram in held if (out := pfc.hold(engram, now))]
            pipe.multi()  # type: ignore[no-untyped-call]
            self.store.stage_change(pipe, written)
            self.store.stage_contents(  # new, or a redelivery whose write a crash left
                pipe,  # without its commit
                [e for m, e in zip(tagged, held, strict=True) if e.engram_id == m.engram.engram_id],
            )
            self.store.stage_working_memory(pipe, [e.engram_id for e in pfc.held], now)
            holds: list[Message] = [
                Held(
                    request_id=message.engram.engram_id,
                    engram=engram,
                    reply_to=message.reply_to,
                    rehearsal=engram.engram_id not in inserts,
                )
                for message, engram in zip(tagged, held, strict=True)
            ]
            self.emit_all(pipe, "held", holds)
            consolidated: list[Message] = [
                Consolidate(
                    request_id=new_id(), region=REGION_FOR_TYPE[engram.memory_type], engram=engram
                )
                for engram in displaced
                if engram.engram_id not in pfc and self._qualifies(engram)
            ]
            self.emit_all(pipe, "consolidate", consolidated)
            try:
                await self.commit(pipe, batch)
                return
            except WatchError:
                continue
        raise StoreConflictError(f"working memory kept changing under {CAS_ATTEMPTS} writes")

    @staticmethod
    def _known(holding: Holding) -> dict[str, Engram]:
        """Stored engrams the messages repeat, by engram id and by content key."""
        found = [load_engram(blob) for blob in holding.stored.values() if blob]
        known = {e.engram_id: e for e in found}
        known.update({content_key(e.memory_type, e.content): e for e in found})
        return known

    def _qualifies(self, engram: Engram) -> bool:
        s = self.settings
        return dynamics.qualifies_for_consolidation(
            engram, s.consolidation_access_count, s.consolidation_salience
        )
