from __future__ import annotations

import msgspec
import pytest

from neurram.bus import Codec, DecodeError, Namespace


class Ping(msgspec.Struct, tag="ping"):
    n: int


class Pong(msgspec.Struct, tag="pong"):
    text: str


CODEC: Codec[Ping | Pong] = Codec(Ping | Pong)


def test_codec_round_trips_a_tagged_union() -> None:
    for msg in (Ping(3), Pong("hi")):
        assert CODEC.decode(CODEC.encode(msg)) == msg


@pytest.mark.parametrize(
    "data", [b"\xc1", msgspec.msgpack.encode({"type": "nope"}), msgspec.msgpack.encode([1])]
)
def test_codec_raises_decode_error_with_reason(data: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        CODEC.decode(data)
    assert isinstance(info.value, ValueError)
    assert str(info.value)


def test_namespace_keys_share_a_hash_tag() -> None:
    ns = Namespace("b1")
    assert ns.prefix == "neurram:{b1}:"
    assert ns.key("engram", "42") == "neurram:{b1}:engram:42"


@pytest.mark.parametrize("name", ["", "a{b", "a}", "a b", "a\tb"])
def test_namespace_rejects_bad_names(name: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        Namespace(name)
