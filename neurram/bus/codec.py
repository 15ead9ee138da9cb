"""Message encoding: msgpack via msgspec, validated against a type on decode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import msgspec

from neurram.errors import NeurramError

T = TypeVar("T")

FIELD = b"m"
"""The single stream-entry field holding an encoded message."""


class DecodeError(NeurramError, ValueError):
    """Bytes that are not a valid encoding of the codec's type; the message says why."""


class Codec(Generic[T]):
    """Encodes messages of ``type_`` (typically a tagged union of Structs) to bytes and back."""

    def __init__(
        self,
        type_: type[T] | Any,
        enc_hook: Callable[[Any], Any] | None = None,
        dec_hook: Callable[[type, Any], Any] | None = None,
    ) -> None:
        self.type = type_
        self._encoder = msgspec.msgpack.Encoder(enc_hook=enc_hook)
        self._decoder: msgspec.msgpack.Decoder[T] = msgspec.msgpack.Decoder(
            type_, dec_hook=dec_hook
        )

    def encode(self, msg: T) -> bytes:
        return self._encoder.encode(msg)

    def decode(self, data: bytes) -> T:
        try:
            return self._decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise DecodeError(str(exc)) from exc
