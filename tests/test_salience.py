"""The text heuristics behind the Amygdala and the Thalamus."""

from __future__ import annotations

import random

import pytest

from neurram.salience import (
    CUES,
    cue_hits,
    normalize_content,
    salience_score,
    word_overlap,
    words,
)

NEUTRAL = "Paris is the capital of France"


def test_neutral_statement_scores_about_point_four() -> None:
    assert 0.3 <= salience_score(NEUTRAL) < 0.75
    assert salience_score(NEUTRAL) == pytest.approx(0.4)


def test_ordering_urgent_over_neutral_over_hedged() -> None:
    urgent = salience_score("URGENT: the server is down, fix it immediately!")
    hedged = salience_score("maybe the server is a bit slow, not sure")
    assert urgent > salience_score(NEUTRAL) > hedged
    assert urgent >= 0.75


def test_fyi_with_hedge_is_below_the_attention_threshold() -> None:
    assert salience_score("fyi maybe the printer is slow") < 0.2


@pytest.mark.parametrize(
    "text",
    [
        "I love this, it is amazing",
        "The meeting went great!",
        "Remember to water the plants",
        "Don't touch the red button",
        "Call mum tonight",
        "The deadline is Friday",
    ],
)
def test_emotion_urgency_exclamation_and_imperatives_raise(text: str) -> None:
    assert salience_score(text) > salience_score(NEUTRAL)


@pytest.mark.parametrize(
    "text",
    [
        "btw the printer is on floor 3",
        "by the way the printer is on floor 3",
        "just so you know the printer is on floor 3",
        "I guess the printer is on floor 3",
        "the printer is kind of on floor 3",
    ],
)
def test_asides_and_hedges_lower(text: str) -> None:
    assert salience_score(text) < salience_score("the printer is on floor 3")


def test_bounds() -> None:
    shouting = "URGENT!!! Never ever forget: critical emergency, must act immediately, I hate it!!!"
    assert salience_score(shouting) == 1.0
    assert salience_score("fyi btw maybe perhaps possibly probably, not sure, i guess") == 0.1
    assert salience_score("") == pytest.approx(0.4)


def test_matching_is_case_insensitive_and_on_whole_words() -> None:
    assert salience_score("IMPORTANT meeting") == salience_score("important meeting")
    assert salience_score("The mustard is yellow") == salience_score("The custard is yellow")
    assert salience_score("Remembering the trip") == salience_score("Describing the trip")


def test_exclamation_weight_is_capped() -> None:
    assert salience_score("Hello!") > salience_score("Hello")
    assert salience_score("Hello!!!") == salience_score("Hello!!!!!!!!")


def test_deterministic() -> None:
    text = "Always back up the database before a migration!"
    assert len({salience_score(text) for _ in range(5)}) == 1


def test_words_tokeniser() -> None:
    assert words("Don't STOP: 3 apples, e-mail!") == ["don't", "stop", "3", "apples", "e", "mail"]
    assert words("It\u2019s fine") == ["it's", "fine"]
    assert words("  ") == []


def test_word_overlap() -> None:
    text = "The printer on floor 3 is slow"
    assert word_overlap(text, "printer slow today") == pytest.approx(2 / 3)
    assert word_overlap(text, "the PRINTER is slow") == 1.0  # stopwords ignored, any case
    assert word_overlap(text, "weather report") == 0.0
    assert word_overlap(text, "") == 0.0
    assert word_overlap(text, "the of and") == 0.0
    assert word_overlap(text, "printer printer printer lunch") == 0.5  # distinct words


def test_normalize_content_merges_restatements_only() -> None:
    assert normalize_content("  The PIN is 1234! ") == normalize_content("the pin is 1234")
    assert normalize_content("Hello,\n  world...") == "hello world"
    assert normalize_content("PIN is 1234") != normalize_content("PIN is 5678")


def test_cue_hits_count_each_phrase_as_whole_words_in_the_text() -> None:
    """The hits per cue are the non-overlapping whole-word occurrences of each of its phrases
    in the space-joined tokens, also for repeats and phrases of several words."""
    vocabulary = [*sorted({p for cue in CUES for p in cue.phrases}), "i", "x", "the", "of"]
    rng = random.Random(7)
    texts = [" ".join(rng.choices(vocabulary, k=rng.randint(0, 14))) for _ in range(3000)]
    texts += ["urgent urgent urgent", "must must", "i think i think", "by the way by the way"]
    for text in texts:
        tokens = words(text)
        padded = f" {' '.join(tokens)} "
        expected = [sum(padded.count(f" {p} ") for p in cue.phrases) for cue in CUES]
        assert cue_hits(tokens) == expected, text
    assert cue_hits(words("urgent urgent urgent"))[0] == 2
