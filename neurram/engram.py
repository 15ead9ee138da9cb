"""The engram: the physical trace a memory leaves (Semon, 1904), as a msgspec Struct.

Engrams travel on the bus and rest in Redis as msgpack. On the bus (and in exports) their
embeddings are raw float32 bytes (``enc_hook``); at rest, float16 bytes in a msgpack extension
(:func:`dump_engram`): half the size, cosines moved by about 1e-3, which no recall figure
notices. ``ext_hook`` and ``dec_hook`` read both, so engrams stored before as float32 are still
read.
"""

from __future__ import annotations

import math
import time
import uuid
from enum import StrEnum
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]


class MemoryType(StrEnum):
    """What kind of memory an engram is; decides its long-term region."""

    EPISODIC = "episodic"
    SEMANTIC = "semantic"
    PROCEDURAL = "procedural"
    HABITUAL = "habitual"


class Layer(StrEnum):
    """Where an engram rests: the sensory buffer, working memory/hippocampus, long-term, or
    silent (stored, out of the active index: fell below the forgetting threshold)."""

    SENSORY = "sensory"
    WORKING = "working"
    LONG_TERM = "long_term"
    SILENT = "silent"


def new_id() -> str:
    """A fresh random identifier for a stimulus or engram."""
    return uuid.uuid4().hex


def empty_vector() -> Vector:
    """The embedding of an engram that has not been encoded yet."""
    return np.zeros(0, dtype=np.float32)


class Engram(msgspec.Struct, kw_only=True, eq=False):
    """One memory. Times are unix seconds; the dynamics convert them to hours."""

    content: str
    memory_type: MemoryType = MemoryType.EPISODIC
    salience: float = 0.5
    embedding: Vector = msgspec.field(default_factory=empty_vector)
    synaptic_strength: float = 1.0
    stability: float = 1.0
    encoded_at: float = msgspec.field(default_factory=time.time)
    last_accessed: float = msgspec.field(default_factory=time.time)
    access_count: int = 0
    associations: list[tuple[str, float]] = msgspec.field(default_factory=list)
    fragments: list[str] = msgspec.field(default_factory=list)  # ids of sentence fragments
    fragment_embeddings: Vector = msgspec.field(default_factory=empty_vector)  # row-major
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    layer: Layer = Layer.SENSORY
    engram_id: str = msgspec.field(default_factory=new_id)
    occurred_at: float = math.nan  # when the remembered event happened; NaN: when encoded
    episode: str = ""  # the episode it belongs to (id of the episode's first engram)

    def __post_init__(self) -> None:
        if math.isnan(self.occurred_at):
            self.occurred_at = self.encoded_at


class Explanation(msgspec.Struct, kw_only=True, frozen=True):
    """Why a recalled engram scored.

    ``direct = match x retention_factor x salience_factor``, each factor being
    ``1 - weight + weight x value`` (0 when not above the activation floor; times
    ``superseded_weight`` when a later engram supersedes it), plus what spread to it over
    associations. ``match`` is the sum of its weighed parts: ``semantic`` (meaning),
    ``lexical`` (words), ``temporal`` (a neighbour in time matched strongly) and ``context``
    (the words around it in its episode); ``similarity`` is the raw cosine.
    """

    similarity: float
    semantic: float
    lexical: float
    temporal: float
    context: float
    match: float
    retention: float
    retention_factor: float
    salience_factor: float
    direct: float
    spread: float
    activation: float
    superseded_by: str | None = None  # a later engram about the same thing


FLOAT16_EXT = 1  # msgpack extension code of an embedding as float16 bytes


def enc_hook(obj: Any) -> Any:
    """Encode what msgpack cannot: embeddings become raw float32 bytes."""
    if isinstance(obj, np.ndarray):
        return np.ascontiguousarray(obj, dtype=np.float32).tobytes()
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


def half_hook(obj: Any) -> Any:
    """Encode embeddings at rest: float16 bytes in an extension."""
    if isinstance(obj, np.ndarray):
        return msgspec.msgpack.Ext(FLOAT16_EXT, obj.astype("<f2").tobytes())
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


def ext_hook(code: int, data: memoryview) -> Any:
    """Decode an embedding at rest, float16 bytes in their extension, into a float32 vector
    as msgpack is read (the vector then needs no ``dec_hook`` work)."""
    if code == FLOAT16_EXT:
        return np.frombuffer(data, dtype="<f2").astype(np.float32)
    return msgspec.msgpack.Ext(code, bytes(data))


def dec_hook(tp: type, obj: Any) -> Any:
    """Decode an embedding: a vector :func:`ext_hook` decoded, or raw float32 bytes (on the
    bus, and the form stored before), into a float32 vector."""
    if getattr(tp, "__origin__", tp) is np.ndarray:
        if isinstance(obj, np.ndarray):
            return obj
        if isinstance(obj, bytes | bytearray | memoryview):
            return np.frombuffer(obj, dtype=np.float32).copy()
    raise TypeError(f"cannot decode {tp!r}")


class _LayerOnly(msgspec.Struct):
    layer: Layer = Layer.SENSORY


class Vitals(msgspec.Struct, kw_only=True):
    """What sleep's rules read of an engram (its defaults are :class:`Engram`'s): decoded
    without the content and the embeddings, which make up most of a stored engram."""

    engram_id: str = msgspec.field(default_factory=new_id)
    layer: Layer = Layer.SENSORY
    salience: float = 0.5
    access_count: int = 0
    synaptic_strength: float = 1.0
    stability: float = 1.0
    last_accessed: float = msgspec.field(default_factory=time.time)
    context: dict[str, Any] = msgspec.field(default_factory=dict)


_encoder = msgspec.msgpack.Encoder(enc_hook=half_hook)
_decoder = msgspec.msgpack.Decoder(Engram, dec_hook=dec_hook, ext_hook=ext_hook)
_layer_decoder = msgspec.msgpack.Decoder(_LayerOnly)
_vitals_decoder = msgspec.msgpack.Decoder(Vitals)


def dump_engram(engram: Engram) -> bytes:
    """The engram as msgpack with float16 embeddings, the form it rests in within Redis."""
    return _encoder.encode(engram)


def load_engram(data: bytes | msgspec.Raw) -> Engram:
    """Inverse of :func:`dump_engram` (also of its bytes carried raw in a message)."""
    return _decoder.decode(data)


def load_layer(data: bytes) -> Layer:
    """The layer of a stored engram, without decoding the rest (its embeddings)."""
    return _layer_decoder.decode(data).layer


def load_vitals(data: bytes) -> Vitals:
    """What sleep's rules read of a stored engram, without decoding the rest."""
    return _vitals_decoder.decode(data)
