"""Matching a cue by its words: stemmed, stop-word-free terms and Okapi BM25 over them.

Meaning blurs what words keep: a name, a place, a number or a rare word in the cue finds the
memory that says it. Documents are kept incrementally (a memory is added, grows, or is
subtracted), so the index follows the store without a rebuild. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
import threading
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt
import Stemmer

FloatArray = npt.NDArray[np.float64]

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*")

# Function words that say nothing about what a memory is about (written for neurram).
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your
    yours yourself yourselves also am anyone anything every get got just let like lot much
    oh okay ok really s t yeah yes hey hi thanks thank well still even ever may might must
    shall us via whose been one ll re ve d m im ive dont didnt doesnt isnt wasnt thats
    """.split()  # noqa: SIM905 (a word list reads best as text)
)

_local = threading.local()  # PyStemmer's stemmers are not thread-safe: one per thread


def _stemmer() -> Stemmer.Stemmer:
    stemmer: Stemmer.Stemmer | None = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def terms(text: str) -> list[str]:
    """The index terms of ``text``: lower-cased words without possessives or stop words,
    stemmed (Snowball English), in order."""
    found = []
    for word in _WORD.findall(text.lower().replace("’", "'")):
        word = word.removesuffix("'s").replace("'", "")
        if word not in STOP_WORDS and len(word) > 1:
            found.append(word)
    return list(_stemmer().stemWords(found))


def term_counts(text: str) -> Counter[str]:
    """How often each term of ``text`` occurs."""
    return Counter(terms(text))


class Vocabulary:
    """Document frequencies over a collection: what makes a term rare, hence telling."""

    def __init__(self) -> None:
        self.df: Counter[str] = Counter()
        self.documents = 0

    def count(self, counts: Iterable[str], sign: int) -> None:
        """A document with these distinct terms joins (+1) or leaves (-1) the collection."""
        self.documents += sign
        for term in counts:
            self.df[term] += sign
            if self.df[term] <= 0:
                del self.df[term]

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency (always positive)."""
        df = self.df.get(term, 0)
        return math.log(1.0 + (self.documents - df + 0.5) / (df + 0.5))

    def full_match(self, query: Sequence[str]) -> float:
        """What BM25 gives a document of average length that says each distinct query term
        once: the score of a full match."""
        return sum(self.idf(t) for t in dict.fromkeys(query))


class BM25:
    """Okapi BM25 over documents that are rows ``0..n``; a document may grow or shrink.

    Changes are appended as term-frequency deltas and summed when scored, so an update costs
    what it adds, and a query costs one pass over the postings of its terms.
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._postings: dict[str, array[int]] = {}  # term -> (row, tf change) pairs, flat
        self._length = array("d")
        self._total = 0.0
        self._documents = 0

    def add(self, row: int, counts: Mapping[str, int], sign: int = 1) -> None:
        """Add (``sign=-1``: take away) ``counts`` to the document in ``row``."""
        if row >= len(self._length):
            self._length.extend([0.0] * (row + 1 - len(self._length)))
        before = self._length[row]
        size = float(sum(counts.values()))
        self._length[row] = max(0.0, before + sign * size)
        self._total += self._length[row] - before
        self._documents += (self._length[row] > 0) - (before > 0)
        for term, tf in counts.items():
            postings = self._postings.get(term)
            if postings is None:  # one small array a term: most terms are rare
                postings = self._postings[term] = array("i")
            postings.extend((row, sign * tf))

    @property
    def average_length(self) -> float:
        """Mean number of terms of a document."""
        return self._total / self._documents if self._documents else 0.0

    def frequencies(self, term: str, size: int) -> FloatArray:
        """How often ``term`` occurs in each row ``< size``."""
        postings = self._postings.get(term)
        if postings is None:
            return np.zeros(size)
        pairs = np.frombuffer(postings, dtype=np.int32).reshape(-1, 2)
        rows, tfs = pairs[:, 0], pairs[:, 1]
        if size < len(self._length):  # some rows are past size: left out
            keep = rows < size
            rows, tfs = rows[keep], tfs[keep]
        return np.maximum(np.bincount(rows, weights=tfs, minlength=size), 0.0)

    def __contains__(self, term: object) -> bool:
        """Whether any document ever had ``term`` (one that never did scores 0 everywhere)."""
        return term in self._postings

    def lengths(self, size: int) -> FloatArray:
        """How many terms each row ``< size`` holds."""
        out = np.zeros(size)
        known = min(size, len(self._length))
        out[:known] = np.frombuffer(self._length, dtype=np.float64)[:known]
        return out

    def scores(self, query: Sequence[str], vocabulary: Vocabulary, size: int) -> FloatArray:
        """The BM25 score of each row ``< size`` for the ``query`` terms (repeats count once)."""
        if not self._documents:
            return np.zeros(size)
        return self.weigh(
            [(vocabulary.idf(t), self.frequencies(t, size)) for t in dict.fromkeys(query)],
            self.lengths(size),
            self.average_length,
        )

    def weigh(
        self, terms: Sequence[tuple[float, FloatArray]], length: FloatArray, average: float
    ) -> FloatArray:
        """BM25 from each query term's (idf, frequencies), the documents' lengths and their
        average: frequencies saturate (``k1``), long documents count less (``b``)."""
        out, part = np.zeros(length.size), np.empty(length.size)
        norm = self.k1 * (1.0 - self.b + self.b * length / max(average, 1e-9))
        for idf, tf in terms:  # in place: no temporary array a term
            np.add(tf, norm, out=part)
            np.divide(tf, part, out=part)
            part *= idf * (self.k1 + 1.0)
            out += part
        return out
