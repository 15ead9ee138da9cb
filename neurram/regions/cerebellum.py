"""Cerebellum: long-term store of procedural memory; skills are hard to unlearn."""

from __future__ import annotations

from neurram.engram import Engram
from neurram.regions.long_term import LongTermActor, LongTermRegion


class Cerebellum(LongTermRegion):
    """Stored stability is at least ``min_stability`` hours."""

    region = "cerebellum"

    def __init__(self, min_stability: float = 5.0) -> None:
        self.min_stability = min_stability

    def shape(self, engram: Engram, reward: float) -> None:
        engram.stability = max(engram.stability, self.min_stability)


class CerebellumActor(LongTermActor):
    region = "cerebellum"

    async def setup(self) -> None:
        self.logic = Cerebellum(self.settings.procedural_min_stability)
