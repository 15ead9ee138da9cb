"""Cerebellum: long-term store of procedural memory; skills are hard to unlearn."""

from __future__ import annotations

from neurram import dynamics
from neurram.engram import Engram
from neurram.regions.long_term import LongTermActor, LongTermRegion


class Cerebellum(LongTermRegion):
    """Stored stability is at least ``min_stability`` units of ``unit`` hours."""

    region = "cerebellum"

    def __init__(self, min_stability: float = 5.0, unit: float = dynamics.STABILITY_UNIT) -> None:
        self.min_stability = min_stability * unit

    def shape(self, engram: Engram, reward: float) -> None:
        engram.stability = max(engram.stability, self.min_stability)


class CerebellumActor(LongTermActor):
    region = "cerebellum"

    async def setup(self) -> None:
        s = self.settings
        self.logic = Cerebellum(s.procedural_min_stability, s.stability_unit_hours)
