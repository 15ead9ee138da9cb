"""The encoder backends side by side: the torch model and its int8 ONNX export, same run.

    .venv/bin/python benchmarks/encode_speed.py [--texts 640] [--rounds 3]

For each backend: its cold start in a fresh process (import, load, first encode), batch-1
encoding (p50 ms of one text) and batch-64 encoding (texts/s), the rounds alternating
between backends so all see the same machine load; medians over the rounds. The ONNX one is
measured twice: as neurram runs it (a core left to the event loop, no spinning) and with
onnxruntime's own thread defaults (every core, spinning).
Then how far apart the two are on the texts of ``compare.py``'s workload: cosine between
the backends' embeddings of each text, and the overlap of each query's top 10 facts when
the facts come from torch and the query from either (what a brain whose engrams one
backend encoded recalls after switching to the other).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import numpy as np
from workload import fact, query

from neurram.encoder import ONNX_MODEL, TORCH_MODEL, Encoder, resolve_encoder
from neurram.onnx_encoder import OnnxEncoder

BACKENDS = (TORCH_MODEL, ONNX_MODEL)
ORT_DEFAULTS = "onnx, onnxruntime's thread defaults"
BATCH = 64
TOP = 10


def cold_start_s(model: str) -> float:
    """Seconds for a fresh process to import neurram, load ``model`` and encode one text."""
    code = (
        "import time; t = time.perf_counter();"
        "from neurram.encoder import resolve_encoder;"
        f"resolve_encoder({model!r}).encode(['warm up']);"
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def batch1_ms(encoder: Encoder, texts: list[str]) -> float:
    """Median milliseconds of encoding one text."""
    times = []
    for text in texts:
        started = time.perf_counter()
        encoder.encode([text])
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def batched_per_s(encoder: Encoder, texts: list[str]) -> float:
    """Texts a second, encoded ``BATCH`` at a time."""
    started = time.perf_counter()
    for begin in range(0, len(texts), BATCH):
        encoder.encode(texts[begin : begin + BATCH])
    return len(texts) / (time.perf_counter() - started)


def top(facts: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    return [set(np.argsort(-(facts @ q), kind="stable")[:TOP].tolist()) for q in queries]


def overlap(a: list[set[int]], b: list[set[int]]) -> float:
    return float(np.mean([len(x & y) / TOP for x, y in zip(a, b, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=640)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    texts = [fact(i) for i in range(args.texts)]
    questions = [query(i) for i in range(200)]
    encoders = {model: resolve_encoder(model) for model in BACKENDS}
    encoders[ORT_DEFAULTS] = OnnxEncoder(threads=None, spinning=True)
    for encoder in encoders.values():
        encoder.encode(texts[:BATCH])  # warm up
    runs: dict[str, dict[str, list[float]]] = {m: {} for m in encoders}
    for _ in range(args.rounds):
        for model, encoder in encoders.items():
            figures = {
                "cold start (s)": cold_start_s(model) if model in BACKENDS else None,
                "batch-1 p50 (ms)": batch1_ms(encoder, texts[:200]),
                f"batch-{BATCH} (texts/s)": batched_per_s(encoder, texts),
            }
            for name, value in figures.items():
                if value is not None:
                    runs[model].setdefault(name, []).append(value)
    print(f"medians of {args.rounds} rounds, {args.texts} texts")
    print(f"| measurement | {' | '.join(encoders)} | onnx against torch |")
    print("|---|---|---|---|---|")
    for name in runs[TORCH_MODEL]:
        values = {m: statistics.median(runs[m][name]) for m in encoders if name in runs[m]}
        cells = " | ".join(f"{values[m]:.2f}" if m in values else "" for m in encoders)
        torch_value, onnx_value = values[TORCH_MODEL], values[ONNX_MODEL]
        ratio = onnx_value / torch_value if "/s" in name else torch_value / onnx_value
        print(f"| {name} | {cells} | {ratio:.2f}x |")
    torch_texts, onnx_texts = (encoders[m].encode(texts) for m in BACKENDS)
    torch_queries, onnx_queries = (encoders[m].encode(questions) for m in BACKENDS)
    cosine = np.concatenate(
        [(torch_texts * onnx_texts).sum(axis=1), (torch_queries * onnx_queries).sum(axis=1)]
    )
    print(f"\ncosine torch-onnx per text: mean {cosine.mean():.4f}, min {cosine.min():.4f}")
    reference = top(torch_texts, torch_queries)
    print(
        f"top-{TOP} facts of {len(questions)} queries, overlap with torch's: "
        f"onnx facts and query {overlap(reference, top(onnx_texts, onnx_queries)):.3f}, "
        f"torch facts and onnx query {overlap(reference, top(torch_texts, onnx_queries)):.3f}"
    )


if __name__ == "__main__":
    main()
