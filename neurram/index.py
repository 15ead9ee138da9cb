"""The Hippocampus's vector index: engrams as rows of a matrix, scored with numpy.

A derived cache: everything in it can be rebuilt from the store. Rows of removed engrams are
zeroed, and compacted away once they make up half the matrix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from neurram import dynamics
from neurram.engram import Engram, Explanation, MemoryType, Vector
from neurram.settings import ForgettingLaw

FloatArray = npt.NDArray[np.float64]
TYPE_CODES = {t: i for i, t in enumerate(MemoryType)}
INITIAL_CAPACITY = 64
SIMILAR_LIMIT = 8  # nearest engrams considered for supersession


@dataclass(frozen=True)
class Scores:
    """Per row, from one cue: similarity (an engram's best over itself and its fragments),
    retention, direct activation, and the activation after spreading."""

    similarity: FloatArray
    retention: FloatArray
    direct: FloatArray
    activation: FloatArray


class EngramIndex:
    """Engrams with their embedding, retention inputs and association edges as arrays.

    An engram's fragments have rows of their own that point at it (``parent``): a cue close to
    one sentence of a long memory activates the whole memory.
    """

    def __init__(self, law: ForgettingLaw = dynamics.FORGETTING_LAW) -> None:
        """``law``: the forgetting law that retention follows."""
        self.law = law
        self._clear()

    def _clear(self) -> None:
        self._engrams: dict[str, Engram] = {}
        self._row: dict[str, int] = {}  # engram and fragment ids
        self._ids: list[str | None] = []
        self._holes = 0
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._last = np.zeros(0)
        self._stability = np.zeros(0)
        self._salience = np.zeros(0)
        self._type = np.zeros(0, dtype=np.int8)
        self._alive = np.zeros(0, dtype=bool)
        self._parent = np.zeros(0, dtype=np.intp)  # -1 for an engram's own row
        self._superseded_by: dict[int, str] = {}  # row -> id of the engram that supersedes it
        self._edges: (
            tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float64]] | None
        ) = None

    def __len__(self) -> int:
        return len(self._engrams)

    def __iter__(self) -> Iterator[Engram]:
        return iter(list(self._engrams.values()))

    def __contains__(self, engram_id: object) -> bool:
        return engram_id in self._engrams

    def get(self, engram_id: str) -> Engram | None:
        return self._engrams.get(engram_id)

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
        previous = self._engrams.get(engram.engram_id)
        if previous is None or previous.associations != engram.associations:
            self._edges = None  # rebuilt lazily; an LTP-only update keeps them
        if previous is not None and previous.fragments != engram.fragments:
            self._drop_rows(previous.fragments)
        row = self._set_row(engram.engram_id, vector, parent=-1)
        self._engrams[engram.engram_id] = engram
        superseder = engram.context.get("superseded_by")
        if isinstance(superseder, str):
            self._superseded_by[row] = superseder
        self._type[row] = TYPE_CODES[engram.memory_type]
        self.touch(engram)
        fragments = engram.fragment_embeddings.reshape(-1, vector.size)
        for fragment, fragment_vector in zip(engram.fragments, fragments, strict=True):
            self._set_row(fragment, fragment_vector, parent=row)

    def touch(self, engram: Engram) -> None:
        """Refresh the retention inputs of an engram after LTP or decay."""
        row = self._row[engram.engram_id]
        self._last[row] = engram.last_accessed
        self._stability[row] = engram.stability
        self._salience[row] = engram.salience

    def remove(self, engram_id: str) -> bool:
        engram = self._engrams.pop(engram_id, None)
        if engram is None:
            return False
        self._drop_rows([engram_id, *engram.fragments])
        self._edges = None
        if len(self._ids) > INITIAL_CAPACITY and self._holes > len(self._ids) // 2:
            self._compact()
        return True

    def similar(
        self, vectors: Vector, threshold: float, limit: int = SIMILAR_LIMIT
    ) -> list[list[tuple[Engram, float]]]:
        """For each row of ``vectors``, the (at most ``limit``) engrams closest to it whose
        own embedding has a cosine of at least ``threshold`` (one matrix product for all)."""
        n = len(self._ids)
        if n == 0:
            return [[] for _ in vectors]
        similarity = vectors @ self._vectors[:n].T
        eligible = self._alive[:n] & (self._parent[:n] < 0)
        found = []
        for row in similarity:
            hits = np.flatnonzero((row >= threshold) & eligible)
            if hits.size > limit:
                hits = hits[np.argpartition(-row[hits], limit - 1)[:limit]]
            found.append([(self._engrams[self._ids[r] or ""], float(row[r])) for r in hits])
        return found

    def superseder(self, engram_id: str) -> str | None:
        """The engram that supersedes this one, if it is in the index."""
        superseder = self._superseded_by.get(self._row[engram_id])
        return superseder if superseder in self._engrams else None

    def scores(
        self,
        query: Vector,
        now: float | None,
        *,
        floor: float,
        hops: int,
        decay: float,
        superseded_weight: float = 1.0,
    ) -> Scores:
        """Activation of every row by ``query``, spread over associations (0 off engrams);
        a superseded engram's direct activation is weighed by ``superseded_weight``. With
        ``now`` None, retention is set aside (1): the cue alone."""
        n = len(self._ids)
        if n == 0:
            return Scores(*(np.zeros(0) for _ in range(4)))
        engram_rows = self._alive[:n] & (self._parent[:n] < 0)
        similarity = (self._vectors[:n] @ query).astype(np.float64)
        fragment_rows = np.flatnonzero(self._alive[:n] & (self._parent[:n] >= 0))
        np.maximum.at(similarity, self._parent[fragment_rows], similarity[fragment_rows])
        retention = (
            np.ones(n)
            if now is None
            else dynamics.retention_array(self._last[:n], self._stability[:n], now, self.law)
        )
        direct = dynamics.initial_activation(similarity, retention, self._salience[:n], floor)
        direct = np.where(engram_rows, direct, 0.0)
        for row, superseder in self._superseded_by.items():
            if superseder in self._engrams:
                direct[row] *= superseded_weight
        src, dst, weight = self._edge_arrays()
        activation = dynamics.spread_activation(direct, src, dst, weight, hops, decay)
        return Scores(similarity, retention, direct, activation)

    def explain(self, scores: Scores, ids: list[str]) -> list[Explanation]:
        """The parts of each engram's activation in ``scores``."""
        explanations = []
        for engram_id in ids:
            row = self._row[engram_id]
            direct, activation = float(scores.direct[row]), float(scores.activation[row])
            explanations.append(
                Explanation(
                    similarity=float(scores.similarity[row]),
                    retention=float(scores.retention[row]),
                    salience_factor=float(0.5 + 0.5 * self._salience[row]),
                    direct=direct,
                    spread=max(0.0, activation - direct),
                    activation=activation,
                    superseded_by=self.superseder(engram_id),
                )
            )
        return explanations

    def top(
        self, scores: Scores, k: int, memory_type: MemoryType | None = None
    ) -> list[tuple[Engram, float]]:
        """The ``k`` most active engrams (activation above 0), optionally of one type."""
        n = len(self._ids)
        activation = scores.activation
        eligible = self._alive[:n] & (self._parent[:n] < 0) & (activation > 0)
        if memory_type is not None:
            eligible &= self._type[:n] == TYPE_CODES[memory_type]
        candidates = np.flatnonzero(eligible)
        if candidates.size > k:
            part = np.argpartition(-activation[candidates], k - 1)[:k]
            candidates = candidates[part]
        ranked = candidates[np.argsort(-activation[candidates], kind="stable")]
        return [(self._engrams[self._ids[i] or ""], float(activation[i])) for i in ranked]

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
                self._superseded_by.pop(row, None)
                self._ids[row] = None
                self._alive[row] = False
                self._vectors[row] = 0.0
                self._holes += 1

    def _append(self, engram_id: str, dim: int) -> int:
        row = len(self._ids)
        if row >= self._vectors.shape[0]:
            self._grow(max(INITIAL_CAPACITY, 2 * self._vectors.shape[0]), dim)
        self._ids.append(engram_id)
        self._row[engram_id] = row
        return row

    def _grow(self, capacity: int, dim: int) -> None:
        old = self._vectors.shape[0]
        vectors = np.zeros((capacity, dim), dtype=np.float32)
        if old:
            vectors[:old] = self._vectors
        self._vectors = vectors
        self._last = np.resize(self._last, capacity)
        self._stability = np.resize(self._stability, capacity)
        self._salience = np.resize(self._salience, capacity)
        self._type = np.resize(self._type, capacity)
        self._parent = np.resize(self._parent, capacity)
        alive = np.zeros(capacity, dtype=bool)
        alive[:old] = self._alive
        self._alive = alive

    def _compact(self) -> None:
        engrams = list(self._engrams.values())
        self._clear()
        for engram in engrams:
            self.upsert(engram)

    def _edge_arrays(
        self,
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float64]]:
        if self._edges is None:
            pairs = [
                (self._row[source], self._row[target], weight)
                for source, engram in self._engrams.items()
                for target, weight in engram.associations
                if target in self._engrams
            ]
            src, dst, weight = zip(*pairs, strict=True) if pairs else ((), (), ())
            self._edges = (
                np.asarray(src, dtype=np.intp),
                np.asarray(dst, dtype=np.intp),
                np.asarray(weight, dtype=np.float64),
            )
        return self._edges
