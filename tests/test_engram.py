"""The engram's stored form: embeddings as float16, the older float32 form still read."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from neurram.engram import Engram, dump_engram, enc_hook, load_engram
from neurram.portable import engram_line, read_engram


def encoded(dim: int = 384, fragments: int = 2) -> Engram:
    rng = np.random.default_rng(7)
    rows = rng.normal(size=(1 + fragments, dim)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return Engram(
        content="the heron nests by the river",
        embedding=rows[0],
        fragments=[f"f{i}" for i in range(fragments)],
        fragment_embeddings=rows[1:].reshape(-1),
    )


def test_embeddings_rest_as_float16_within_a_thousandth_of_their_cosines() -> None:
    engram = encoded()
    blob = dump_engram(engram)
    back = load_engram(blob)
    assert back.embedding.dtype == np.float32 and back.fragment_embeddings.dtype == np.float32
    np.testing.assert_allclose(back.embedding, engram.embedding, atol=1e-3)
    np.testing.assert_allclose(back.fragment_embeddings, engram.fragment_embeddings, atol=1e-3)
    assert abs(float(back.embedding @ engram.embedding) - 1.0) < 1e-3
    assert len(blob) < 2 * 384 * 3 + 400  # two bytes a value, not four


def test_engrams_stored_with_float32_bytes_as_before_are_still_read_exactly() -> None:
    engram = encoded()
    legacy = msgspec.msgpack.encode(engram, enc_hook=enc_hook)
    back = load_engram(legacy)
    np.testing.assert_array_equal(back.embedding, engram.embedding)
    np.testing.assert_array_equal(back.fragment_embeddings, engram.fragment_embeddings)


def test_an_export_keeps_float32_bit_for_bit() -> None:
    engram = encoded()
    back = read_engram(2, engram_line(engram), 384)
    np.testing.assert_array_equal(back.embedding, engram.embedding)
    np.testing.assert_array_equal(back.fragment_embeddings, engram.fragment_embeddings)


def test_a_vector_in_an_unknown_extension_is_refused() -> None:
    engram = encoded()
    blob = msgspec.msgpack.encode(
        engram, enc_hook=lambda v: msgspec.msgpack.Ext(9, v.astype("<f2").tobytes())
    )
    with pytest.raises(msgspec.ValidationError):
        load_engram(blob)


def test_an_engram_read_back_owns_its_vectors() -> None:
    """The vectors are copies, not views of the bytes they were read from."""
    back = load_engram(dump_engram(encoded()))
    for vector in (back.embedding, back.fragment_embeddings):
        assert vector.flags.owndata and vector.flags.writeable
