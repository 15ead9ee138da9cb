"""Association edges between rows of the index, as flat arrays kept up to date.

Spreading activation reads every edge at once (``src``, ``dst``, ``weight``). A source's
edges are replaced by zeroing the old ones and appending the new, and a row that goes takes
its edges either way with it: an engram that comes or changes its associations costs what
it brings plus one pass over the weights, never a rebuild of every edge. A zeroed edge costs
spreading nothing (each row keeps the max of what reaches it); zeroed edges are compacted
away once they are half of the list. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]
GROWTH = 1.25  # a full list gains a quarter more room (amortised copies)


class EdgeList:
    """Directed, weighted edges from row to row."""

    def __init__(self) -> None:
        self._src: IntArray = np.zeros(0, dtype=np.int32)
        self._dst: IntArray = np.zeros(0, dtype=np.int32)
        self._weight: FloatArray = np.zeros(0)
        self._count = 0
        self._zeroed = 0
        self._strongest = 0.0

    def __len__(self) -> int:
        """Edges held, zeroed ones included."""
        return self._count

    def arrays(self) -> tuple[IntArray, IntArray, FloatArray]:
        """Every edge as (sources, targets, weights): views, valid until the next change."""
        count = self._count
        return self._src[:count], self._dst[:count], self._weight[:count]

    @property
    def strongest(self) -> float:
        """At least every edge's weight (the greatest added since the list was last
        compacted): spreading needs it at each recall, where a pass over a million weights
        takes half a millisecond."""
        return self._strongest

    def add(self, src: npt.ArrayLike, dst: npt.ArrayLike, weight: npt.ArrayLike) -> None:
        """Append edges ``src[i] -> dst[i]`` of ``weight[i]`` (sequences of one length)."""
        sources = np.asarray(src, dtype=np.int32)
        weights = np.asarray(weight, dtype=np.float64)
        self._strongest = max(self._strongest, float(weights.max(initial=0.0)))
        if self._count == 0:  # taken as they are (a view, when they are int32 / float64
            # buffers already): no second copy of every edge while a whole list is derived
            self._src, self._dst = sources, np.asarray(dst, dtype=np.int32)
            self._weight, self._count = weights, sources.size
            return
        end = self._count + sources.size
        if end > self._src.size:
            self._grow(max(end, int(GROWTH * self._src.size)))
        self._src[self._count : end] = sources
        self._dst[self._count : end] = np.asarray(dst, dtype=np.int32)
        self._weight[self._count : end] = weights
        self._count = end

    def clear(self, rows: Iterable[int], size: int) -> None:
        """Zero the edges from ``rows`` (every row below ``size``), in one pass."""
        src, _, weight = self.arrays()
        gone = self._marked(rows, size)[src] & (weight != 0.0)
        weight[gone] = 0.0
        self._zeroed += int(gone.sum())
        if 2 * self._zeroed > self._count:
            self._compact()

    def sources_into(self, rows: Iterable[int], size: int) -> IntArray:
        """The rows with an edge into one of ``rows`` (every row below ``size``)."""
        src, dst, weight = self.arrays()
        return np.unique(src[self._marked(rows, size)[dst] & (weight != 0.0)])

    @staticmethod
    def _marked(rows: Iterable[int], size: int) -> npt.NDArray[np.bool_]:
        mask = np.zeros(size, dtype=bool)
        mask[np.fromiter(rows, dtype=np.intp)] = True
        return mask

    def _grow(self, capacity: int) -> None:
        self._src = np.resize(self._src, capacity)
        self._dst = np.resize(self._dst, capacity)
        self._weight = np.resize(self._weight, capacity)

    def _compact(self) -> None:
        src, dst, weight = self.arrays()
        kept = weight != 0.0
        self._count = int(kept.sum())
        self._src, self._dst, self._weight = src[kept], dst[kept], weight[kept]
        self._zeroed = 0
        self._strongest = float(self._weight.max(initial=0.0))
