"""The Hippocampus's index: engrams as rows of a matrix, matched by meaning and by words.

A cue's match with an engram fuses, at score level:
- ``semantic``: the cosine of their embeddings, scaled from the lower of 0 and the brain's
  worst to its best;
- ``lexical``: BM25 of the cue's stemmed terms, scaled by the brain's best;
- ``temporal``: a lift from the engram's neighbours in time within its episode, when one of
  them is among the cue's strongest matches (what was said just before and after);
- ``context``: BM25 of the cue against the engram's context, the engrams around it in its
  episode pooled together (the whole episode when it is short): context reinstatement.
Weighed by their settings, the parts sum to a relative match, scaled so that the best engram's
match is the cue's absolute strength (its best cosine, or its best share of a full lexical
match): an unrelated cue still activates nothing. Retention and salience then weigh the match,
partly (``retention_weight``, ``salience_weight``: an old memory that is the only good match
still comes back), and activation spreads over association edges (SPEC 3).

A derived cache: everything in it can be rebuilt from the store. Rows of removed engrams are
zeroed, and compacted away once they make up half the matrix. Each embedding is held once, in
its row, as float16 (the precision it rests in within the store), and scored against a cue by
SimSIMD's half-precision kernels: half the memory of float32 rows, and faster than numpy's
float32 product, since reading the matrix is what a recall's scoring waits for (supersession's
batches of new engrams, by NumKong's packed product: :func:`packed_cosines`). The rest of an
engram is kept as a msgpack array (a fifth of the size of its decoded objects: ``_Kept``), and
decoded, with its embeddings copied from its rows, when asked for.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import os
from array import array
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec
import numpy as np
import numpy.typing as npt
import simsimd

from neurram import dynamics
from neurram.edges import EdgeList
from neurram.engram import (
    Engram,
    Explanation,
    MemoryType,
    Vector,
)
from neurram.lexicon import (
    BM25,
    Counts,
    Postings,
    Rows,
    Vocabulary,
    at_every_row,
    term_counts,
)
from neurram.settings import Settings

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Edges = tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], FloatArray]  # src, dst, weight
TYPE_CODES = {t: i for i, t in enumerate(MemoryType)}
INITIAL_CAPACITY = 64
# engrams whose edges change between two scorings past which every engram's are derived anew
# (about 1.3 us an engram, and one pass over the edges: past it, little is saved)
RELINK_AT_MOST = 4096
GROWTH = 1.25  # a full matrix gains a quarter more rows (little idle, amortised copies)
SIMILAR_LIMIT = 8  # nearest engrams considered for supersession
# similar() compares a vector with the engrams holding its terms alone while they are at most
# this share of the rows; past it, with every row (one pass over the matrix then costs less
# than gathering so many rows: a batch's packed product takes 1.6 ms a vector at 100,000 rows)
AMONG_AT_MOST = 16
# vectors compared at once from which similar() uses packed_cosines (CPU time at 100,000 rows:
# 1 vector 19 ms packed against 11 ms by cdist, 2 about even, 4 20 against 42 ms, 64 101
# against 689 ms; the same ratios at 10,000 rows)
PACKED_FROM = 3
# vectors compared at once from which, on a CPU with AMX tiles, similar() first sifts the rows by
# rough_matches (CPU time at 100,000 rows: 64 vectors 64 against 117 ms by packed_cosines, 32 38
# against 61, 16 about even; at 10,000 rows 6.4 against 9.8 ms for 64); without AMX, bfloat16
# products are slower than float16 ones
ROUGH_FROM = 32
ROUGH_CHUNK = 4096  # rows converted to bfloat16 at once (cache-sized; no copy of the matrix)
# how far a cosine of bfloat16 roundings of unit vectors (8 significant bits each side) can be
# from that of their float16 roundings: twice the worst case of 2 ** -8
ROUGH_ERROR = 2.0**-7
# a term's context sums are computed at only the rows they reach while those are fewer than
# this fraction of the rows (a sort of them); past it, by one pass over every row
SPARSE_AT_MOST = 8
# rows from which the cosines and the retentions are computed on a second thread while the
# caller scores the cue's words (SimSIMD and numpy let go of the GIL as they work; the thread
# needs it only to begin and end, the caller often)
BESIDE_FROM = 20_000
_DEFAULTS = Settings()


# An engram as the index keeps it: its fields in an array (no names), without its id (the key)
# or embeddings (its rows hold them), each association's target as the row of that id when it
# has one.
_LINKS = ("associations", list[tuple[int | str, float]])
_KEPT = tuple(
    (f.name, f.type)
    for f in msgspec.structs.fields(Engram)
    if f.name not in ("associations", "embedding", "fragment_embeddings", "engram_id")
)
_KEPT_NAMES = tuple(name for name, _ in _KEPT)
_Kept = msgspec.defstruct("_Kept", [_LINKS, *_KEPT], array_like=True)
_Links = msgspec.defstruct("_Links", [_LINKS], array_like=True)  # the first field alone
_keep = msgspec.msgpack.Encoder()
_kept = msgspec.msgpack.Decoder(_Kept)
_links = msgspec.msgpack.Decoder(_Links)


@dataclass(frozen=True)
class Scores:
    """Per row, from one cue: similarity (an engram's best cosine over itself and its
    fragments), the weighed parts of the match and their sum, retention, direct activation,
    and the activation after spreading."""

    similarity: FloatArray
    semantic: FloatArray
    lexical: FloatArray
    temporal: FloatArray
    context: FloatArray
    match: FloatArray
    retention: FloatArray
    direct: FloatArray
    activation: FloatArray

    @classmethod
    def empty(cls) -> Scores:
        return cls(*(np.zeros(0) for _ in range(9)))


class Ranking(NamedTuple):
    """Which engrams :meth:`EngramIndex.top` ranks, and how many it gives."""

    k: int
    memory_type: MemoryType | None = None
    since: float | None = None
    until: float | None = None

    @property
    def unfiltered(self) -> bool:
        """Whether every engram ranks."""
        return self.memory_type is None and self.since is None and self.until is None


@dataclass(frozen=True)
class Timeline:
    """Engram rows in time order within each episode: ``rows[k]`` is ``k``-th. Per row:
    ``before``/``after``, its neighbours in time (-1: none), and its context, positions
    ``low..high`` (``high`` excluded) of ``rows`` (see :meth:`pooled_at`), which holds
    ``context_lengths`` terms, ``context_average`` on average."""

    rows: npt.NDArray[np.intp]
    episodes: npt.NDArray[np.intp]  # the episode of each position (ascending)
    before: npt.NDArray[np.intp]
    after: npt.NDArray[np.intp]
    low: npt.NDArray[np.intp]
    high: npt.NDArray[np.intp]
    context_lengths: FloatArray = field(default_factory=lambda: np.zeros(0))
    context_average: float = 0.0

    def ends(self, episode: int, occurred: npt.NDArray[np.float64], at: float) -> int | None:
        """Where an engram of ``episode`` that occurred ``at`` goes: after the rest of its
        episode (or where its new episode sorts); None if it occurred before the last of it
        (``occurred`` is per row)."""
        position = int(np.searchsorted(self.episodes, episode, side="right"))
        last = self.rows[position - 1] if position else -1
        if last >= 0 and self.episodes[position - 1] == episode and occurred[last] > at:
            return None
        return position

    def without(self, row: int) -> Timeline | None:
        """This timeline without ``row``, when it is alone in its episode (as an engram is
        until the Hippocampus links it); else None."""
        if self.high[row] == 0 or self.before[row] >= 0 or self.after[row] >= 0:
            return None
        position = int(self.low[row])  # alone: its context is itself
        low, high, context = self.low.copy(), self.high.copy(), self.context_lengths.copy()
        total = self.context_average * self.rows.size - context[row]
        low[row] = high[row] = 0
        context[row] = 0.0
        later = low > position
        low[later] -= 1
        high[later] -= 1
        rows = np.delete(self.rows, position)
        episodes = np.delete(self.episodes, position)
        average = total / rows.size if rows.size else 0.0
        return Timeline(rows, episodes, self.before, self.after, low, high, context, average)

    def inserted(
        self, position: int, row: int, episode: int, lengths: FloatArray, reach: int
    ) -> Timeline:
        """This timeline with ``row`` put at ``position``, the last of its episode (see
        :meth:`ends`), over ``lengths.size`` rows: positions after it move one on, and only
        the rows within ``reach`` of it in its episode change their neighbours and context
        (one pass over the positions, no sort)."""
        size = lengths.size
        rows = np.insert(self.rows, position, row)
        episodes = np.insert(self.episodes, position, episode)
        before, after = _grown(self.before, size, -1), _grown(self.after, size, -1)
        low, high = _grown(self.low, size, 0), _grown(self.high, size, 0)
        context = _grown(self.context_lengths, size, 0.0)
        later = (low >= position) & (high > 0)  # in a later episode
        low[later] += 1
        high[later] += 1
        first = int(np.searchsorted(episodes, episode, side="left"))
        if position > first:
            before[row], after[rows[position - 1]] = rows[position - 1], row
        window = np.arange(max(first, position - reach), position + 1)
        low[rows[window]] = np.maximum(window - reach, first)
        high[rows[window]] = np.minimum(window + reach, position) + 1
        sums = np.concatenate(([0.0], np.cumsum(lengths[rows[first : position + 1]])))
        total = self.context_average * self.rows.size - context[rows[window]].sum()
        context[rows[window]] = sums[high[rows[window]] - first] - sums[low[rows[window]] - first]
        total += context[rows[window]].sum()
        return Timeline(rows, episodes, before, after, low, high, context, total / rows.size)

    @functools.cached_property
    def ordered_bounds(self) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """Per position, not row: its context's ``low`` and ``high``."""
        return self.low[self.rows], self.high[self.rows]

    @functools.cached_property
    def ordered_lengths(self) -> FloatArray:
        """Per position, not row: its context's length."""
        lengths: FloatArray = self.context_lengths[self.rows]
        return lengths

    def pooled_at(self, rows: Rows, counts: Counts) -> Postings:
        """Per position, the sum of ``counts`` held by ``rows`` (0 elsewhere) over its
        context: only at the positions whose context holds one of ``rows`` (ascending) while
        those are few, since a context holds a row exactly when that row's context holds it;
        else at every position, by one cumulative sum."""
        if isinstance(rows, slice):
            return rows, self._pooled(counts[rows])
        low, high = self.low[rows], self.high[rows]
        spans = high - low
        total = int(spans.sum())
        if total * SPARSE_AT_MOST > self.rows.size:
            return slice(None), self._pooled(at_every_row(rows, counts, self.before.size))
        # every position of each one's context: its first, plus how far into the context
        into = np.arange(total) - np.repeat(np.cumsum(spans) - spans, spans)
        positions, inverse = np.unique(np.repeat(low, spans) + into, return_inverse=True)
        sums = np.bincount(inverse, weights=np.repeat(counts, spans))  # whole numbers: exact
        return positions, sums.astype(np.int64)

    def _pooled(self, counts: Counts) -> Counts:
        """Per position, the sum of ``counts`` (one per row) over its context."""
        in_order = counts[self.rows]
        total = int(in_order.sum(dtype=np.int64))  # 32-bit sums, half the memory, if they fit
        width = np.int32 if total < 2**31 else np.int64
        cumulative: Counts = np.zeros(self.rows.size + 1, dtype=width)
        np.cumsum(in_order, out=cumulative[1:])
        starts, ends = self.ordered_bounds
        pooled: Counts = cumulative[ends] - cumulative[starts]
        return pooled

    def by_row(self, values: npt.NDArray[Any]) -> FloatArray:
        """``values`` given per position, per row instead (0 for a row not in time order)."""
        out = np.zeros(self.before.size)
        out[self.rows] = values
        return out


def _beside() -> ThreadPoolExecutor:
    """The thread that scores beside the caller's (one for the process: one core more)."""
    return _thread_of(os.getpid())


@functools.cache
def _thread_of(process: int) -> ThreadPoolExecutor:
    """One a process: a forked child has none of its parent's threads."""
    return ThreadPoolExecutor(1, thread_name_prefix="neurram-scoring")


class _Prepared(NamedTuple):
    """What scoring a cue takes besides its embedding (:meth:`EngramIndex.prepare` scores it
    while that encodes): the timeline and the association edges it used (each derived again
    where engrams came or changed); the weighed lexical and context parts of each
    row's match (before the match is scaled to the cue's strength) and the cue's strength by
    its words; at ``now``, each row's retention and what it and the row's salience multiply
    its match by (:func:`~neurram.dynamics.activation_factors`)."""

    timeline: Timeline
    edges: Edges
    lexical: FloatArray
    context: FloatArray
    strength: float
    now: float
    retention: FloatArray
    factors: FloatArray


def _grown(values: npt.NDArray[Any], size: int, fill: float) -> npt.NDArray[Any]:
    """A copy of ``values`` as long as ``size``, the new places ``fill``."""
    grown = np.full(size, fill, dtype=values.dtype)
    grown[: values.size] = values
    return grown


def half_cosines(rows: npt.NDArray[np.float16], vectors: Vector, threads: int = 1) -> FloatArray:
    """The dot product (the cosine, all being unit vectors) of each of ``vectors`` with each
    of ``rows``, in half precision, on ``threads`` threads: shape (vectors, rows)."""
    if vectors.shape[1] != rows.shape[1]:
        raise ValueError(
            f"a {vectors.shape[1]}-dim cue against an index of {rows.shape[1]}-dim embeddings: "
            "one brain must use one encoder model"
        )
    half = np.ascontiguousarray(vectors, dtype=np.float16)
    return np.asarray(simsimd.cdist(half, rows, metric="dot", threads=threads))


def packed_cosines(rows: npt.NDArray[np.float16], vectors: Vector) -> npt.NDArray[np.float32]:
    """The cosine of each of ``rows`` with each of ``vectors``, shape (rows, vectors), by
    NumKong's packed matrix product: ``vectors`` packed once, every row against all of them in
    one pass, accumulated in float32 (as exact as a float32 product of the half rows;
    :func:`half_cosines` is within 1e-3 of it). From a few vectors on, several times faster
    than one row-by-row product a vector: see ``PACKED_FROM``."""
    import numkong  # on first use: 3-4 MiB of a process that never scores a batch

    half = np.ascontiguousarray(vectors, dtype=np.float16)
    return np.asarray(numkong.dots_packed(rows, numkong.dots_pack(half)))


def rough_matches(
    rows: npt.NDArray[np.float16], vectors: Vector, floor: float, eligible: BoolArray
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The (row, vector) pairs of ``eligible`` rows whose cosine with one of ``vectors`` in
    bfloat16 is at least ``floor``: on AMX tiles, twice as fast as :func:`packed_cosines` for
    a large batch, and within ``ROUGH_ERROR`` of it (for unit vectors). Chunk by chunk, each
    converted as it is multiplied and sifted while it is in cache: no rows x vectors matrix
    is ever made."""
    import numkong

    packed = numkong.dots_pack(numkong.astype(np.asarray(vectors, np.float32), numkong.bfloat16))
    found, cues = [], []
    for start in range(0, len(rows), ROUGH_CHUNK):
        chunk = numkong.astype(rows[start : start + ROUGH_CHUNK], numkong.bfloat16)
        close = np.asarray(numkong.dots_packed(chunk, packed)) >= floor
        close &= eligible[start : start + ROUGH_CHUNK, None]
        chunk_rows, chunk_cues = np.nonzero(close)
        found.append(chunk_rows + start)
        cues.append(chunk_cues)
    return np.concatenate(found), np.concatenate(cues)


def has_amx() -> bool:
    """Whether NumKong multiplies bfloat16 matrices on AMX tiles here."""
    import numkong

    return bool(numkong.get_capabilities().get("sapphireamx"))


def _on(values: FloatArray, rows: BoolArray) -> FloatArray:
    """``values`` on ``rows`` alone (all of them, uncopied, in the usual case: no fragment or
    dropped row to mask out)."""
    return values if rows.all() else values[rows]


def _scaled(values: FloatArray, rows: BoolArray, low: float) -> FloatArray:
    """``values`` on ``rows`` scaled to [0, 1] from ``low`` to their maximum (clipped below);
    0 elsewhere, and everywhere when none rises above ``low``."""
    every = bool(rows.all())  # the usual case: no fragment or dropped row to mask out
    if not every and not rows.any():
        return np.zeros(values.size)
    top = float((values if every else values[rows]).max())
    if top <= low:
        return np.zeros(values.size)
    scaled: FloatArray = np.clip((values - low) / (top - low), 0.0, None)
    return scaled if every else np.where(rows, scaled, 0.0)


class EngramIndex:
    """Engrams with their embedding, retention inputs and association edges as arrays.

    An engram's fragments have rows of their own that point at it (``parent``): a cue close to
    one sentence of a long memory activates the whole memory.
    """

    def __init__(self, settings: Settings = _DEFAULTS) -> None:
        self.settings = settings
        self._reserved = 0
        self._clear()

    def _clear(self) -> None:
        self._engrams: dict[str, bytes] = {}  # id -> the engram as kept (_Kept)
        self._row: dict[str, int] = {}  # engram and fragment ids
        self._ids: list[str] = []  # per row (a dropped row's too, until compacted)
        self._holes = 0
        self._vectors = np.zeros((0, 0), dtype=np.float16)
        self._last = np.zeros(0)
        self._stability = np.zeros(0)
        self._salience = np.zeros(0)
        self._type = np.zeros(0, dtype=np.int8)
        self._alive = np.zeros(0, dtype=bool)
        self._parent = np.zeros(0, dtype=np.intp)  # -1 for an engram's own row
        self._occurred = np.zeros(0)
        self._episode = np.zeros(0, dtype=np.intp)  # episode number per row (< 0: alone)
        self._episodes: dict[str, int] = {}
        self._timeline: Timeline | None = None  # rebuilt lazily after an engram went or moved
        self._vocabulary = Vocabulary()
        self._words = BM25(self.settings.bm25_k1, self.settings.bm25_b)
        self._superseded_by: dict[int, str] = {}  # row -> id of the engram that supersedes it
        self._superseding: dict[str, list[int]] = {}  # an engram's id -> the rows it supersedes
        self._weakened = np.zeros(0, dtype=bool)  # per row: superseded by an indexed engram
        self._links = EdgeList()  # the associations between indexed engrams, by row
        # engrams whose edges are derived again before the next scoring (None: every one)
        self._relink: set[str] | None = None
        self._gone: set[int] = set()  # rows removed since, whose edges go too
        # an engram not indexed here -> the engrams with an association to it
        self._awaited: dict[str, list[str]] = {}
        # a cue's terms -> what :meth:`prepare` scored of them, kept until the index changes
        self._prepared: dict[tuple[str, ...], _Prepared] = {}

    def __len__(self) -> int:
        return len(self._engrams)

    def __iter__(self) -> Iterator[Engram]:
        return (self._whole(i) for i in list(self._engrams))

    def __contains__(self, engram_id: object) -> bool:
        return engram_id in self._engrams

    def get(self, engram_id: str) -> Engram | None:
        """A copy of the indexed engram (changes to it reach the index by :meth:`upsert` or
        :meth:`touch`)."""
        return self._whole(engram_id) if engram_id in self._engrams else None

    def _whole(self, engram_id: str) -> Engram:
        """The kept engram, decoded, with its embeddings copied from its rows."""
        engram = self._load(engram_id)
        engram.embedding = self._vectors[self._row[engram_id]].astype(np.float32)
        if engram.fragments:  # else the empty default
            rows = [self._row[i] for i in engram.fragments]
            engram.fragment_embeddings = self._vectors[rows].astype(np.float32).reshape(-1)
        return engram

    def _dump(self, engram: Engram) -> bytes:
        """``engram`` as kept: see ``_Kept``."""
        links = [(self._row.get(target, target), w) for target, w in engram.associations]
        return _keep.encode([links, *(getattr(engram, name) for name in _KEPT_NAMES)])

    def _load(self, engram_id: str) -> Engram:
        """The kept engram, without its embeddings."""
        associations, *fields = msgspec.structs.astuple(_kept.decode(self._engrams[engram_id]))
        links = [(self._target(target), w) for target, w in associations]
        kept = dict(zip(_KEPT_NAMES, fields, strict=True))
        return Engram(**kept, engram_id=engram_id, associations=links)

    def _target(self, target: int | str) -> str:
        """The id of an association's target as kept."""
        return target if isinstance(target, str) else self._ids[target]

    @property
    def dim(self) -> int | None:
        return self._vectors.shape[1] if self._vectors.shape[1] else None

    def upsert(self, engram: Engram) -> None:
        """Add or replace an encoded engram, and its fragments."""
        vector = engram.embedding
        if vector.size == 0:
            raise ValueError(f"engram {engram.engram_id} has no embedding; encode it first")
        if self.dim is not None and vector.size != self.dim:
            raise ValueError(
                f"engram {engram.engram_id} has a {vector.size}-dim embedding, the index holds "
                f"{self.dim}-dim ones: one brain must use one encoder model"
            )
        previous = self._load(engram.engram_id) if engram.engram_id in self else None
        moved = False  # in time, or into it
        if previous is None or previous.associations != engram.associations:
            self._relinked(engram.engram_id)  # an LTP-only update keeps its edges
        if previous is None:  # edges into it come (back)
            for source in self._awaited.pop(engram.engram_id, ()):
                self._relinked(source)
        if previous is not None and previous.fragments != engram.fragments:
            self._drop_rows(previous.fragments)
        row = self._set_row(engram.engram_id, vector, parent=-1)
        if previous is None or previous.content != engram.content:
            if previous is not None:
                self._unindex_words(row, previous)
            counts = term_counts(engram.content)
            self._words.add(row, counts)
            self._vocabulary.count(counts, +1)
        if previous is None or (previous.episode, previous.occurred_at) != (
            engram.episode,
            engram.occurred_at,
        ):
            self._occurred[row] = engram.occurred_at
            self._episode[row] = (  # no episode yet: alone in one of its own
                self._episodes.setdefault(engram.episode, len(self._episodes))
                if engram.episode
                else -1 - row
            )
            moved = True
        superseder = engram.context.get("superseded_by")
        if isinstance(superseder, str):
            self._unmark(row)
            self._superseded_by[row] = superseder
            self._superseding.setdefault(superseder, []).append(row)
            self._weakened[row] = superseder in self._engrams
        self._type[row] = TYPE_CODES[engram.memory_type]
        self.touch(engram)  # keeps it
        if previous is None:
            self._weaken(engram.engram_id, True)
        fragments = engram.fragment_embeddings.reshape(-1, vector.size)
        for fragment, fragment_vector in zip(engram.fragments, fragments, strict=True):
            self._set_row(fragment, fragment_vector, parent=row)
        if moved:
            if previous is not None and self._timeline is not None:
                self._timeline = self._timeline.without(row)  # then put back where it goes
            self._timeline = self._placed_in_time(row)

    def _placed_in_time(self, row: int) -> Timeline | None:
        """The timeline with ``row`` (not in it) put in, when its engram is the latest of its
        episode (as one perceived now is); else None, rebuilt when next needed."""
        timeline = self._timeline
        episode = int(self._episode[row])
        at = (
            None
            if timeline is None
            else timeline.ends(episode, self._occurred, self._occurred[row])
        )
        if timeline is None or at is None:
            return None
        lengths = self._words.lengths(len(self._ids))
        return timeline.inserted(at, row, episode, lengths, self.settings.context_reach)

    def touch(self, engram: Engram) -> None:
        """Keep an engram changed by LTP or decay, and refresh its retention inputs (its
        embeddings, words, episode and links must be those indexed: else :meth:`upsert`)."""
        self._prepared.clear()  # its retention, or all of it (an upsert), changes
        self._engrams[engram.engram_id] = self._dump(engram)
        row = self._row[engram.engram_id]
        self._last[row] = engram.last_accessed
        self._stability[row] = engram.stability
        self._salience[row] = engram.salience

    def remove(self, engram_id: str) -> bool:
        if engram_id not in self._engrams:
            return False
        self._prepared.clear()
        engram = self._load(engram_id)
        del self._engrams[engram_id]
        self._weaken(engram_id, False)
        row = self._row[engram_id]
        self._unindex_words(row, engram)
        if self._relink is not None:
            self._gone.add(row)
            self._relinked()
        self._drop_rows([engram_id, *engram.fragments])
        self._timeline = None
        if len(self._ids) > INITIAL_CAPACITY and self._holes > len(self._ids) // 2:
            self._compact()
        return True

    def _unindex_words(self, row: int, engram: Engram) -> None:
        counts = term_counts(engram.content)
        self._words.add(row, counts, sign=-1)
        self._vocabulary.count(counts, -1)

    def similar(
        self,
        vectors: Vector,
        threshold: float,
        limit: int = SIMILAR_LIMIT,
        holding: Sequence[Sequence[str] | None] | None = None,
    ) -> list[list[tuple[Engram, float]]]:
        """For each row of ``vectors``, the (at most ``limit``) engrams closest to it whose
        own embedding has a cosine of at least ``threshold``: one matrix product for all, but
        for a vector whose entry of ``holding`` is not None, sought among the engrams holding
        one of those terms at least (compared alone while they are few: ``AMONG_AT_MOST``)."""
        n = len(self._ids)
        if n == 0:
            return [[] for _ in vectors]
        eligible = self._engram_rows()
        among = (
            [None] * len(vectors)
            if holding is None
            else [self._holders(terms, n) for terms in holding]
        )
        every = np.array([i for i, held in enumerate(among) if held is None], dtype=np.intp)
        parts = [(np.zeros(0, dtype=np.intp), every[:0], np.zeros(0, dtype=np.float32))]
        if every.size:
            rows, cues, cosines = self._close(vectors[every], threshold, eligible)
            parts.append((rows, every[cues], cosines))
        for cue, held in enumerate(among):
            if held is not None and held.size:
                held = held[eligible[held]]
                close = half_cosines(self._vectors[held], vectors[cue : cue + 1])[0]
                kept = np.flatnonzero(close >= threshold)
                parts.append((held[kept], np.full(kept.size, cue), close[kept]))
        rows, cues, cosines = (np.concatenate(part) for part in zip(*parts, strict=True))
        order = np.argsort(cues, kind="stable")  # the hits, few, grouped by vector
        rows, cues, cosines = rows[order], cues[order], cosines[order]
        bounds = np.searchsorted(cues, np.arange(len(vectors) + 1))
        found = []
        for low, high in itertools.pairwise(bounds):
            hits, close = rows[low:high], cosines[low:high]
            if hits.size > limit:
                best = np.argpartition(-close, limit - 1)[:limit]
                hits, close = hits[best], close[best]
            found.append(
                [(self._whole(self._ids[r]), float(c)) for r, c in zip(hits, close, strict=True)]
            )
        return found

    def compared(self, holding: Sequence[Sequence[str] | None]) -> int:
        """How many rows :meth:`similar` compares vectors with, at most, given their
        ``holding``."""
        n = len(self._ids)
        return sum(n if (few := self._few(terms, n)) is None else few for terms in holding)

    def _few(self, terms: Sequence[str] | None, n: int) -> int | None:
        """How many engrams hold one of ``terms`` at most, while few enough to be compared
        alone (1/``AMONG_AT_MOST`` of the ``n`` rows at most); else None."""
        if terms is None:
            return None
        held = sum(self.frequency(term) for term in terms)
        return held if held * AMONG_AT_MOST <= n else None

    def _holders(self, terms: Sequence[str] | None, n: int) -> npt.NDArray[np.intp] | None:
        """The rows holding one of ``terms`` at least, while :meth:`_few`; else None (then
        every row is compared)."""
        if self._few(terms, n) is None:
            return None
        held = []
        for term in terms or ():
            rows, _ = self._words.postings(term, n)
            assert not isinstance(rows, slice)  # so few hold it: listed (BM25.postings)
            held.append(rows)
        return np.unique(np.concatenate(held)) if held else np.zeros(0, dtype=np.intp)

    def frequency(self, term: str) -> int:
        """How many engrams hold ``term``."""
        return self._vocabulary.df[term]

    def _close(
        self, vectors: Vector, threshold: float, eligible: BoolArray
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float32]]:
        """The (row, vector, cosine) of each ``eligible`` row within ``threshold`` of one of
        ``vectors``: by cdist for a few vectors, else one packed product (first sifted by
        :func:`rough_matches`, then each pair it keeps computed exactly, where that pays)."""
        n = len(self._ids)
        similarity: npt.NDArray[np.floating[Any]]  # rows x vectors
        if len(vectors) < PACKED_FROM:
            similarity = self._cosines(vectors).T
        elif len(vectors) < ROUGH_FROM or not has_amx():
            similarity = packed_cosines(self._vectors[:n], vectors)
        else:
            margin = ROUGH_ERROR * float(np.linalg.norm(vectors, axis=1).max())
            rows, cues = rough_matches(self._vectors[:n], vectors, threshold - margin, eligible)
            halves = np.asarray(vectors, np.float16).astype(np.float32)
            cosines = np.einsum("ij,ij->i", self._vectors[rows].astype(np.float32), halves[cues])
            kept = cosines >= threshold
            return rows[kept], cues[kept], cosines[kept]
        rows, cues = np.nonzero((similarity >= threshold) & eligible[:, None])  # one pass
        return rows, cues, similarity[rows, cues].astype(np.float32)

    def superseder(self, engram_id: str) -> str | None:
        """The engram that supersedes this one, if it is in the index."""
        row = self._row[engram_id]
        return self._superseded_by[row] if self._weakened[row] else None

    def scores(
        self,
        query: Vector,
        now: float,
        terms: Sequence[str] = (),
        ranking: Ranking | None = None,
    ) -> Scores:
        """Activation of every row by a cue (its embedding ``query`` and its ``terms``), spread
        over associations (0 off engrams); a superseded engram's direct activation is weighed
        by ``superseded_weight``. In a big index, the cosines are computed on a second core
        while the rest is (its words, retentions, edges: see ``BESIDE_FROM`` and
        :class:`_Prepared`), or on both when :meth:`prepare` computed the rest already.

        With ``ranking``, activation spreads only as far as :meth:`top` of it needs: exact for
        every engram that can rank there, below that at least its direct activation and at
        most its full one (``floor`` of :func:`~neurram.dynamics.spread_activation`)."""
        n = len(self._ids)
        if n == 0:
            return Scores.empty()
        s = self.settings
        engrams = self._engram_rows()
        prepared = self._prepared.pop(tuple(terms), None)
        if prepared is not None:  # the words scored already: both cores for the cosines
            threads = 2 if self.uses_two_cores else 1
            similarity, semantic = self._by_meaning(query, engrams, threads)
            if prepared.now != now:
                retention, factors = self._aged(now, n)
                prepared = prepared._replace(now=now, retention=retention, factors=factors)
        else:
            apart = functools.partial(self._by_meaning, query, engrams)
            beside = _beside().submit(apart) if self.uses_two_cores else None
            try:
                prepared = self._apart_from_meaning(terms, now, engrams)
            finally:  # nothing of the index changes while the other thread reads it
                similarity, semantic = apart() if beside is None else beside.result()
        semantic, lexical, temporal, context = self._match(similarity, semantic, prepared, engrams)
        match = semantic + lexical
        match += temporal
        match += context
        direct = dynamics.initial_activation(match, prepared.factors, s.activation_floor)
        direct = np.where(engrams, direct, 0.0)
        direct[self._weakened[:n]] *= s.superseded_weight
        src, dst, weight = prepared.edges
        floor = None if ranking is None else self._kth(direct, ranking)
        activation = dynamics.spread_activation(
            direct, src, dst, weight, s.spread_hops, s.spread_decay, floor, self._links.strongest
        )
        return Scores(
            similarity,
            semantic,
            lexical,
            temporal,
            context,
            match,
            prepared.retention,
            direct,
            activation,
        )

    @property
    def uses_two_cores(self) -> bool:
        """Whether scoring uses a second core: from ``BESIDE_FROM`` rows."""
        return len(self._ids) >= BESIDE_FROM

    def prepare(self, terms: Sequence[str], now: float) -> None:
        """Score what a cue's ``terms`` and the moment ``now`` give, for the next
        :meth:`scores` of those terms (while its embedding is encoded, say): kept until
        then, or until the index changes."""
        if self._ids:
            self._prepared[tuple(terms)] = self._apart_from_meaning(terms, now, self._engram_rows())

    def _apart_from_meaning(
        self, terms: Sequence[str], now: float, engrams: BoolArray
    ) -> _Prepared:
        """Everything of a cue's scoring but its embedding's part: see :class:`_Prepared`."""
        s, n = self.settings, engrams.size
        timeline = self._sequence()
        bm25, context_bm25 = self._by_words(terms, timeline, n)
        full_match = self._vocabulary.full_match(terms)
        retention, factors = self._aged(now, n)
        return _Prepared(
            timeline,
            self._edge_arrays(),
            lexical=s.lexical_weight * _scaled(bm25, engrams, low=0.0),
            context=s.context_weight * _scaled(context_bm25, engrams, low=0.0),
            strength=min(1.0, float(bm25.max(initial=0.0)) / max(full_match, 1e-9)),
            now=now,
            retention=retention,
            factors=factors,
        )

    @contextlib.contextmanager
    def preparing(self, cues: Sequence[Sequence[str]], now: float) -> Iterator[None]:
        """:meth:`prepare` each of ``cues`` on the scoring thread (another core) while the
        block runs, ended when it ends. The block must leave the index as it is: encoding
        the cues on the event loop, say, which holds every other task meanwhile (measured: an
        encode on the loop with a millisecond of scoring beside it takes 0.15 ms longer;
        begun in a thread while the loop scores, the encode waits for the interpreter lock
        and takes 1 ms longer)."""

        def prepare_all() -> None:
            for cue in cues:
                self.prepare(cue, now)

        beside = _beside().submit(prepare_all)
        try:
            yield
        finally:
            beside.result()

    def _aged(self, now: float, n: int) -> tuple[FloatArray, FloatArray]:
        """Each row's retention at ``now``, and its activation factors then."""
        s = self.settings
        retention = dynamics.retention_array(
            self._last[:n], self._stability[:n], now, s.forgetting_law
        )
        factors = dynamics.activation_factors(
            retention, self._salience[:n], s.salience_weight, s.retention_weight
        )
        return retention, factors

    def _by_meaning(
        self, query: Vector, engrams: BoolArray, threads: int = 1
    ) -> tuple[FloatArray, FloatArray]:
        """Per row: its similarity to the cue's embedding ``query`` (an engram's best cosine
        over itself and its fragments, on ``threads`` threads), and the weighed semantic part
        of its match (before the match is scaled to the cue's strength)."""
        n = engrams.size
        similarity = self._cosines(query.reshape(1, -1), threads)[0]
        # half-precision rows are not quite unit vectors: a text's own cosine can pass 1
        np.clip(similarity, -1.0, 1.0, out=similarity)
        fragment_rows = np.flatnonzero(self._alive[:n] & (self._parent[:n] >= 0))
        if fragment_rows.size:
            np.maximum.at(similarity, self._parent[fragment_rows], similarity[fragment_rows])
        # from the worst cosine in a big brain; from 0 in a small one where all are related
        lowest = min(0.0, float(_on(similarity, engrams).min(initial=0.0)))
        semantic = self.settings.semantic_weight * _scaled(similarity, engrams, lowest)
        return similarity, semantic

    def _by_words(
        self, terms: Sequence[str], timeline: Timeline, n: int
    ) -> tuple[FloatArray, FloatArray]:
        """Per row: BM25 of the cue's ``terms``, and BM25 of them against its context (the
        rows within ``context_reach`` of it in its episode, pooled as one document)."""
        words = [  # a term no engram ever had adds 0 everywhere
            (self._vocabulary.idf(t), *self._words.postings(t, n))
            for t in dict.fromkeys(terms)
            if t in self._words
        ]
        bm25 = self._words.weigh(words, self._words.lengths(n), self._words.average_length)
        pooled = [(idf, *timeline.pooled_at(rows, tf)) for idf, rows, tf in words]
        context = self._words.weigh(pooled, timeline.ordered_lengths, timeline.context_average)
        return bm25, timeline.by_row(context)

    def _cosines(self, vectors: Vector, threads: int = 1) -> FloatArray:
        """The cosine of each of ``vectors`` with each row, on ``threads`` threads."""
        return half_cosines(self._vectors[: len(self._ids)], vectors, threads)

    def _match(
        self,
        similarity: FloatArray,
        semantic: FloatArray,
        prepared: _Prepared,
        engrams: BoolArray,
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """The weighed semantic, lexical, temporal and context parts of each row's match,
        from its cosine, its semantic part and what was ``prepared`` of the cue's words,
        scaled so that the best match is the cue's strength (module docstring)."""
        strength = max(float(_on(similarity, engrams).max(initial=0.0)), prepared.strength)
        either = semantic + prepared.lexical
        temporal = self.settings.temporal_weight * self._lift(either, engrams, prepared.timeline)
        total = either + temporal
        total += prepared.context
        best = float(total.max())
        scale = strength / best if best > 0 else 0.0
        return (  # each made for this cue
            semantic * scale,
            prepared.lexical * scale,
            temporal * scale,
            prepared.context * scale,
        )

    def _lift(self, either: FloatArray, engrams: BoolArray, timeline: Timeline) -> FloatArray:
        """Per row, the strongest of its two neighbours in time among the cue's
        ``temporal_reach`` strongest matches (``either`` on ``engrams``), scaled from the
        weakest of those (0) to the best (1): each of them lifts its own neighbours (a row is
        its neighbour's)."""
        lift = np.zeros(either.size)
        every = bool(engrams.all())  # the usual case: no fragment or dropped row to mask out
        among = None if every else np.flatnonzero(engrams)
        values = either if among is None else either[among]
        k = min(self.settings.temporal_reach, values.size)
        if k == 0:
            return lift
        strongest = np.argpartition(values, values.size - k)[values.size - k :]
        low, top = float(values[strongest].min()), float(values[strongest].max())
        strongest = strongest[values[strongest] > low]
        if top <= low or strongest.size == 0:
            return lift
        strength = (values[strongest] - low) / (top - low)
        rows = strongest if among is None else among[strongest]
        for neighbours in (timeline.before[rows], timeline.after[rows]):
            some = neighbours >= 0
            np.maximum.at(lift, neighbours[some], strength[some])
        return lift

    def _sequence(self) -> Timeline:
        """The engrams in time order within their episodes, each one's context the engrams
        within ``context_reach`` of it in its episode (cached: an engram that comes as the
        latest of its episode is put in place; rebuilt after one goes or moves otherwise, or
        rows came without an engram: new fragments of one)."""
        if self._timeline is None or self._timeline.before.size != len(self._ids):
            n, reach = len(self._ids), self.settings.context_reach
            live = np.flatnonzero(self._engram_rows())
            rows = live[np.lexsort((self._occurred[live], self._episode[live]))]
            episode = self._episode[rows]
            starts = np.flatnonzero(np.concatenate(([True], episode[1:] != episode[:-1])))
            ends = np.append(starts[1:], rows.size) - 1
            span = np.diff(np.append(starts, rows.size))
            first, last = np.repeat(starts, span), np.repeat(ends, span)
            positions = np.arange(rows.size)
            before = np.full(n, -1, dtype=np.intp)
            after = np.full(n, -1, dtype=np.intp)
            before[rows] = np.where(positions > first, rows[positions - 1], -1)
            after[rows] = np.where(
                positions < last, rows[np.minimum(positions + 1, rows.size - 1)], -1
            )
            low, high = np.zeros(n, dtype=np.intp), np.zeros(n, dtype=np.intp)
            low[rows] = np.maximum(positions - reach, first)
            high[rows] = np.minimum(positions + reach, last) + 1
            timeline = Timeline(rows, episode, before, after, low, high)
            words = self._words.lengths(n).astype(np.int64)
            lengths = timeline.by_row(timeline.pooled_at(slice(None), words)[1])
            average = float(lengths[rows].mean()) if rows.size else 0.0
            self._timeline = dataclasses.replace(
                timeline, context_lengths=lengths, context_average=average
            )
        return self._timeline

    def explain(self, scores: Scores, ids: list[str]) -> list[Explanation]:
        """The parts of each engram's activation in ``scores``."""
        explanations = []
        for engram_id in ids:
            row = self._row[engram_id]
            direct, activation = float(scores.direct[row]), float(scores.activation[row])
            explanations.append(
                Explanation(
                    similarity=float(scores.similarity[row]),
                    semantic=float(scores.semantic[row]),
                    lexical=float(scores.lexical[row]),
                    temporal=float(scores.temporal[row]),
                    context=float(scores.context[row]),
                    match=float(scores.match[row]),
                    retention=float(scores.retention[row]),
                    retention_factor=float(
                        dynamics.weigh(scores.retention[row], self.settings.retention_weight)
                    ),
                    salience_factor=float(
                        dynamics.weigh(self._salience[row], self.settings.salience_weight)
                    ),
                    direct=direct,
                    spread=max(0.0, activation - direct),
                    activation=activation,
                    superseded_by=self.superseder(engram_id),
                )
            )
        return explanations

    def top(
        self,
        scores: Scores,
        k: int,
        memory_type: MemoryType | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[tuple[Engram, float]]:
        """The ``k`` most active engrams (activation above 0), optionally of one type and
        within an ``occurred_at`` window (bounds included)."""
        n = len(self._ids)
        activation = scores.activation
        ranking = Ranking(k, memory_type, since, until)
        if ranking.unfiltered and 0 < k < n:
            picks = np.argpartition(activation, n - k)[n - k :]  # the k most active rows:
            if (self._alive[picks] & (self._parent[picks] < 0) & (activation[picks] > 0)).all():
                return self._ranked(picks, activation)  # as a rule, all of them eligible
        candidates = np.flatnonzero(self._eligible(ranking) & (activation > 0))
        if candidates.size > k:
            part = np.argpartition(-activation[candidates], k - 1)[:k]
            candidates = candidates[part]
        return self._ranked(candidates, activation)

    def _engram_rows(self) -> BoolArray:
        """Per row, whether it is an engram's own: alive, and not one of its fragments'."""
        n = len(self._ids)
        return self._alive[:n] & (self._parent[:n] < 0)

    def _eligible(self, ranking: Ranking) -> BoolArray:
        """The engrams ``ranking`` ranks: of its type, within its window."""
        n = len(self._ids)
        eligible = self._engram_rows()
        if ranking.memory_type is not None:
            eligible &= self._type[:n] == TYPE_CODES[ranking.memory_type]
        if ranking.since is not None:
            eligible &= self._occurred[:n] >= ranking.since
        if ranking.until is not None:
            eligible &= self._occurred[:n] <= ranking.until
        return eligible

    def _kth(self, direct: FloatArray, ranking: Ranking) -> float:
        """The ``ranking.k``-th highest direct activation of the engrams ``ranking`` ranks (0
        when fewer): spreading only raises activations, so whatever ranks has at least it."""
        values = direct if ranking.unfiltered else direct[self._eligible(ranking)]
        if not 0 < ranking.k <= values.size:
            return 0.0
        return float(np.partition(values, values.size - ranking.k)[values.size - ranking.k])

    def _ranked(
        self, rows: npt.NDArray[np.intp], activation: FloatArray
    ) -> list[tuple[Engram, float]]:
        """The engrams of ``rows``, most active first."""
        ranked = rows[np.argsort(-activation[rows], kind="stable")]
        return [(self._whole(self._ids[i]), float(activation[i])) for i in ranked]

    def reserve(self, rows: int) -> None:
        """Expect ``rows`` rows: the matrix grows to hold them at once (a build that knows
        how many engrams come copies the matrix once, and leaves no quarter of it idle)."""
        self._reserved = rows

    def _set_row(self, row_id: str, vector: Vector, parent: int) -> int:
        row = self._row.get(row_id)
        if row is None:
            row = self._append(row_id, vector.size)
        self._vectors[row] = vector
        self._alive[row] = True
        self._parent[row] = parent
        return row

    def _drop_rows(self, row_ids: list[str]) -> None:
        for row_id in row_ids:
            row = self._row.pop(row_id, None)
            if row is not None:
                self._unmark(row)
                self._alive[row] = False
                self._vectors[row] = 0.0
                self._holes += 1

    def _unmark(self, row: int) -> None:
        """Forget which engram supersedes the one at ``row``, if any."""
        superseder = self._superseded_by.pop(row, None)
        if superseder is not None:
            rows = self._superseding[superseder]
            rows.remove(row)
            if not rows:
                del self._superseding[superseder]
        self._weakened[row] = False

    def _weaken(self, superseder: str, weakened: bool) -> None:
        """The rows ``superseder`` supersedes are ``weakened`` (while it is indexed) or not."""
        self._weakened[self._superseding.get(superseder, [])] = weakened

    def _append(self, engram_id: str, dim: int) -> int:
        row = len(self._ids)
        if row >= self._vectors.shape[0]:
            growth = int(GROWTH * self._vectors.shape[0])
            self._grow(max(INITIAL_CAPACITY, growth, self._reserved), dim)
            self._reserved = 0  # used up: a compaction later keeps only the rows it needs
        self._ids.append(engram_id)
        self._row[engram_id] = row
        return row

    def _grow(self, capacity: int, dim: int) -> None:
        old = self._vectors.shape[0]
        vectors = np.zeros((capacity, dim), dtype=np.float16)
        if old:
            vectors[:old] = self._vectors
        self._vectors = vectors
        self._last = np.resize(self._last, capacity)
        self._stability = np.resize(self._stability, capacity)
        self._salience = np.resize(self._salience, capacity)
        self._type = np.resize(self._type, capacity)
        self._parent = np.resize(self._parent, capacity)
        self._occurred = np.resize(self._occurred, capacity)
        self._episode = np.resize(self._episode, capacity)
        self._alive = _grown(self._alive, capacity, False)
        self._weakened = _grown(self._weakened, capacity, False)

    def _compact(self) -> None:
        engrams = list(self)
        self._clear()
        for engram in engrams:
            self.upsert(engram)

    def _relinked(self, *ids: str) -> None:
        """Derive the edges of ``ids`` again before the next scoring; every engram's, once
        more than ``RELINK_AT_MOST`` wait (a rebuild, a sleep cycle)."""
        if self._relink is not None:
            self._relink.update(ids)
            if len(self._relink) + len(self._gone) > RELINK_AT_MOST:
                self._relink, self._gone = None, set()

    def _edge_arrays(self) -> Edges:
        """Every association between indexed engrams, as rows (flat arrays: no object per
        edge, a million at 100,000): those of the engrams whose associations changed, or that
        link to one that went, derived again (all, after many changes)."""
        if self._relink is None:
            self._links, self._awaited = EdgeList(), {}
            changed = list(self._engrams)
        elif self._relink or self._gone:
            size = len(self._ids)
            linking = self._links.sources_into(self._gone, size) if self._gone else ()
            # those linking to one that went link elsewhere now, or wait for it
            changed = [i for i in {*self._relink, *(self._ids[r] for r in linking)} if i in self]
            self._links.clear([*self._gone, *(self._row[i] for i in changed)], size)
        else:
            return self._links.arrays()
        src, dst, weight = array("i"), array("i"), array("d")
        for source in changed:
            row = self._row[source]
            (associations,) = msgspec.structs.astuple(_links.decode(self._engrams[source]))
            for kept_target, w in associations:
                target = self._target(kept_target)
                if target in self._engrams:
                    src.append(row)
                    dst.append(self._row[target])
                    weight.append(w)
                elif source not in (waiting := self._awaited.setdefault(target, [])):
                    waiting.append(source)  # derived again when it is indexed
        self._links.add(src, dst, weight)
        self._relink, self._gone = set(), set()
        return self._links.arrays()
