"""Text heuristics: how much a piece of text matters, and how it relates to a hint.

The Amygdala scores salience when the caller gives none; the Thalamus weighs word overlap with
a ``context_hint``. The scorer is a small table of cues, each a set of words or phrases with a
weight, matched on whole words, case-insensitively.
"""

from __future__ import annotations

import re
from typing import NamedTuple

NEUTRAL_SALIENCE = 0.4
MIN_SALIENCE = 0.1
MAX_SALIENCE = 1.0
MAX_HITS_PER_CUE = 3  # a cue repeated beyond this adds nothing more

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
_PUNCTUATION = re.compile(r"[^\w\s]|_")


class Cue(NamedTuple):
    """Words or phrases that move salience by ``weight`` each time one occurs."""

    name: str
    weight: float
    phrases: frozenset[str]


def _terms(listing: str) -> frozenset[str]:
    """A comma-separated listing of words and phrases, as a set."""
    return frozenset(" ".join(term.split()) for term in listing.split(","))


CUES: tuple[Cue, ...] = (
    Cue(
        "urgency",
        0.15,
        _terms(
            "urgent, urgently, asap, as soon as possible, right away, critical, crucial, vital,"
            "essential, important, importantly, immediately, emergency, deadline, must, never,"
            "always, warning, danger, dangerous, mandatory, priority"
        ),
    ),
    Cue(
        "emotion",
        0.1,
        _terms(
            "love, loved, hate, hated, great, terrible, angry, furious, happy, sad, scared,"
            "afraid, excited, amazing, awful, horrible, wonderful, fantastic, upset, worried,"
            "thrilled, delighted, disgusting, proud, ashamed, heartbroken"
        ),
    ),
    Cue(
        "hedge",
        -0.1,
        _terms(
            "maybe, perhaps, might, possibly, probably, not sure, i guess, kind of, sort of,i think"
        ),
    ),
    Cue("aside", -0.15, _terms("fyi, btw, by the way, just so you know, incidentally")),
)

IMPERATIVE_WEIGHT = 0.1
IMPERATIVE_OPENERS = _terms(
    "remember, never, always, don't, do, call, make, note, keep, stop, avoid, send, tell,"
    "remind, ensure, check, use"
)
EXCLAMATION_WEIGHT = 0.05

STOPWORDS = _terms(
    "a, an, the, and, or, but, of, to, in, on, at, for, with, by, from, as, is, are, was, were,"
    "be, been, am, it, its, this, that, these, those, i, me, my, you, your, he, she, his, her,"
    "we, our, they, them, their, do, does, did, so, if, then, than, there, here"
)


def words(text: str) -> list[str]:
    """Lowercased alphanumeric tokens; inner apostrophes are kept ("don't")."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def _cue_tables(cues: tuple[Cue, ...]) -> tuple[dict[str, list[int]], list[tuple[int, str, str]]]:
    """The cues' words, each to the cues it belongs to; and their phrases of several words,
    as (cue, space-padded phrase, first word)."""
    single: dict[str, list[int]] = {}
    several: list[tuple[int, str, str]] = []
    for index, cue in enumerate(cues):
        for phrase in sorted(cue.phrases):
            if " " in phrase:
                several.append((index, f" {phrase} ", phrase.split()[0]))
            else:
                single.setdefault(phrase, []).append(index)
    return single, several


_CUE_WORDS, _CUE_PHRASES = _cue_tables(CUES)


def cue_hits(tokens: list[str]) -> list[int]:
    """Whole-word occurrences of each cue's words and phrases among ``tokens``, by cue.

    Counted as non-overlapping occurrences in the space-joined tokens (``str.count``): of a
    run of one repeated word, every other one counts. One dictionary look-up a token, and a
    phrase of several words is searched for only when its first word occurs.
    """
    hits = [0] * len(CUES)
    previous, counted = "", False
    for token in tokens:
        cues = _CUE_WORDS.get(token)
        if cues is None:
            counted = False
        elif counted := not (counted and token == previous):
            for index in cues:
                hits[index] += 1
        previous = token
    present = set(tokens)
    padded = ""
    for index, phrase, first in _CUE_PHRASES:
        if first in present:
            padded = padded or f" {' '.join(tokens)} "
            hits[index] += padded.count(phrase)
    return hits


def salience_score(text: str) -> float:
    """Heuristic salience of ``text`` in [0.1, 1.0]; a neutral statement scores 0.4.

    Urgency, emotion, exclamation marks and an imperative opening raise it; hedges and
    asides ("fyi", "by the way") lower it.
    """
    tokens = words(text)
    hits = cue_hits(tokens)
    score = NEUTRAL_SALIENCE + sum(
        cue.weight * min(count, MAX_HITS_PER_CUE) for cue, count in zip(CUES, hits, strict=True)
    )
    score += EXCLAMATION_WEIGHT * min(text.count("!"), MAX_HITS_PER_CUE)
    if tokens and tokens[0] in IMPERATIVE_OPENERS:
        score += IMPERATIVE_WEIGHT
    return round(min(MAX_SALIENCE, max(MIN_SALIENCE, score)), 6)


def content_words(text: str) -> set[str]:
    """The distinct tokens of ``text`` that are not stopwords."""
    return set(words(text)) - STOPWORDS


def word_overlap(text: str, hint: str) -> float:
    """Fraction of the hint's distinct content words that occur in ``text``; 0 if none."""
    wanted = content_words(hint)
    if not wanted:
        return 0.0
    return len(wanted & set(words(text))) / len(wanted)


def normalize_content(text: str) -> str:
    """Case, punctuation and spacing removed, so identical restatements compare equal."""
    return " ".join(_PUNCTUATION.sub("", text.lower()).split())
