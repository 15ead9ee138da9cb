"""Lexicon: index terms and an incremental BM25."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurram.lexicon import BM25, Vocabulary, term_counts, terms


def test_terms_are_stemmed_lowercase_words_without_stop_words_or_possessives() -> None:
    assert terms("Caroline's friends were RUNNING to the gym, weren't they?") == [
        "carolin",
        "friend",
        "run",
        "gym",
        "werent",
    ]
    assert terms("Melanie’s 3 dogs") == ["melani", "dog"]  # a typographic apostrophe too
    assert terms("the and of it") == []


def test_term_counts() -> None:
    assert term_counts("Dogs chase dogs") == {"dog": 2, "chase": 1}


def build(*texts: str | None) -> tuple[BM25, Vocabulary]:
    """Documents in rows 0, 1, ...; None leaves a row empty."""
    documents, vocabulary = BM25(), Vocabulary()
    for row, text in enumerate(texts):
        if text is None:
            continue
        counts = term_counts(text)
        documents.add(row, counts)
        vocabulary.count(counts, +1)
    return documents, vocabulary


def test_a_rare_term_weighs_more_than_a_common_one() -> None:
    _, vocabulary = build("apple pie", "apple tart", "apple jam", "plum jam")
    assert vocabulary.idf("plum") > vocabulary.idf("appl") > 0
    assert vocabulary.idf("never-seen") == pytest.approx(math.log(1 + 4.5 / 0.5))


def test_bm25_ranks_by_matched_terms() -> None:
    documents, vocabulary = build("the boiler was serviced", "the garden fence", "boiler fence")
    scores = documents.scores(terms("boiler serviced"), vocabulary, 3)
    assert scores[0] > scores[2] > scores[1] == 0.0


def test_taking_a_document_away_is_the_same_as_never_adding_it() -> None:
    grown, grown_vocabulary = build("the boiler was serviced", "the garden fence", "boiler fence")
    removed = term_counts("the garden fence")
    grown.add(1, removed, sign=-1)
    grown_vocabulary.count(removed, -1)
    fresh, fresh_vocabulary = build("the boiler was serviced", None, "boiler fence")
    query = terms("boiler fence serviced")
    assert np.allclose(
        grown.scores(query, grown_vocabulary, 3), fresh.scores(query, fresh_vocabulary, 3)
    )
    assert grown.average_length == fresh.average_length
    assert held(grown, "fenc", 3) == {2: 1.0}  # its changes summed
    assert held(grown, "fenc", 2) == {}  # rows past the size left out
    grown.add(1, term_counts("fence fences"))  # an earlier row changed again
    assert held(grown, "fenc", 3) == {1: 2.0, 2: 1.0}
    assert "fenc" in grown and "never-seen" not in grown


def held(documents: BM25, term: str, size: int) -> dict[int, float]:
    """How often each row ``< size`` that holds ``term`` does, from its postings."""
    rows, counts = documents.postings(term, size)
    every = np.arange(size)[rows]
    return {int(r): float(c) for r, c in zip(every, counts, strict=True) if c}


@pytest.mark.parametrize("size", [7, 1000])
def test_postings_are_every_rows_count_when_many_hold_the_term(size: int) -> None:
    """A term in a few of the rows is given at those rows, ascending; one in many, at every
    row: the same counts."""
    documents = BM25()
    for row in range(0, size, 3):
        documents.add(row, {"common": 1 + row % 2, "rare": 1} if row < 9 else {"common": 1})
    documents.add(3, {"common": 1, "rare": 1}, sign=-1)
    rows, _ = documents.postings("rare", size)
    assert isinstance(rows, slice) == (size == 7)
    assert held(documents, "rare", size) == {0: 1.0, 6: 1.0}
    assert isinstance(documents.postings("common", size)[0], slice)
    want = {r: float(1 + r % 2) for r in range(0, size, 3) if r < 9} | {
        r: 1.0 for r in range(9, size, 3)
    }
    assert held(documents, "common", size) == want | {3: 1.0}


def test_full_match_is_what_an_average_document_saying_each_term_once_scores() -> None:
    documents, vocabulary = build("boiler serviced", "garden fence", "boiler fence")
    query = terms("garden fence")
    assert documents.scores(query, vocabulary, 3)[1] == pytest.approx(vocabulary.full_match(query))
