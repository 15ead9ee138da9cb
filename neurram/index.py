"""The Hippocampus's vector index: engrams as rows of a matrix, scored with numpy.

A derived cache: everything in it can be rebuilt from the store. Rows of removed engrams are
zeroed and compacted away once they make up half the matrix.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from neurram import dynamics
from neurram.engram import Engram, Explanation, MemoryType, Vector

TYPE_CODES = {t: i for i, t in enumerate(MemoryType)}
INITIAL_CAPACITY = 64


class EngramIndex:
    """Engrams with their embedding, retention inputs and association edges as arrays."""

    def __init__(self) -> None:
        self._clear()

    def _clear(self) -> None:
        self._engrams: dict[str, Engram] = {}
        self._row: dict[str, int] = {}
        self._ids: list[str | None] = []
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._last = np.zeros(0)
        self._stability = np.zeros(0)
        self._salience = np.zeros(0)
        self._type = np.zeros(0, dtype=np.int8)
        self._alive = np.zeros(0, dtype=bool)
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
        """Add or replace an encoded engram."""
        vector = engram.embedding
        if vector.size == 0:
            raise ValueError(f"engram {engram.engram_id} has no embedding; encode it first")
        if self.dim is not None and vector.size != self.dim:
            raise ValueError(
                f"engram {engram.engram_id} has a {vector.size}-dim embedding, the index holds "
                f"{self.dim}-dim ones: one brain must use one encoder model"
            )
        row = self._row.get(engram.engram_id)
        if row is None:
            row = self._append(engram.engram_id, vector.size)
        previous = self._engrams.get(engram.engram_id)
        if previous is None or previous.associations != engram.associations:
            self._edges = None  # rebuilt lazily; an LTP-only update keeps them
        self._engrams[engram.engram_id] = engram
        self._vectors[row] = vector
        self._type[row] = TYPE_CODES[engram.memory_type]
        self._alive[row] = True
        self.touch(engram)

    def touch(self, engram: Engram) -> None:
        """Refresh the retention inputs of an engram after LTP or decay."""
        row = self._row[engram.engram_id]
        self._last[row] = engram.last_accessed
        self._stability[row] = engram.stability
        self._salience[row] = engram.salience

    def remove(self, engram_id: str) -> bool:
        row = self._row.pop(engram_id, None)
        if row is None:
            return False
        del self._engrams[engram_id]
        self._ids[row] = None
        self._alive[row] = False
        self._vectors[row] = 0.0
        self._edges = None
        if len(self._ids) > INITIAL_CAPACITY and len(self._engrams) < len(self._ids) // 2:
            self._compact()
        return True

    def activation(
        self, query: Vector, now: float, *, floor: float, hops: int, decay: float
    ) -> npt.NDArray[np.float64]:
        """Spreading activation of every row from ``query`` (0 for removed rows)."""
        n = len(self._ids)
        if n == 0:
            return np.zeros(0)
        similarity = self._vectors[:n] @ query
        retention = dynamics.retention_array(self._last[:n], self._stability[:n], now)
        initial = dynamics.initial_activation(similarity, retention, self._salience[:n], floor)
        initial = np.where(self._alive[:n], initial, 0.0)
        src, dst, weight = self._edge_arrays()
        return dynamics.spread_activation(initial, src, dst, weight, hops, decay)

    def explain(
        self,
        query: Vector,
        ids: list[str],
        activation: npt.NDArray[np.float64],
        now: float,
        floor: float,
    ) -> list[Explanation]:
        """The parts of each engram's ``activation`` (computed from ``query`` at ``now``)."""
        rows = [self._row[i] for i in ids]
        similarity = self._vectors[rows] @ query
        retention = dynamics.retention_array(self._last[rows], self._stability[rows], now)
        direct = dynamics.initial_activation(similarity, retention, self._salience[rows], floor)
        return [
            Explanation(
                similarity=float(similarity[i]),
                retention=float(retention[i]),
                salience_factor=float(0.5 + 0.5 * self._salience[row]),
                direct=float(direct[i]),
                spread=float(max(0.0, activation[row] - direct[i])),
                activation=float(activation[row]),
            )
            for i, row in enumerate(rows)
        ]

    def top(
        self, activation: npt.NDArray[np.float64], k: int, memory_type: MemoryType | None = None
    ) -> list[tuple[Engram, float]]:
        """The ``k`` most active engrams (activation above 0), optionally of one type."""
        n = len(self._ids)
        eligible = self._alive[:n] & (activation > 0)
        if memory_type is not None:
            eligible &= self._type[:n] == TYPE_CODES[memory_type]
        candidates = np.flatnonzero(eligible)
        if candidates.size > k:
            part = np.argpartition(-activation[candidates], k - 1)[:k]
            candidates = candidates[part]
        ranked = candidates[np.argsort(-activation[candidates], kind="stable")]
        return [(self._engrams[self._ids[i] or ""], float(activation[i])) for i in ranked]

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
                if target in self._row
            ]
            src, dst, weight = zip(*pairs, strict=True) if pairs else ((), (), ())
            self._edges = (
                np.asarray(src, dtype=np.intp),
                np.asarray(dst, dtype=np.intp),
                np.asarray(weight, dtype=np.float64),
            )
        return self._edges
