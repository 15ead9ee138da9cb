"""Regions a user could write: one replaces the Amygdala, one is added beside the built-ins."""

from __future__ import annotations

from neurram.bus import Delivery
from neurram.bus.messages import Held, Message, Stimulus
from neurram.regions.amygdala import Amygdala, AmygdalaActor
from neurram.runtime.actor import Actor


class CertainAmygdala(Amygdala):
    """Finds everything maximally salient (stands in for one that asks an LLM)."""

    def salience(self, stimulus: Stimulus) -> float:
        return 1.0


class CertainAmygdalaActor(AmygdalaActor):
    async def setup(self) -> None:
        await super().setup()
        self.logic = CertainAmygdala(self.settings.salience_boost_threshold)


class Auditor(Actor):
    """Records the id of every held engram in a list of its own."""

    consumes = ("held",)

    async def handle(self, batch: list[Delivery[Message]]) -> None:
        ids = [d.message.engram.engram_id for d in batch if isinstance(d.message, Held)]
        if ids:
            await self.ctx.redis.rpush(self.ns.key("audit"), *ids)
