"""SensoryCortex: the raw input buffer; a stimulus not picked up within the TTL expires."""

from __future__ import annotations

import time

from neurram.bus import Delivery
from neurram.bus.messages import Message, Outcome, Stimulus
from neurram.runtime.actor import Actor


class SensoryCortex:
    """Decides whether a buffered stimulus is still fresh."""

    def __init__(self, ttl_seconds: float = 3.0) -> None:
        self.ttl_seconds = ttl_seconds

    def expired(self, stimulus: Stimulus, now: float, redelivered: bool = False) -> bool:
        """True when it waited longer than the TTL; a redelivery after a crash is exempt."""
        return not redelivered and now - stimulus.perceived_at > self.ttl_seconds


class SensoryCortexActor(Actor):
    """Consumes ``sensory``; fresh stimuli go on to ``sensed``, stale ones become outcomes."""

    region = "sensory_cortex"
    consumes = ("sensory",)
    emits = ("sensed", "outcome")

    async def setup(self) -> None:
        self.logic = SensoryCortex(self.settings.sensory_ttl_seconds)

    async def handle(self, batch: list[Delivery[Message]]) -> None:
        now = time.time()
        pipe = self.store.pipeline()
        sensed: list[Message] = []
        for delivery in batch:
            stimulus = delivery.message
            if not isinstance(stimulus, Stimulus):
                continue
            if self.logic.expired(stimulus, now, delivery.redelivered):
                waited = now - stimulus.perceived_at
                outcome = Outcome(
                    request_id=stimulus.stimulus_id,
                    status="expired",
                    detail=f"not attended within {self.logic.ttl_seconds:g} s "
                    f"(waited {waited:.1f} s)",
                )
                self.report(pipe, outcome, stimulus.reply_to)
            else:
                sensed.append(stimulus)
        self.emit_all(pipe, "sensed", sensed)
        await self.commit(pipe, batch)
