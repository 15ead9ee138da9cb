"""Supersession: of two memories about the same thing, the later one counts.

"The PIN is 1234", then "The PIN is 5678": the second supersedes the first, which stays
retrievable but ranks below it. Two engrams are about the same thing when their embeddings are
close (cosine at least ``supersede_similarity``) and their contents differ in a few content
words (a number, a name, a negation), sharing the rest. A heuristic: two facts that differ
only in which entity they are about ("Bob's meeting is on Monday", "Carol's meeting is on
Monday") look the same to it.
"""

from __future__ import annotations

from collections.abc import Callable

from neurram.engram import Engram
from neurram.lexicon import terms
from neurram.salience import content_words, normalize_content

MAX_CHANGED_WORDS = 2


def differ_in_a_fact(new: str, old: str) -> bool:
    """Same subject, another fact: a few content words changed, some are shared."""
    if normalize_content(new) == normalize_content(old):
        return False
    new_words, old_words = content_words(new), content_words(old)
    added, removed = new_words - old_words, old_words - new_words
    return (
        bool(added or removed)
        and bool(new_words & old_words)
        and len(added) <= MAX_CHANGED_WORDS
        and len(removed) <= MAX_CHANGED_WORDS
    )


def supersedes(new: Engram, old: Engram, similarity: float, threshold: float) -> bool:
    """Whether ``new`` is a later memory about the same thing as ``old``."""
    return (
        new.engram_id != old.engram_id
        and new.memory_type is old.memory_type
        and old.encoded_at < new.encoded_at
        and similarity >= threshold
        and differ_in_a_fact(new.content, old.content)
    )


def held_by_any_superseded(content: str, frequency: Callable[[str], int]) -> list[str] | None:
    """Index terms of ``content`` one at least of which every older memory it can supersede
    holds, the rarest by ``frequency`` (so an index need compare it with the few memories
    holding them, not with every one); [] when it can supersede none; None when only a
    search of every memory finds them all.

    Such a memory lacks at most ``MAX_CHANGED_WORDS`` of ``content``'s content words and
    shares one at least (:func:`differ_in_a_fact`): so it holds one of any
    ``MAX_CHANGED_WORDS + 1`` of them, or of them all when they are fewer. A content word it
    holds is a token of its text, which becomes the same index terms there as alone (the
    index's tokens never cross a content word's bounds): it holds each of them, the word's
    rarest among them. A content word that becomes no term (an index stopword, a single
    character) is found by none: it is left out while ``MAX_CHANGED_WORDS + 1`` others
    remain, else None.
    """
    found, termless = [], False
    for word in content_words(content):
        held = terms(word)
        if held:
            found.append(min(held, key=frequency))
        else:
            termless = True
    if termless and len(found) <= MAX_CHANGED_WORDS:
        return None
    return sorted(found, key=frequency)[: MAX_CHANGED_WORDS + 1]
