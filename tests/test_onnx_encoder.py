"""The int8 ONNX export of MiniLM: the torch model's embeddings, without torch."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from neurram.encoder import ONNX_MODEL, SentenceTransformerEncoder, encoder_for, resolve_encoder
from neurram.errors import EncoderUnavailableError
from neurram.onnx_encoder import INTRA_OP_THREADS, OnnxEncoder
from neurram.settings import Settings

from .test_encoder import REPO

SENTENCES = [
    "Paris is the capital of France",
    "I had pasta for lunch",
    "The printer on floor 3 is out of toner",
    "Dogs need to be walked every day",
    "",
    "Ünïcödé: naïve café in 東京 🙂",
]
# about 390 tokens, three topics: a truncation other than the torch model's 256 tokens
# (tokenizer.json says 128) moves its embedding far from the torch one
LONG = " ".join(
    [
        "The cat sleeps on the warm windowsill every afternoon." * 12,
        "Quarterly revenue grew twelve percent on strong bond trading." * 12,
        "The ferry to the island leaves at dawn." * 12,
    ]
)


@pytest.fixture(scope="module")
def onnx() -> OnnxEncoder:
    encoder = resolve_encoder(ONNX_MODEL)
    assert isinstance(encoder, OnnxEncoder)
    return encoder


def test_shape_dtype_and_unit_rows(onnx: OnnxEncoder) -> None:
    vectors = onnx.encode([*SENTENCES, LONG])
    assert (onnx.name, onnx.dim) == ("onnx", 384)
    assert vectors.shape == (len(SENTENCES) + 1, 384)
    assert vectors.dtype == np.float32
    assert np.linalg.norm(vectors, axis=1) == pytest.approx(np.ones(len(vectors)), abs=1e-5)
    assert onnx.encode([]).shape == (0, 384)


def test_close_to_the_torch_model(onnx: OnnxEncoder) -> None:
    torch = resolve_encoder("torch")
    assert isinstance(torch, SentenceTransformerEncoder)
    cosines = (onnx.encode([*SENTENCES, LONG]) * torch.encode([*SENTENCES, LONG])).sum(axis=1)
    assert cosines.min() > 0.99, cosines


def test_a_text_embeds_the_same_alone_or_in_a_batch(onnx: OnnxEncoder) -> None:
    texts = [LONG, *SENTENCES] * 12  # two batches, each padded to its longest text
    together = onnx.encode(texts)
    alone = np.concatenate([onnx.encode([text]) for text in texts[: len(SENTENCES) + 1]])
    assert together[: len(alone)] == pytest.approx(alone, abs=1e-5)
    assert together[len(alone) :] == pytest.approx(np.tile(alone, (11, 1)), abs=1e-5)


def test_recall_by_meaning(onnx: OnnxEncoder) -> None:
    facts = onnx.encode(SENTENCES[:4])
    query = onnx.encode(["capital city Europe"])[0]
    assert int(np.argmax(facts @ query)) == 0


def test_threads_leave_a_core_to_the_event_loop_and_do_not_spin(onnx: OnnxEncoder) -> None:
    options = onnx.load().session.get_session_options()
    assert options.intra_op_num_threads == INTRA_OP_THREADS == max(1, (os.cpu_count() or 1) - 1)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    defaults = OnnxEncoder(threads=None, spinning=True).load().session.get_session_options()
    assert defaults.intra_op_num_threads == 0  # onnxruntime's own choice
    assert defaults.get_session_config_entry("session.intra_op.allow_spinning") == "1"


def test_alone_it_embeds_the_same_in_a_session_spinning_only_within_a_run(
    onnx: OnnxEncoder,
) -> None:
    """``encode_alone`` runs a session of its own on ``alone_threads`` (by default every
    core), whose threads spin between a run's operators and sleep once it
    ends; same embeddings. (Two threads asked for: a second session on any machine.)"""
    two = OnnxEncoder(threads=1, alone_threads=2)
    np.testing.assert_allclose(two.encode_alone(SENTENCES), onnx.encode(SENTENCES), atol=1e-5)
    assert two.encode_alone([]).shape == (0, 384)
    options = two._alone.get_session_options()
    assert options.intra_op_num_threads == 2
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert options.get_session_config_entry("session.force_spinning_stop") == "1"
    usual = two.load().session.get_session_options()
    assert usual.intra_op_num_threads == 1
    assert usual.get_session_config_entry("session.force_spinning_stop") == "0"


def test_the_settings_threads_pick_an_encoder_of_their_own(onnx: OnnxEncoder) -> None:
    """``encoder_threads`` gives onnxruntime that many threads, in an encoder of its own
    (the default one keeps its threads); unset, the default encoder."""
    two = encoder_for(Settings.load(encoder_threads=2))
    assert two is resolve_encoder(ONNX_MODEL, 2) and two is not resolve_encoder()
    assert isinstance(two, OnnxEncoder)
    assert two.load().session.get_session_options().intra_op_num_threads == 2
    assert encoder_for(Settings.load()) is resolve_encoder()
    assert resolve_encoder().load().session.get_session_options().intra_op_num_threads == (
        INTRA_OP_THREADS
    )
    np.testing.assert_allclose(two.encode(["a red fox"]), onnx.encode(["a red fox"]), atol=1e-5)
    two.encode_alone(["a red fox"])  # the threads asked for, alone too: no second session
    assert two._alone is None


def test_missing_packages_raise_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    encoder = OnnxEncoder()
    with pytest.raises(EncoderUnavailableError, match="onnxruntime") as info:
        encoder.encode(["hello"])
    assert "NEURRAM_MODEL=torch" in str(info.value)
    with pytest.raises(EncoderUnavailableError):
        _ = encoder.dim


def test_importing_it_does_not_import_onnxruntime() -> None:
    code = (
        "import sys, neurram.onnx_encoder;"
        "assert 'onnxruntime' not in sys.modules and 'tokenizers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
