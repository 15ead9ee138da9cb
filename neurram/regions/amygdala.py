"""Amygdala: tags emotional weight (salience) and encodes the stimulus into an engram."""

from __future__ import annotations

import time

from neurram.bus import Delivery
from neurram.bus.messages import Attended, Consolidate, Message, Stimulus, Tagged
from neurram.engram import Engram, Layer, Vector
from neurram.regions.basal_ganglia import BasalGanglia
from neurram.runtime.actor import Actor
from neurram.salience import salience_score


class Amygdala:
    """Salience: the caller's value, else the text heuristic; salient memories start stabler
    (the norepinephrine effect)."""

    def __init__(self, boost_threshold: float = 0.75, boost: float = 2.0) -> None:
        self.boost_threshold = boost_threshold
        self.boost = boost

    def salience(self, stimulus: Stimulus) -> float:
        return (
            stimulus.salience if stimulus.salience is not None else salience_score(stimulus.content)
        )

    def encode(self, stimulus: Stimulus, embedding: Vector, now: float) -> Engram:
        """The engram of ``stimulus``; its id is the stimulus id, so redelivery is idempotent."""
        salience = self.salience(stimulus)
        context = {**stimulus.context, "modality": stimulus.modality}
        if stimulus.reward:
            context["reward"] = stimulus.reward
        return Engram(
            engram_id=stimulus.stimulus_id,
            content=stimulus.content,
            memory_type=stimulus.memory_type,
            salience=salience,
            embedding=embedding,
            stability=self.boost if salience >= self.boost_threshold else 1.0,
            encoded_at=now,
            last_accessed=now,
            context=context,
            layer=Layer.SENSORY,
        )


class AmygdalaActor(Actor):
    """Consumes ``attended``; embeds the whole batch in one encoder call; emits ``tagged``, or
    ``consolidate`` straight to the BasalGanglia for a rewarding stimulus (dopamine shortcut)."""

    region = "amygdala"
    consumes = ("attended",)
    emits = ("tagged", "consolidate")

    async def setup(self) -> None:
        s = self.settings
        self.logic = Amygdala(s.salience_boost_threshold, s.salience_stability_boost)
        self.shortcut = BasalGanglia(s.reward_shortcut)
        await self.load_encoder()

    async def handle(self, batch: list[Delivery[Message]]) -> None:
        stimuli = [d.message.stimulus for d in batch if isinstance(d.message, Attended)]
        if not stimuli:
            return
        vectors = await self.embed([s.content for s in stimuli])
        now = time.time()
        pipe = self.store.pipeline()
        for stimulus, vector in zip(stimuli, vectors, strict=True):
            engram = self.logic.encode(stimulus, vector, now)
            if self.shortcut.takes_shortcut(stimulus.reward):
                self.emit(
                    pipe,
                    "consolidate",
                    Consolidate(
                        request_id=stimulus.stimulus_id,
                        region=BasalGanglia.region,
                        engram=engram,
                        reward=stimulus.reward,
                        reply_to=stimulus.reply_to,
                    ),
                )
            else:
                self.emit(pipe, "tagged", Tagged(engram=engram, reply_to=stimulus.reply_to))
        await pipe.execute()
