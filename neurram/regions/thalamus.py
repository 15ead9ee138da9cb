"""Thalamus: the attention gate; low-relevance input never reaches working memory."""

from __future__ import annotations

from neurram.bus import Delivery
from neurram.bus.messages import Attended, Message, Outcome, Stimulus
from neurram.runtime.actor import Actor
from neurram.salience import salience_score, word_overlap


def stimulus_salience(stimulus: Stimulus) -> float:
    """The caller's salience, else the text heuristic's."""
    return stimulus.salience if stimulus.salience is not None else salience_score(stimulus.content)


class Thalamus:
    """relevance = content salience (the caller's, else the heuristic)
    + up to ``hint_weight`` x word overlap with the context hint."""

    def __init__(self, threshold: float = 0.2, hint_weight: float = 0.3) -> None:
        self.threshold = threshold
        self.hint_weight = hint_weight

    def relevance(self, stimulus: Stimulus, salience: float | None = None) -> float:
        """``salience``: the stimulus's, when scored already."""
        base = stimulus_salience(stimulus) if salience is None else salience
        overlap = word_overlap(stimulus.content, stimulus.context_hint or "")
        return base + self.hint_weight * overlap

    def attend(self, stimulus: Stimulus) -> Attended | None:
        """The stimulus with its relevance and salience, or None when it is filtered out."""
        salience = stimulus_salience(stimulus)
        relevance = self.relevance(stimulus, salience)
        return (
            Attended(stimulus=stimulus, relevance=relevance, salience=salience)
            if relevance >= self.threshold
            else None
        )


class ThalamusActor(Actor):
    """Consumes ``sensed``; attended stimuli go to ``attended``, the rest become outcomes."""

    region = "thalamus"
    consumes = ("sensed",)
    emits = ("attended", "outcome")

    async def setup(self) -> None:
        self.logic = Thalamus(self.settings.attention_threshold, self.settings.context_hint_weight)

    async def handle(self, batch: list[Delivery[Message]]) -> None:
        pipe = self.store.pipeline()
        passed: list[Message] = []
        for delivery in batch:
            stimulus = delivery.message
            if not isinstance(stimulus, Stimulus):
                continue
            attended = self.logic.attend(stimulus)
            if attended is not None:
                passed.append(attended)
                continue
            outcome = Outcome(
                request_id=stimulus.stimulus_id,
                status="gated",
                detail=f"relevance {self.logic.relevance(stimulus):.2f} below "
                f"attention threshold {self.logic.threshold:g}",
            )
            self.report(pipe, outcome, stimulus.reply_to)
        self.emit_all(pipe, "attended", passed)
        await self.commit(pipe, batch)
