"""Amygdala: tags emotional weight (salience) and encodes the stimulus into an engram."""

from __future__ import annotations

import time

from neurram import dynamics
from neurram.bus import Delivery
from neurram.bus.messages import Attended, Consolidate, Message, Stimulus, Tagged
from neurram.engram import Engram, Layer, Vector
from neurram.fragments import FRAGMENT_ABOVE_WORDS, attach_embeddings, texts_to_embed
from neurram.regions.basal_ganglia import BasalGanglia
from neurram.regions.thalamus import stimulus_salience
from neurram.runtime.actor import Actor


class Amygdala:
    """Salience: the caller's value, else the text heuristic. A new engram starts with one
    ``unit`` of stability (hours), salient ones with ``boost`` units (the norepinephrine
    effect)."""

    def __init__(
        self,
        boost_threshold: float = 0.75,
        boost: float = 2.0,
        fragment_above_words: int = FRAGMENT_ABOVE_WORDS,
        unit: float = dynamics.STABILITY_UNIT,
    ) -> None:
        self.boost_threshold = boost_threshold
        self.boost = boost
        self.fragment_above_words = fragment_above_words
        self.unit = unit

    def texts(self, stimulus: Stimulus) -> list[str]:
        """What to embed: the content, then each of its fragments (long content only)."""
        return texts_to_embed(stimulus.content, self.fragment_above_words)

    def salience(self, stimulus: Stimulus) -> float:
        return stimulus_salience(stimulus)

    def encode(
        self, stimulus: Stimulus, embeddings: Vector, now: float, salience: float | None = None
    ) -> Engram:
        """The engram of ``stimulus`` from the embeddings of its :meth:`texts` (one row each);
        its id is the stimulus id, so redelivery is idempotent. A remembered past event has
        aged since it happened: it was last accessed when it occurred. ``salience``: what
        the Thalamus scored, which spares scoring the text again, unless the stimulus now has
        a salience of its own or :meth:`salience` is overridden (a replaced Amygdala may set
        the one or score its own way)."""
        if (
            salience is None
            or stimulus.salience is not None
            or type(self).salience is not Amygdala.salience
        ):
            salience = self.salience(stimulus)
        context = {**stimulus.context, "modality": stimulus.modality}
        if stimulus.reward:
            context["reward"] = stimulus.reward
        engram = Engram(
            engram_id=stimulus.stimulus_id,
            content=stimulus.content,
            memory_type=stimulus.memory_type,
            salience=salience,
            stability=self.unit * (self.boost if salience >= self.boost_threshold else 1.0),
            encoded_at=now,
            last_accessed=now if stimulus.occurred_at is None else stimulus.occurred_at,
            occurred_at=stimulus.perceived_at
            if stimulus.occurred_at is None
            else stimulus.occurred_at,
            context=context,
            layer=Layer.SENSORY,
        )
        attach_embeddings(engram, embeddings)
        return engram


class AmygdalaActor(Actor):
    """Consumes ``attended``; embeds the whole batch in one encoder call; emits ``tagged``, or
    ``consolidate`` straight to the BasalGanglia for a rewarding stimulus (dopamine shortcut)."""

    region = "amygdala"
    consumes = ("attended",)
    emits = ("tagged", "consolidate")

    async def setup(self) -> None:
        s = self.settings
        self.logic = Amygdala(
            s.salience_boost_threshold,
            s.salience_stability_boost,
            s.fragment_above_words,
            s.stability_unit_hours,
        )
        self.shortcut = BasalGanglia(s.reward_shortcut)
        await self.load_encoder()

    async def handle(self, batch: list[Delivery[Message]]) -> None:
        attended = [d.message for d in batch if isinstance(d.message, Attended)]
        if not attended:
            return
        stimuli = [a.stimulus for a in attended]
        texts = [self.logic.texts(s) for s in stimuli]
        vectors = await self.embed([text for group in texts for text in group])
        now = time.time()
        out: dict[str, list[Message]] = {"tagged": [], "consolidate": []}
        start = 0
        for order, (scored, group) in enumerate(zip(attended, texts, strict=True)):
            stimulus = scored.stimulus
            encoded_at = now + order * 1e-6  # perception order, also within a batch
            embeddings = vectors[start : start + len(group)]
            engram = self.logic.encode(stimulus, embeddings, encoded_at, scored.salience)
            start += len(group)
            if self.shortcut.takes_shortcut(stimulus.reward):
                shortcut = Consolidate(
                    request_id=stimulus.stimulus_id,
                    region=BasalGanglia.region,
                    engram=engram,
                    reward=stimulus.reward,
                    reply_to=stimulus.reply_to,
                )
                out["consolidate"].append(shortcut)
            else:
                out["tagged"].append(Tagged(engram=engram, reply_to=stimulus.reply_to))
        pipe = self.store.pipeline()
        for stream, messages in out.items():
            self.emit_all(pipe, stream, messages)
        await self.commit(pipe, batch)
