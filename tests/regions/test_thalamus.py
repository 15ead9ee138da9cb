"""Thalamus: relevance = salience (caller's, else heuristic) + 0.3 x hint overlap; gate at 0.2."""

from __future__ import annotations

import pytest

from neurram.regions.thalamus import Thalamus

FYI = "fyi maybe the printer is slow"  # heuristic: 0.4 - 0.15 (aside) - 0.1 (hedge) = 0.15


def test_caller_salience_is_the_base(make_stimulus) -> None:
    assert Thalamus().relevance(make_stimulus(FYI, salience=0.9)) == pytest.approx(0.9)


def test_caller_salience_zero_is_kept_not_replaced_by_heuristic(make_stimulus) -> None:
    stimulus = make_stimulus("Paris is the capital of France", salience=0.0)
    assert Thalamus().relevance(stimulus) == 0.0
    assert Thalamus().attend(stimulus) is None


def test_heuristic_base_without_caller_salience(make_stimulus) -> None:
    assert Thalamus().relevance(make_stimulus("Paris is the capital of France")) == pytest.approx(
        0.4
    )
    assert Thalamus().relevance(make_stimulus(FYI)) == pytest.approx(0.15)


def test_low_relevance_without_hint_is_gated(make_stimulus) -> None:
    assert Thalamus().attend(make_stimulus(FYI)) is None


def test_overlapping_hint_lifts_a_borderline_stimulus(make_stimulus) -> None:
    stimulus = make_stimulus(FYI, context_hint="printer")
    attended = Thalamus().attend(stimulus)
    assert attended is not None
    assert attended.stimulus is stimulus
    assert attended.relevance == pytest.approx(0.15 + 0.3 * 1.0)


def test_hint_adds_weight_times_fraction_of_hint_words_present(make_stimulus) -> None:
    # hint content words {printer, queue} (stopword "the" ignored): half present
    stimulus = make_stimulus(FYI, context_hint="the printer queue")
    assert Thalamus().relevance(stimulus) == pytest.approx(0.15 + 0.3 * 0.5)


def test_unrelated_hint_adds_nothing(make_stimulus) -> None:
    stimulus = make_stimulus(FYI, context_hint="quarterly budget")
    assert Thalamus().relevance(stimulus) == pytest.approx(0.15)
    assert Thalamus().attend(stimulus) is None


def test_threshold_is_inclusive(make_stimulus) -> None:
    assert Thalamus().attend(make_stimulus(FYI, salience=0.2)) is not None
    assert Thalamus().attend(make_stimulus(FYI, salience=0.19)) is None


def test_custom_threshold_and_hint_weight(make_stimulus) -> None:
    thalamus = Thalamus(threshold=0.5, hint_weight=0.5)
    stimulus = make_stimulus(FYI, context_hint="printer")
    assert thalamus.relevance(stimulus) == pytest.approx(0.65)
    assert thalamus.attend(make_stimulus("Paris is the capital of France")) is None


def test_attended_carries_the_salience_it_was_scored_with(make_stimulus) -> None:
    """The Amygdala reuses it instead of scoring the text again."""
    attended = Thalamus().attend(
        make_stimulus("URGENT: the server is down!", context_hint="server")
    )
    assert attended is not None and attended.salience == pytest.approx(0.6)
    given = Thalamus().attend(make_stimulus(FYI, salience=0.9))
    assert given is not None and given.salience == 0.9
