"""The protocol: every message that travels on a brain's streams, as tagged msgspec Structs.

Stream -> message -> consumer:
  sensory     Stimulus        SensoryCortex   (from Brain.perceive)
  sensed      Stimulus        Thalamus
  attended    Attended        Amygdala
  tagged      Tagged          PrefrontalCortex
  held        Held            Hippocampus
  consolidate Consolidate     Neocortex, Cerebellum, BasalGanglia (each its own group)
  recall      RecallRequest   Hippocampus
  sleep       SleepRequest    SleepCycle
  heartbeat   Heartbeat       SleepCycle (idle detection), `neurram top`
  outcome     Outcome         observers (fate of every stimulus and consolidation)
  changes     Change          every Hippocampus instance, by plain XREAD (index refresh)
  reply:<id>  Outcome | RecallReply | SleepReply   one client's replies
  tally:<id>  (a hash, not a stream)             one client's wait=False outcomes, counted
"""

from __future__ import annotations

import functools
from typing import Any, Literal, Union

import msgspec

from neurram.engram import Engram, Explanation, MemoryType, dec_hook, enc_hook

from .codec import Codec


class Stimulus(msgspec.Struct, tag="stimulus", kw_only=True):
    """Raw input as the client gave it; ``stimulus_id`` becomes the engram's id."""

    stimulus_id: str
    content: str
    memory_type: MemoryType = MemoryType.EPISODIC
    salience: float | None = None
    reward: float = 0.0
    modality: str = "text"
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    context_hint: str | None = None
    perceived_at: float
    occurred_at: float | None = None  # when the event happened, if not when perceived
    reply_to: str | None = None


class Attended(msgspec.Struct, tag="attended", kw_only=True):
    """A stimulus that passed the Thalamus, with the relevance it scored, and its salience
    (the caller's, else the heuristic's; None: not scored), which the Amygdala reuses."""

    stimulus: Stimulus
    relevance: float
    salience: float | None = None


class Tagged(msgspec.Struct, tag="tagged", kw_only=True):
    """An encoded engram (salience and embedding set) on its way to working memory."""

    engram: Engram
    reply_to: str | None = None


class Held(msgspec.Struct, tag="held", kw_only=True):
    """An engram now held in working memory, for the stimulus ``request_id``; ``rehearsal``
    when the stimulus restated an engram held or stored already."""

    request_id: str
    engram: Engram
    reply_to: str | None = None
    rehearsal: bool = False


class Consolidate(msgspec.Struct, tag="consolidate", kw_only=True):
    """Move ``engram`` into the long-term ``region``; the region answers with an Outcome."""

    request_id: str
    region: str
    engram: Engram
    reward: float = 0.0
    reply_to: str | None = None


Status = Literal["held", "stored", "gated", "expired"]


class Outcome(msgspec.Struct, tag="outcome", kw_only=True):
    """The fate of a stimulus or a consolidation; ``request_id`` is the stimulus id.

    The client's reply carries the whole engram; the ``outcome`` stream only its id.
    """

    request_id: str
    status: Status
    engram: Engram | None = None
    engram_id: str | None = None
    detail: str = ""
    # to a waiting client, its working memory once the engram was held, each engram as
    # stored, least recent first (see RecallReply); None: the client reads it
    working_memory: list[msgspec.Raw] | None = None


class RecallRequest(msgspec.Struct, tag="recall", kw_only=True):
    """Pattern completion asked by a client."""

    request_id: str
    query: str
    top_k: int = 5
    memory_type: MemoryType | None = None
    since: float | None = None  # occurred_at window, bounds included
    until: float | None = None
    reply_to: str
    include_silent: bool = False  # search silent engrams fully, not only as a fallback
    explain: bool = True  # answer with why each engram scored (a client that does not say
    # asks for it)


class RecallReply(msgspec.Struct, tag="recall_reply", kw_only=True):
    """Engrams ranked by activation and, if the request asked, why each scored (else no
    explanations), or the error that prevented recall."""

    request_id: str
    results: list[tuple[Engram, float]] = msgspec.field(default_factory=list)
    explanations: list[Explanation] = msgspec.field(default_factory=list)
    error: str | None = None
    # the client's working memory after the recall, each engram as stored (dump_engram),
    # least recent first: the client need not read it again; None: the client reads it
    working_memory: list[msgspec.Raw] | None = None


class SleepRequest(msgspec.Struct, tag="sleep", kw_only=True):
    """Ask the SleepCycle for one cycle now."""

    request_id: str
    reply_to: str


class SleepReply(msgspec.Struct, tag="sleep_reply", kw_only=True):
    """Counts of one sleep cycle: consolidated, pruned_wm, pruned_ltm, decayed."""

    request_id: str
    stats: dict[str, int] = msgspec.field(default_factory=dict)
    error: str | None = None


class Heartbeat(msgspec.Struct, tag="heartbeat", kw_only=True):
    """Activity counters of one actor, sent every few seconds, and once more when it stops."""

    region: str
    consumer: str
    at: float
    handled: int
    failed: int
    dead: int
    redelivered: int
    stopped: bool = False


class Change(msgspec.Struct, tag="change", kw_only=True):
    """Engram ids written or deleted in the store; index caches follow this log."""

    upserted: list[str] = msgspec.field(default_factory=list)
    deleted: list[str] = msgspec.field(default_factory=list)


Message = (
    Stimulus
    | Attended
    | Tagged
    | Held
    | Consolidate
    | Outcome
    | RecallRequest
    | RecallReply
    | SleepRequest
    | SleepReply
    | Heartbeat
    | Change
)
Reply = Outcome | RecallReply | SleepReply

MESSAGES: Codec[Message] = Codec(Message, enc_hook=enc_hook, dec_hook=dec_hook)
REPLIES: Codec[Reply] = Codec(Reply, enc_hook=enc_hook, dec_hook=dec_hook)

STREAM_TYPES: dict[str, Any] = {
    "sensory": Stimulus,
    "sensed": Stimulus,
    "attended": Attended,
    "tagged": Tagged,
    "held": Held,
    "consolidate": Consolidate,
    "outcome": Outcome,
    "recall": RecallRequest,
    "sleep": SleepRequest,
    "heartbeat": Heartbeat,
    "changes": Change,
}
"""What each stream carries; a message of another type on it is malformed (dead-lettered)."""


@functools.cache
def codec_for(streams: tuple[str, ...]) -> Codec[Message]:
    """A codec that accepts only what ``streams`` carry (any message on an unknown stream)."""
    if not all(s in STREAM_TYPES for s in streams):
        return MESSAGES
    kinds = tuple(dict.fromkeys(STREAM_TYPES[s] for s in streams))
    union = kinds[0] if len(kinds) == 1 else Union[kinds]  # noqa: UP007 (built at run time)
    return Codec(union, enc_hook=enc_hook, dec_hook=dec_hook)


def request_id_of(reply: Reply) -> str:
    """The id a reply answers."""
    return reply.request_id
