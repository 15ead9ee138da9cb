"""Memory is reconstructive: a long engram is also remembered by its sentences, so a cue that
matches one part recalls the whole."""

from __future__ import annotations

import re

import numpy as np

from neurram.engram import Engram, Vector
from neurram.salience import words

FRAGMENT_ABOVE_WORDS = 64
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")


def split_fragments(content: str, above_words: int = FRAGMENT_ABOVE_WORDS) -> list[str]:
    """The sentences of ``content`` when it is longer than ``above_words`` words, else none.

    A sentence without a word of its own (a stray "...") is no fragment.
    """
    if len(words(content)) <= above_words:
        return []
    return [s.strip() for s in _SENTENCE_END.split(content) if words(s)]


def fragment_id(engram_id: str, index: int) -> str:
    """The id of an engram's ``index``-th fragment."""
    return f"{engram_id}#{index}"


def texts_to_embed(content: str, above_words: int = FRAGMENT_ABOVE_WORDS) -> list[str]:
    """The content, then each of its fragments: one embedding row each."""
    return [content, *split_fragments(content, above_words)]


def attach_embeddings(engram: Engram, rows: Vector) -> None:
    """Give ``engram`` the embeddings of its :func:`texts_to_embed` (row 0: the content)."""
    engram.embedding = rows[0]
    engram.fragments = [fragment_id(engram.engram_id, i) for i in range(len(rows) - 1)]
    engram.fragment_embeddings = np.ascontiguousarray(rows[1:], dtype=np.float32).reshape(-1)
