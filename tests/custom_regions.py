"""Regions a user could write: one replaces the Amygdala, one is added beside the built-ins;
and a slow SensoryCortex, for backpressure tests."""

from __future__ import annotations

import asyncio

from neurram.bus import Delivery
from neurram.bus.messages import Held, Message, Stimulus
from neurram.regions.amygdala import Amygdala, AmygdalaActor
from neurram.regions.sensory_cortex import SensoryCortexActor
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


class SlowSensoryCortex(SensoryCortexActor):
    """Attends to 250 stimuli a second at most: far slower than a client can perceive."""

    seconds_per_stimulus = 0.004

    async def handle(self, batch: list[Delivery[Message]]) -> None:
        await super().handle(batch)  # attends at once, as the SensoryCortex does
        await asyncio.sleep(self.seconds_per_stimulus * len(batch))  # but reads on slowly
