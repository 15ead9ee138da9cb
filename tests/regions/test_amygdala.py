"""Amygdala: salience (caller's else heuristic), stability boost, encoding into an engram."""

from __future__ import annotations

import numpy as np
import pytest

from neurram.engram import Layer, MemoryType
from neurram.regions.amygdala import Amygdala

from .conftest import unit

EMBEDDING = unit(1.0, 2.0, 2.0)


def test_caller_salience_is_kept(make_stimulus) -> None:
    assert Amygdala().salience(make_stimulus("fyi maybe", salience=0.9)) == 0.9
    assert Amygdala().salience(make_stimulus("URGENT! fix it now", salience=0.0)) == 0.0


def test_heuristic_when_caller_gives_none(make_stimulus) -> None:
    assert Amygdala().salience(make_stimulus("Paris is the capital of France")) == pytest.approx(
        0.4
    )
    urgent = make_stimulus("URGENT: the server is down, fix it immediately!")
    assert Amygdala().salience(urgent) == pytest.approx(0.75)


def test_encode_builds_a_sensory_engram_from_the_stimulus(make_stimulus, now) -> None:
    stimulus = make_stimulus(
        "deploy on friday",
        stimulus_id="abc123",
        memory_type=MemoryType.PROCEDURAL,
        salience=0.6,
        modality="speech",
        context={"user": "ana"},
    )
    engram = Amygdala().encode(stimulus, EMBEDDING[None], now)
    assert engram.engram_id == "abc123"
    assert engram.content == "deploy on friday"
    assert engram.memory_type is MemoryType.PROCEDURAL
    assert engram.salience == 0.6
    assert engram.layer is Layer.SENSORY
    assert engram.encoded_at == engram.last_accessed == now
    assert np.array_equal(engram.embedding, EMBEDDING)
    assert engram.context == {"user": "ana", "modality": "speech"}
    assert stimulus.context == {"user": "ana"}  # the stimulus is not mutated


def test_reward_is_recorded_in_context(make_stimulus, now) -> None:
    engram = Amygdala().encode(make_stimulus("won the bet", reward=0.5), EMBEDDING[None], now)
    assert engram.context["reward"] == 0.5


@pytest.mark.parametrize(
    ("salience", "stability"), [(0.5, 1.0), (0.74, 1.0), (0.75, 2.0), (0.9, 2.0), (1.0, 2.0)]
)
def test_salience_at_or_above_075_doubles_initial_stability(
    make_stimulus, now, salience, stability
) -> None:
    """The original's numbers (unit 1 hour), and the default unit of 72 hours."""
    stimulus = make_stimulus("x", salience=salience)
    assert Amygdala(unit=1.0).encode(stimulus, EMBEDDING[None], now).stability == stability
    assert Amygdala().encode(stimulus, EMBEDDING[None], now).stability == 72.0 * stability


def test_heuristic_salience_also_gets_the_boost(make_stimulus, now) -> None:
    urgent = make_stimulus("URGENT: the server is down, fix it immediately!")
    assert Amygdala(unit=1.0).encode(urgent, EMBEDDING[None], now).stability == 2.0


def test_long_content_is_also_encoded_sentence_by_sentence(make_stimulus, now) -> None:
    sentences = [
        f"Sentence {i} talks about topic number {i} at some length here." for i in range(9)
    ]
    stimulus = make_stimulus(" ".join(sentences), stimulus_id="long")
    amygdala = Amygdala()
    texts = amygdala.texts(stimulus)
    assert texts == [stimulus.content, *sentences]  # 81 words: above the 64-word mark
    rows = np.stack([unit(1.0, float(i), 0.0) for i in range(len(texts))])
    engram = amygdala.encode(stimulus, rows, now)
    assert np.array_equal(engram.embedding, rows[0])
    assert engram.fragments == [f"long#{i}" for i in range(9)]
    assert np.array_equal(engram.fragment_embeddings.reshape(9, 3), rows[1:])


def test_short_content_has_no_fragments(make_stimulus) -> None:
    assert Amygdala().texts(make_stimulus("a short note")) == ["a short note"]


def test_encode_takes_the_salience_the_thalamus_scored(make_stimulus, now) -> None:
    stimulus = make_stimulus("Paris is the capital of France")
    assert Amygdala().encode(stimulus, EMBEDDING[None], now).salience == pytest.approx(0.4)
    assert Amygdala().encode(stimulus, EMBEDDING[None], now, 0.8).salience == 0.8


def test_an_amygdala_that_scores_its_own_way_is_not_bypassed(make_stimulus, now) -> None:
    class Certain(Amygdala):
        def salience(self, stimulus) -> float:
            return 1.0

    stimulus = make_stimulus("Paris is the capital of France")
    assert Certain().encode(stimulus, EMBEDDING[None], now, 0.4).salience == 1.0


def test_a_salience_set_on_the_stimulus_after_the_thalamus_is_kept(make_stimulus, now) -> None:
    """A replaced Amygdala may set the stimulus's salience before encoding (the example
    custom_amygdala.py asks a language model)."""
    stimulus = make_stimulus("Paris is the capital of France", salience=0.9)
    assert Amygdala().encode(stimulus, EMBEDDING[None], now, 0.4).salience == 0.9
