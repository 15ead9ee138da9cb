"""The brain's arithmetic (SPEC 3): forgetting, potentiation, spreading activation.

Pure functions: no I/O, no clock of their own. Time is passed in as ``now`` (unix seconds) and
converted to hours, the unit of stability. The SPEC numbers that are tunable come from the
defaults of :class:`neurram.settings.Settings`, so they live in one place.
"""

from __future__ import annotations

import math
import time

import numpy as np
import numpy.typing as npt

from neurram.engram import Engram, Vector
from neurram.errors import InvalidInputError
from neurram.settings import Settings

FloatArray = npt.NDArray[np.float64]

_DEFAULTS = Settings()

SECONDS_PER_HOUR = 3600.0
LTP_RATE = 0.3
MIN_STABILITY = 0.1
FORGETTING_THRESHOLD = _DEFAULTS.forgetting_threshold  # 0.05
SPREAD_DECAY = _DEFAULTS.spread_decay  # 0.6
SPREAD_HOPS = _DEFAULTS.spread_hops  # 2
ACTIVATION_FLOOR = _DEFAULTS.activation_floor  # 0.08
SALIENCE_WEIGHT = _DEFAULTS.salience_weight  # 0.25
RETENTION_WEIGHT = _DEFAULTS.retention_weight  # 0.25
CONSOLIDATION_ACCESS_COUNT = _DEFAULTS.consolidation_access_count  # 3
CONSOLIDATION_SALIENCE = _DEFAULTS.consolidation_salience  # 0.8


def hours_between(then: float, now: float) -> float:
    """Hours elapsed from ``then`` to ``now`` (unix seconds); 0 if ``then`` is in the future."""
    return max(0.0, (now - then) / SECONDS_PER_HOUR)


def _stability(engram: Engram) -> float:
    """Stability as used by the formulas: never below the floor, so R stays defined."""
    return max(engram.stability, MIN_STABILITY)


def compute_retention(engram: Engram, now: float | None = None) -> float:
    """Ebbinghaus retention ``R = exp(-t / S)``, t = hours since last access; in [0, 1]."""
    now = time.time() if now is None else now
    return math.exp(-hours_between(engram.last_accessed, now) / _stability(engram))


def time_until_forgotten(
    engram: Engram, now: float | None = None, threshold: float = FORGETTING_THRESHOLD
) -> float:
    """Hours left until retention drops below ``threshold``: ``max(0, -S ln(threshold) - t)``."""
    now = time.time() if now is None else now
    horizon = -_stability(engram) * math.log(threshold)
    return max(0.0, horizon - hours_between(engram.last_accessed, now))


def potentiate(engram: Engram, now: float, rate: float = LTP_RATE) -> None:
    """Long-term potentiation on recall: more stable, fully active, touched at ``now``."""
    engram.access_count += 1
    engram.last_accessed = now
    salience_gain = 1.0 + 1.5 * (engram.salience - 0.5)
    engram.stability += rate * salience_gain * math.log(1 + engram.access_count)
    engram.synaptic_strength = 1.0


def depress(engram: Engram, factor: float = 0.5) -> None:
    """Long-term depression: scale stability and strength down by ``factor`` in (0, 1)."""
    if not 0.0 < factor < 1.0:
        raise InvalidInputError(f"depression factor must be strictly between 0 and 1, got {factor}")
    engram.stability = max(MIN_STABILITY, engram.stability * factor)
    engram.synaptic_strength = max(0.0, engram.synaptic_strength * factor)


def decay(engram: Engram, now: float) -> float:
    """Let the engram fade: its strength becomes its current retention, which is returned."""
    engram.synaptic_strength = compute_retention(engram, now)
    return engram.synaptic_strength


def retention_array(
    last_accessed: npt.ArrayLike, stability: npt.ArrayLike, now: float
) -> FloatArray:
    """:func:`compute_retention` over arrays of last-access times and stabilities."""
    hours = np.maximum(0.0, (now - np.asarray(last_accessed, dtype=np.float64)) / SECONDS_PER_HOUR)
    stable = np.maximum(np.asarray(stability, dtype=np.float64), MIN_STABILITY)
    return np.exp(-hours / stable)


def weigh(value: npt.ArrayLike, weight: float) -> FloatArray:
    """How much a factor in [0, 1] counts in an activation: ``1 - weight + weight x value``
    (all of it at ``weight=1``, none at 0)."""
    return 1.0 - weight + weight * np.asarray(value, dtype=np.float64)


def initial_activation(
    similarity: npt.ArrayLike,
    retention: npt.ArrayLike,
    salience: npt.ArrayLike,
    floor: float = ACTIVATION_FLOOR,
    salience_weight: float = SALIENCE_WEIGHT,
    retention_weight: float = RETENTION_WEIGHT,
) -> FloatArray:
    """Seed activation ``similarity x weigh(retention) x weigh(salience)``; <= ``floor`` is 0.
    The original's is ``similarity x retention x (0.5 + 0.5 x salience)``: weights 1 and 0.5."""
    sim = np.asarray(similarity, dtype=np.float64)
    factors = weigh(retention, retention_weight) * weigh(salience, salience_weight)
    activation = sim * factors
    return np.where(activation > floor, activation, 0.0)


def spread_activation(
    activation: npt.ArrayLike,
    src: npt.ArrayLike,
    dst: npt.ArrayLike,
    weight: npt.ArrayLike,
    hops: int = SPREAD_HOPS,
    decay: float = SPREAD_DECAY,
) -> FloatArray:
    """Spread activation along directed edges ``src -> dst`` for ``hops`` hops.

    Each hop sends ``act[src] x weight x decay`` to ``dst``; a node keeps the max of its own
    activation and what reaches it. Pass both directions for undirected associations.
    """
    act = np.array(activation, dtype=np.float64)
    sources = np.asarray(src, dtype=np.intp)
    targets = np.asarray(dst, dtype=np.intp)
    weights = np.asarray(weight, dtype=np.float64)
    if not sources.shape == targets.shape == weights.shape:
        raise InvalidInputError("src, dst and weight must have the same length")
    if hops < 0:
        raise InvalidInputError(f"hops must be >= 0, got {hops}")
    for _ in range(hops):
        reached = act.copy()
        np.maximum.at(reached, targets, act[sources] * weights * decay)
        act = reached
    return act


def normalize(v: Vector) -> Vector:
    """``v`` scaled to unit L2 norm along its last axis; all-zero rows are left at zero."""
    arr = np.asarray(v, dtype=np.float32)
    norm = np.linalg.norm(arr, axis=-1, keepdims=True)
    unit: Vector = np.divide(arr, norm, out=np.zeros_like(arr), where=norm > 0)
    return unit


def cosine_similarities(matrix: Vector, query: Vector) -> FloatArray:
    """Cosine of ``query`` (d,) with each row of ``matrix`` (n, d); both L2-normalised."""
    rows = np.asarray(matrix, dtype=np.float32)
    if rows.shape[0] == 0:
        return np.zeros(0, dtype=np.float64)
    sims = rows @ np.asarray(query, dtype=np.float32)
    return np.clip(sims, -1.0, 1.0).astype(np.float64)


def qualifies_for_consolidation(
    engram: Engram,
    min_access_count: int = CONSOLIDATION_ACCESS_COUNT,
    min_salience: float = CONSOLIDATION_SALIENCE,
) -> bool:
    """Systems consolidation: rehearsed often enough, or salient enough, to go long-term."""
    return engram.access_count >= min_access_count or engram.salience >= min_salience
