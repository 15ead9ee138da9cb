"""What the three long-term regions share: the storage rule hook and the consolidation actor."""

from __future__ import annotations

import time
from typing import ClassVar

from neurram.bus import Delivery
from neurram.bus.messages import Consolidate, Message, Outcome
from neurram.engram import Engram, Layer, MemoryType
from neurram.runtime.actor import Actor

REGION_FOR_TYPE: dict[MemoryType, str] = {
    MemoryType.EPISODIC: "neocortex",
    MemoryType.SEMANTIC: "neocortex",
    MemoryType.PROCEDURAL: "cerebellum",
    MemoryType.HABITUAL: "basal_ganglia",
}


class LongTermRegion:
    """A long-term store; subclasses add their rule in :meth:`shape`."""

    region: ClassVar[str]

    def consolidate(self, engram: Engram, reward: float = 0.0) -> Engram:
        """The engram as this region keeps it (layer LONG_TERM). Already stored: unchanged."""
        if engram.layer is Layer.LONG_TERM:
            return engram
        engram.layer = Layer.LONG_TERM
        engram.context["region"] = self.region
        self.shape(engram, reward)
        return engram

    def shape(self, engram: Engram, reward: float) -> None:
        """The region's own rule applied once at consolidation."""


class LongTermActor(Actor):
    """Consumes ``consolidate`` in its own group and stores the messages addressed to it."""

    consumes = ("consolidate",)
    emits = ("outcome",)
    logic: LongTermRegion

    async def handle(self, batch: list[Delivery[Message]]) -> None:
        mine = [
            d.message
            for d in batch
            if isinstance(d.message, Consolidate) and d.message.region == self.logic.region
        ]
        if not mine:
            return
        current = {
            e.engram_id: e for e in await self.store.get_many([m.engram.engram_id for m in mine])
        }
        stored = [
            self.logic.consolidate(current.get(m.engram.engram_id, m.engram), m.reward)
            for m in mine
        ]
        pipe = self.store.pipeline()
        self.store.stage_save(pipe, stored)
        self.store.stage_release(pipe, [e.engram_id for e in stored])
        for engram in stored:
            self.store.stage_content(pipe, engram)
        for message, engram in zip(mine, stored, strict=True):
            outcome = Outcome(
                request_id=message.request_id,
                status="stored",
                engram=engram,
                detail=f"stored in {self.logic.region} at {time.time():.3f}",
            )
            self.report(pipe, outcome, message.reply_to)
        await pipe.execute()
