"""The brain's arithmetic (SPEC 3): forgetting, potentiation, spreading activation.

Pure functions: no I/O, no clock of their own. Time is passed in as ``now`` (unix seconds) and
converted to hours, the unit of stability. The SPEC numbers that are tunable come from the
defaults of :class:`neurram.settings.Settings`, so they live in one place.

Two forgetting laws (``forgetting_law``), with stability ``S`` in hours either way:
- ``"power"`` (default), FSRS-style: ``R = (1 + F t / S) ** -0.5`` with ``F = 19/81``, so
  ``R(S) = 0.9``. Forgetting in people follows a power law (Wixted and Ebbesen, 1991): fast at
  first, then a long tail, so an old memory fades in rank without vanishing.
- ``"exponential"``, the original's Ebbinghaus curve ``R = exp(-t / S)``.
"""

from __future__ import annotations

import math
import time

import numpy as np
import numpy.typing as npt

from neurram.engram import Engram, Layer, Vector
from neurram.errors import InvalidInputError
from neurram.settings import ForgettingLaw, Settings

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
RETENTION_WEIGHT = _DEFAULTS.retention_weight  # 0.1
CONSOLIDATION_ACCESS_COUNT = _DEFAULTS.consolidation_access_count  # 3
CONSOLIDATION_SALIENCE = _DEFAULTS.consolidation_salience  # 0.8
FORGETTING_LAW: ForgettingLaw = _DEFAULTS.forgetting_law  # "power"
STABILITY_UNIT = _DEFAULTS.stability_unit_hours  # 72 h: what one unit of granted stability is
POWER_DECAY = 0.5  # FSRS-4.5's exponent
POWER_FACTOR = math.pow(0.9, -1 / POWER_DECAY) - 1  # 19/81: R(S) = 0.9


def hours_between(then: float, now: float) -> float:
    """Hours elapsed from ``then`` to ``now`` (unix seconds); 0 if ``then`` is in the future."""
    return max(0.0, (now - then) / SECONDS_PER_HOUR)


def retention_of(
    hours: npt.ArrayLike, stability: npt.ArrayLike, law: ForgettingLaw = FORGETTING_LAW
) -> FloatArray:
    """Retention after ``hours`` at ``stability`` (hours, floored at ``MIN_STABILITY``)."""
    t = np.asarray(  # a new array (0-d for scalars), worked in place
        np.maximum(np.asarray(hours, dtype=np.float64), 0.0)
        / np.maximum(np.asarray(stability, dtype=np.float64), MIN_STABILITY)
    )
    if law == "exponential":
        return np.exp(np.negative(t, out=t), out=t)
    t *= POWER_FACTOR
    t += 1.0
    # (1 + F t / S) ** -POWER_DECAY: POWER_DECAY being 1/2, a square root (a third of the power's
    # time over 100,000 rows)
    return np.reciprocal(np.sqrt(t, out=t), out=t)


def horizon(stability: float, threshold: float, law: ForgettingLaw = FORGETTING_LAW) -> float:
    """Hours from last access until retention drops to ``threshold``: the inverse of
    :func:`retention_of` (``-S ln(threshold)`` for the exponential law)."""
    s = max(stability, MIN_STABILITY)
    if law == "exponential":
        return -s * math.log(threshold)
    return s * (math.pow(threshold, -1 / POWER_DECAY) - 1) / POWER_FACTOR


def compute_retention(
    engram: Engram, now: float | None = None, law: ForgettingLaw = FORGETTING_LAW
) -> float:
    """Retention in [0, 1] ``t`` hours after the last access, under ``law`` (module doc)."""
    now = time.time() if now is None else now
    return float(retention_of(hours_between(engram.last_accessed, now), engram.stability, law))


def time_until_forgotten(
    engram: Engram,
    now: float | None = None,
    threshold: float = FORGETTING_THRESHOLD,
    law: ForgettingLaw = FORGETTING_LAW,
) -> float:
    """Hours left until retention drops below ``threshold``, >= 0."""
    now = time.time() if now is None else now
    left = horizon(engram.stability, threshold, law) - hours_between(engram.last_accessed, now)
    return max(0.0, left)


def potentiate(
    engram: Engram, now: float, rate: float = LTP_RATE, unit: float = STABILITY_UNIT
) -> None:
    """Long-term potentiation on recall: more stable (by ``rate`` units of ``unit`` hours,
    times the salience gain and ln(1 + access_count)), fully active, touched at ``now``.
    A silent engram used again is active again."""
    revive(engram, savings=0.0)
    engram.access_count += 1
    engram.last_accessed = now
    salience_gain = 1.0 + 1.5 * (engram.salience - 0.5)
    engram.stability += rate * unit * salience_gain * math.log(1 + engram.access_count)
    engram.synaptic_strength = 1.0


def depress(engram: Engram, factor: float = 0.5) -> None:
    """Long-term depression: scale stability and strength down by ``factor`` in (0, 1)."""
    if not 0.0 < factor < 1.0:
        raise InvalidInputError(f"depression factor must be strictly between 0 and 1, got {factor}")
    engram.stability = max(MIN_STABILITY, engram.stability * factor)
    engram.synaptic_strength = max(0.0, engram.synaptic_strength * factor)


def revive(engram: Engram, savings: float) -> None:
    """A silent engram comes back (its layer before it fell silent) with ``savings`` hours of
    stability added to what it kept: relearning is faster than learning (Ebbinghaus)."""
    if engram.layer is not Layer.SILENT:
        return
    engram.layer = Layer.LONG_TERM if "region" in engram.context else Layer.WORKING
    engram.context.pop("silenced_at", None)
    engram.stability += savings


def silence(engram: Engram, now: float) -> None:
    """Below the forgetting threshold: the engram stays stored but leaves the active index."""
    engram.layer = Layer.SILENT
    engram.context["silenced_at"] = now


def decay(engram: Engram, now: float, law: ForgettingLaw = FORGETTING_LAW) -> float:
    """Let the engram fade: its strength becomes its current retention, which is returned."""
    engram.synaptic_strength = compute_retention(engram, now, law)
    return engram.synaptic_strength


def retention_array(
    last_accessed: npt.ArrayLike,
    stability: npt.ArrayLike,
    now: float,
    law: ForgettingLaw = FORGETTING_LAW,
) -> FloatArray:
    """:func:`compute_retention` over arrays of last-access times and stabilities."""
    hours = (now - np.asarray(last_accessed, dtype=np.float64)) / SECONDS_PER_HOUR
    return retention_of(hours, stability, law)


def weigh(value: npt.ArrayLike, weight: float) -> FloatArray:
    """How much a factor in [0, 1] counts in an activation: ``1 - weight + weight x value``
    (all of it at ``weight=1``, none at 0)."""
    return 1.0 - weight + weight * np.asarray(value, dtype=np.float64)


def activation_factors(
    retention: npt.ArrayLike,
    salience: npt.ArrayLike,
    salience_weight: float = SALIENCE_WEIGHT,
    retention_weight: float = RETENTION_WEIGHT,
) -> FloatArray:
    """What a match is multiplied by to seed activation: ``weigh(retention) x
    weigh(salience)``. The original's is ``retention x (0.5 + 0.5 x salience)``: weights 1 and
    0.5."""
    return weigh(retention, retention_weight) * weigh(salience, salience_weight)


def initial_activation(
    similarity: npt.ArrayLike, factors: npt.ArrayLike, floor: float = ACTIVATION_FLOOR
) -> FloatArray:
    """Seed activation ``similarity x factors`` (:func:`activation_factors`); <= ``floor``
    is 0."""
    activation = np.asarray(similarity, dtype=np.float64) * np.asarray(factors)
    return np.where(activation > floor, activation, 0.0)


def _indices(values: npt.ArrayLike) -> npt.NDArray[np.integer]:
    """``values`` as an array of indices (not copied when already of an integer type)."""
    array = np.asarray(values)
    return array if array.dtype.kind in "iu" else array.astype(np.intp)


def spread_activation(
    activation: npt.ArrayLike,
    src: npt.ArrayLike,
    dst: npt.ArrayLike,
    weight: npt.ArrayLike,
    hops: int = SPREAD_HOPS,
    decay: float = SPREAD_DECAY,
    floor: float | None = None,
    strongest: float | None = None,
) -> FloatArray:
    """Spread activation along directed edges ``src -> dst`` for ``hops`` hops.

    Each hop sends ``act[src] x weight x decay`` to ``dst``; a node keeps the max of its own
    activation and what reaches it. Pass both directions for undirected associations.

    ``floor`` (activations and weights at least 0, weights at most ``1 / decay``): only what
    can send ``floor`` or more sends, so a node's activation is exact wherever the full spread
    leaves it at or above ``floor``, and below it at least its own and at most the full
    spread's. A ranking of the nodes above ``floor`` needs no more: over a million edges, the
    full spread takes milliseconds, this one a pass over the nodes when none is that strong.
    ``strongest``: at least every weight, when the caller knows one (else their max, a pass
    over every edge).
    """
    act = np.array(activation, dtype=np.float64)
    sources, targets = _indices(src), _indices(dst)
    weights = np.asarray(weight, dtype=np.float64)
    if not sources.shape == targets.shape == weights.shape:
        raise InvalidInputError("src, dst and weight must have the same length")
    if hops < 0:
        raise InvalidInputError(f"hops must be >= 0, got {hops}")
    # a hop passes on at most ``reach`` of what a node holds: only a node holding
    # floor / reach or more can send floor or more (and, reach being at most 1, holds its
    # own exactly, by induction over the hops)
    reach = (float(weights.max(initial=0.0)) if strongest is None else strongest) * decay
    strong = None  # every node sends
    if floor is not None and reach <= 1.0:
        strong = floor / reach if reach > 0.0 else np.inf
    for _ in range(hops):
        edges: slice | npt.NDArray[np.bool_] = slice(None)  # those of the nodes that send
        if strong is not None:
            if not (senders := act >= strong).any():
                break
            edges = senders[sources]
        reached = act.copy()
        np.maximum.at(reached, targets[edges], act[sources[edges]] * weights[edges] * decay)
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
    return bool(qualifies(engram.access_count, engram.salience, min_access_count, min_salience))


def qualifies(
    access_count: npt.ArrayLike,
    salience: npt.ArrayLike,
    min_access_count: int = CONSOLIDATION_ACCESS_COUNT,
    min_salience: float = CONSOLIDATION_SALIENCE,
) -> npt.NDArray[np.bool_]:
    """:func:`qualifies_for_consolidation` over arrays of access counts and saliences."""
    counts, saliences = np.asarray(access_count), np.asarray(salience)
    return (counts >= min_access_count) | (saliences >= min_salience)
