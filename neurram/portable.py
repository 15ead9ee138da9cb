"""The portable form of a brain: JSON lines, a header then one engram a line.

Line 1 is the :class:`Header` (format name and version, the model and its embedding
dimension, the brain, when it was exported). Every other line is one :class:`Engram` as a
JSON object with every field, in the order they are declared; embeddings (``embedding``,
``fragment_embeddings``) are their float32 bytes in base64, so they round-trip bit for bit.
Reading is strict: every field must be there, no unknown field, embeddings of the header's
dimension. Context values travel as JSON (bytes would come back as base64 text).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

import msgspec
import numpy as np

from neurram.engram import Engram, Vector, enc_hook
from neurram.errors import ImportFormatError

FORMAT = "neurram-export"
VERSION = 1


class Header(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The first line: what the engram lines are and where they come from."""

    format: str
    version: int
    model: str  # the model that made the embeddings
    dimension: int  # their width; 0 when no engram has one
    brain_id: str
    exported_at: str  # ISO 8601, UTC


def new_header(model: str, dimension: int, brain_id: str, now: float) -> Header:
    """The header of an export made at ``now`` (unix seconds)."""
    return Header(
        format=FORMAT,
        version=VERSION,
        model=model,
        dimension=dimension,
        brain_id=brain_id,
        exported_at=datetime.fromtimestamp(now, UTC).isoformat(),
    )


# every field of Engram, none optional: a line that lacks one is refused, not defaulted
_EngramLine = msgspec.defstruct(
    "EngramLine",
    [(f.name, f.type) for f in msgspec.structs.fields(Engram)],
    kw_only=True,
    forbid_unknown_fields=True,
)


def _vector(tp: type, obj: Any) -> Vector:
    """Base64 float32 bytes back into a vector."""
    if not isinstance(obj, str):
        raise TypeError(f"expected base64 text, got {type(obj).__name__}")
    try:
        raw = base64.b64decode(obj, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64: {exc}") from exc
    if len(raw) % 4:
        raise ValueError(f"{len(raw)} bytes are not float32 values")
    return np.frombuffer(raw, dtype=np.float32).copy()


_encoder = msgspec.json.Encoder(enc_hook=enc_hook)  # float32 bytes, which JSON shows in base64
_header_decoder = msgspec.json.Decoder(Header)
_engram_decoder = msgspec.json.Decoder(_EngramLine, dec_hook=_vector)


def header_line(header: Header) -> str:
    """The header as a line (with its newline)."""
    return _encoder.encode(header).decode() + "\n"


def engram_line(engram: Engram) -> str:
    """The engram as a line (with its newline)."""
    return _encoder.encode(engram).decode() + "\n"


def read_header(number: int, line: str | bytes) -> Header:
    """The header (the first line, ``number`` when blank lines precede it), checked for format
    and version."""
    try:
        header = _header_decoder.decode(line)
    except msgspec.DecodeError as exc:
        raise ImportFormatError(number, f"not a {FORMAT} header: {exc}") from None
    if header.format != FORMAT:
        raise ImportFormatError(number, f"format {header.format!r} is not {FORMAT!r}")
    if header.version != VERSION:
        raise ImportFormatError(
            number, f"format version {header.version} is not {VERSION}, the one neurram reads"
        )
    if header.dimension < 0:
        raise ImportFormatError(number, f"dimension {header.dimension} is negative")
    return header


def read_engram(number: int, line: str | bytes, dimension: int) -> Engram:
    """The engram on line ``number``, whose embeddings must be ``dimension`` wide."""
    try:
        fields = msgspec.structs.asdict(_engram_decoder.decode(line))
    except msgspec.DecodeError as exc:
        raise ImportFormatError(number, f"not an engram: {exc}") from None
    engram = Engram(**fields)
    if not engram.engram_id:
        raise ImportFormatError(number, "engram_id is empty")
    width = engram.embedding.size
    if width not in (0, dimension):
        raise ImportFormatError(
            number, f"embedding has {width} dimensions, the header says {dimension}"
        )
    if engram.fragment_embeddings.size != len(engram.fragments) * width:
        raise ImportFormatError(
            number,
            f"fragment_embeddings hold {engram.fragment_embeddings.size} values, not "
            f"{len(engram.fragments)} fragments x {width}",
        )
    return engram
