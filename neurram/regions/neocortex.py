"""Neocortex: long-term store of episodic and semantic memory."""

from __future__ import annotations

from neurram.regions.long_term import LongTermActor, LongTermRegion


class Neocortex(LongTermRegion):
    """Keeps facts and episodes as they were consolidated."""

    region = "neocortex"


class NeocortexActor(LongTermActor):
    region = "neocortex"

    async def setup(self) -> None:
        self.logic = Neocortex()
