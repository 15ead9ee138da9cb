"""What ``Brain.perceive`` sends: a caller's arguments checked into a :class:`Stimulus`, one
or a batch, and the engram a stimulus becomes when the pipeline did not encode it.

Part of the facade's layer (only :mod:`neurram.brain` imports it): every check of perceive's
arguments lives here once, for a single call and for every item of a batch alike.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from neurram import validation
from neurram.bus.messages import Outcome, Stimulus
from neurram.engram import Engram, Layer, MemoryType, new_id
from neurram.errors import InvalidInputError, InvalidItemError

Moment = float | datetime  # unix seconds, or a datetime (naive = local time)
Item = str | Mapping[str, Any]  # a content, or perceive's keyword arguments


def stimulus(
    max_bytes: int,
    now: float,
    reply_to: str,
    content: str,
    memory_type: MemoryType | str = MemoryType.EPISODIC,
    salience: float | None = None,
    reward: float = 0.0,
    modality: str = "text",
    context: Mapping[str, Any] | None = None,
    context_hint: str | None = None,
    occurred_at: Moment | None = None,
) -> Stimulus:
    """The stimulus of one perceive, perceived ``now`` (its arguments after ``reply_to``);
    raises :class:`InvalidInputError` (or a subclass) saying what to pass instead."""
    return Stimulus(
        stimulus_id=new_id(),
        content=validation.content(content, max_bytes),
        memory_type=validation.memory_type(memory_type),
        salience=None if salience is None else validation.unit_interval("salience", salience),
        reward=validation.unit_interval("reward", reward),
        modality=validation.text("modality", modality),
        context=validation.context(context),
        context_hint=None
        if context_hint is None
        else validation.text("context_hint", context_hint),
        perceived_at=now,
        occurred_at=None if occurred_at is None else validation.occurred_at(occurred_at, now),
        reply_to=reply_to,
    )


FIELDS = tuple(inspect.signature(stimulus).parameters)[3:]  # the keys an item may have


def batch(items: Iterable[Item], max_bytes: int, now: float, reply_to: str) -> list[Stimulus]:
    """The stimuli of ``items``, in order, each a content or a mapping of :data:`FIELDS`
    (``content`` required). Checks every item before returning any: raises
    :class:`InvalidItemError` naming the first bad one."""
    if isinstance(items, str | bytes | Mapping):
        raise InvalidInputError(
            f"items must be a list of contents or of mappings, got {type(items).__name__}; "
            "wrap a single item in a list"
        )
    return [_item(index, item, max_bytes, now, reply_to) for index, item in enumerate(items)]


def _item(index: int, item: Any, max_bytes: int, now: float, reply_to: str) -> Stimulus:
    if isinstance(item, str):
        item = {"content": item}
    if not isinstance(item, Mapping):
        raise InvalidItemError(
            index, f"must be a str or a mapping of perceive's arguments, got {type(item).__name__}"
        )
    unknown = sorted(str(key) for key in item if key not in FIELDS)
    if unknown or "content" not in item:
        reason = f"unknown keys {unknown}" if unknown else "no 'content'"
        raise InvalidItemError(index, f"{reason}; its keys are among {', '.join(FIELDS)}")
    try:
        return stimulus(max_bytes, now, reply_to, **item)
    except InvalidInputError as exc:
        raise InvalidItemError(index, str(exc)) from exc


def unencoded(stimulus: Stimulus) -> Engram:
    """The engram a stimulus would become, before the regions encoded it."""
    return Engram(
        engram_id=stimulus.stimulus_id,
        content=stimulus.content,
        memory_type=stimulus.memory_type,
        salience=0.5 if stimulus.salience is None else stimulus.salience,
        encoded_at=stimulus.perceived_at,
        last_accessed=stimulus.perceived_at,
        context=dict(stimulus.context),
        layer=Layer.SENSORY,
    )


def perceived(stimulus: Stimulus, outcome: Outcome) -> Engram:
    """What an awaited perceive returns: the encoded engram, or the unencoded one with
    ``context["outcome"]`` ("gated", "expired") and ``context["detail"]`` when not kept."""
    if outcome.engram is not None:
        return outcome.engram
    engram = unencoded(stimulus)
    engram.context.update(outcome=outcome.status, detail=outcome.detail)
    return engram
