"""What the three long-term regions share: the storage rule hook and the consolidation actor."""

from __future__ import annotations

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
        by_id = {m.engram.engram_id: m for m in mine}
        stored = await self.store.update(  # the stored version, as a recall may have changed it
            list(by_id),
            lambda e: self.logic.consolidate(e, by_id[e.engram_id].reward),
            missing={i: m.engram for i, m in by_id.items()},
            logged=False,
        )
        pipe = self.store.pipeline()
        self.store.stage_change(pipe, stored)
        self.store.stage_release(pipe, list(stored))
        self.store.stage_contents(pipe, stored.values())
        for message in mine:
            outcome = Outcome(
                request_id=message.request_id,
                status="stored",
                engram=stored[message.engram.engram_id],
                detail=f"stored in {self.logic.region}",
            )
            self.report(pipe, outcome, message.reply_to)
        await self.commit(pipe, batch)
