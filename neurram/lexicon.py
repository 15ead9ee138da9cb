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
Counts = npt.NDArray[np.integer]
# Some rows (ascending) or every one (``slice(None)``), and a count at each: for a term, how
# often each holds it.
Rows = npt.NDArray[np.intp] | slice
Postings = tuple[Rows, Counts]
# a term in more than 1/DENSE_FROM of the rows has its frequencies given at every row:
# arithmetic on whole arrays is then cheaper than gathering and scattering at its rows
DENSE_FROM = 4

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


def at_every_row(rows: npt.NDArray[np.integer], counts: Counts, size: int) -> Counts:
    """``counts`` at ``rows`` (distinct), 0 at the other rows ``< size``."""
    everywhere = np.zeros(size, dtype=counts.dtype)
    everywhere[rows] = counts
    return everywhere


class BM25:
    """Okapi BM25 over documents that are rows ``0..n``; a document may grow or shrink.

    Changes are appended as term-frequency deltas, so an update costs what it adds. A term's
    postings stay its rows in ascending order, each once, while documents only come in row
    order; a change to an earlier row marks the term revised, and its deltas are summed the
    next time it is read. A query costs one pass over the postings of its terms, and scores
    only the rows they hold.
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._postings: dict[str, array[int]] = {}  # term -> (row, tf change) pairs, flat
        self._revised: set[str] = set()  # terms whose pairs are not ascending distinct rows
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
            elif sign < 0 or (postings and postings[-2] >= row):
                self._revised.add(term)
            postings.extend((row, sign * tf))

    @property
    def average_length(self) -> float:
        """Mean number of terms of a document."""
        return self._total / self._documents if self._documents else 0.0

    def postings(self, term: str, size: int) -> Postings:
        """The rows ``< size`` that hold ``term`` and how often each does (every row's
        frequency, when many hold it)."""
        pairs = self._postings.get(term)
        if pairs is None:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int32)
        if term in self._revised:
            pairs = self._postings[term] = self._summed(pairs)
            self._revised.discard(term)
        flat = np.frombuffer(pairs, dtype=np.int32).reshape(-1, 2)
        if size < len(self._length):  # rows past the size left out
            flat = flat[: int(np.searchsorted(flat[:, 0], size))]
        end = len(flat)
        rows, counts = flat[:, 0], flat[:, 1]
        if end * DENSE_FROM > size:
            return slice(None), at_every_row(rows, counts, size)
        return rows.astype(np.intp), counts.copy()

    def _summed(self, pairs: array[int]) -> array[int]:
        """``pairs`` with each row's changes summed: its rows ascending, each once, if held."""
        flat = np.frombuffer(pairs, dtype=np.int32).reshape(-1, 2)
        counts = np.bincount(flat[:, 0], weights=flat[:, 1], minlength=len(self._length))
        rows = np.flatnonzero(counts > 0)
        summed = np.column_stack((rows, counts[rows])).astype(np.int32)
        return array("i", summed.tobytes())

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
            [(vocabulary.idf(t), *self.postings(t, size)) for t in dict.fromkeys(query)],
            self.lengths(size),
            self.average_length,
        )

    def weigh(
        self, terms: Sequence[tuple[float, Rows, Counts]], length: FloatArray, average: float
    ) -> FloatArray:
        """BM25 of each document (``length`` of them, ``average`` long), from each query
        term's idf and postings: frequencies saturate (``k1``), long documents count less
        (``b``). Only the rows a term holds are computed for it, in single precision (half
        the memory to go through; a score has a few significant digits to keep)."""
        out = np.zeros(length.size)
        everywhere: npt.NDArray[np.float32] | None = None  # every document's norm, once needed
        for idf, rows, counts in terms:
            if isinstance(rows, slice):
                if everywhere is None:
                    everywhere = self._norm(length.astype(np.float32), average)
                norm = everywhere
            else:
                norm = self._norm(length[rows].astype(np.float32), average)
            tf = counts.astype(np.float32)
            part = tf / (tf + norm)
            part *= idf * (self.k1 + 1.0)
            out[rows] += part
        return out

    def _norm(self, length: npt.NDArray[np.float32], average: float) -> npt.NDArray[np.float32]:
        """What a document's frequencies are weighed against: ``k1``, more for a long one."""
        norm: npt.NDArray[np.float32] = self.k1 * (
            1.0 - self.b + self.b * length / max(average, 1e-9)
        )
        return norm
