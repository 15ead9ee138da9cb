"""Recall latency against the encoder's own: p50 of ``brain.recall`` beside p50 of one
batch-1 query encode, measured in the same run, at 5,000 and 100,000 engrams.

    .venv/bin/python benchmarks/recall_speed.py [--sizes 5000 100000] [--queries 60]

Engrams are written straight into the store (as a restore would), then a Brain with the
regions in this process indexes them at start. Their texts are sentences of made-up words
with Zipf-distributed frequencies (so the lexical postings look like a real vocabulary's);
the first 5,000 carry their real MiniLM embeddings, the rest random unit vectors (encoding
100,000 texts would take minutes and does not change what a recall costs). Consecutive
engrams form episodes of 20, and each is linked both ways with the five before it, as in
``benchmarks/memory.py`` (a million association edges at 100,000 engrams: what a recall
spreads activation over). Every recall goes through the bus with the real model
(``NEURRAM_MODEL=torch`` or ``onnx`` picks its backend). The cosine recall column checks the
index's half-precision rows: how many of each query's 10 nearest engrams by exact float32 cosine
they also rank first. Round trips are every command or pipeline written to a Redis
connection during the timed recalls (the client's and the regions'), per recall. CPU is the
process's (every thread's) during each recall and each encode, medians: it holds on a loaded
machine, where the times stretch. The column after it times recalls each made right after an
awaited perceive, as an agent's turn goes (p50 of ``AFTER_PERCEIVES``): what the index
redoes when an engram comes (its association edges, its timeline) shows there. The last
column times those awaited perceives, each a later version of an engram stored (its text
with a note number before it): what supersession's search of the index costs shows there.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from memory import LINK_WEIGHT, neighbours
from redis import asyncio as aioredis
from round_trips import count_round_trips

from neurram import Brain, Engram, Layer, MemoryType, Settings
from neurram.bus import Namespace
from neurram.encoder import Encoder, encoder_for
from neurram.index import half_cosines
from neurram.runtime.embedded import EmbeddedServer
from neurram.runtime.store import MemoryStore

REAL = 5_000
EPISODE = 20
CHUNK = 2_000
AFTER_PERCEIVES = 20  # recalls timed each right after an awaited perceive
WORDS_PER_TEXT = 12
rng = np.random.default_rng(2026)


def vocabulary(size: int = 20_000) -> list[str]:
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    return ["".join(rng.choice(syllables, size=rng.integers(2, 4))) for _ in range(size)]


def sentences(words: list[str], count: int, length: int) -> list[str]:
    ranks = np.minimum(rng.zipf(1.2, size=(count, length)), len(words)) - 1
    return [" ".join(words[r] for r in row) for row in ranks]


def engrams(texts: list[str], vectors: np.ndarray, start: float, first: int = 0) -> list[Engram]:
    """Engrams ``first``, ``first + 1``, ... of the brain, one a second from ``start``."""
    return [
        Engram(
            content=text,
            memory_type=MemoryType.EPISODIC,
            embedding=vector,
            encoded_at=start + i,
            last_accessed=start + i,
            occurred_at=start + i,
            episode=f"ep{i // EPISODE}",
            layer=Layer.WORKING,
            engram_id=f"e{i}",
            associations=[(f"e{j}", LINK_WEIGHT) for j in neighbours(i)],
        )
        for i, (text, vector) in enumerate(zip(texts, vectors, strict=True), start=first)
    ]


def random_units(count: int, dim: int) -> np.ndarray:
    vectors = rng.normal(size=(count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


async def fill(redis_url: str, brain_id: str, texts: list[str], vectors: np.ndarray) -> None:
    client = aioredis.from_url(redis_url)
    store = MemoryStore(client, Namespace(brain_id))
    start = time.time() - len(texts)
    for begin in range(0, len(texts), CHUNK):
        end = begin + CHUNK
        await store.put(engrams(texts[begin:end], vectors[begin:end], start, first=begin))
    assert await store.count() == len(texts), "every engram written is stored, once"
    await client.aclose()


def p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def measure(
    size: int,
    count: int,
    redis_url: str,
    encoder: Encoder,
    texts: list[str],
    vectors: np.ndarray,
    trips: Counter[str],
) -> None:
    brain_id = f"speed-{size}-{time.time_ns()}"
    real = encoder.encode(texts[: min(size, REAL)])
    all_vectors = np.concatenate([real, vectors[: max(0, size - REAL)]])
    await fill(redis_url, brain_id, texts[:size], all_vectors)
    started = time.monotonic()
    brain = await Brain.create(redis_url=redis_url, brain_id=brain_id, encoder=encoder)
    opened = time.monotonic() - started
    queries = [" ".join(text.split()[:6]) for text in rng.choice(texts[:size], count)]
    for query in queries[:5]:  # warm up
        await brain.recall(query, top_k=10)
        encoder.encode([query])
    encode, recall, cues, encode_cpu, recall_cpu = [], [], [], [], []
    sent = trips["sent"]
    for query in queries:
        c0, t0 = time.process_time(), time.perf_counter()
        cues.append(encoder.encode([query])[0])
        c1, t1 = time.process_time(), time.perf_counter()
        await brain.recall(query, top_k=10)
        c2, t2 = time.process_time(), time.perf_counter()
        encode.append(t1 - t0)
        recall.append(t2 - t1)
        encode_cpu.append(c1 - c0)
        recall_cpu.append(c2 - c1)
    round_trips = (trips["sent"] - sent) / count
    after, perceived = [], []  # as an agent goes: something perceived, then a recall
    for i, query in enumerate(queries[:AFTER_PERCEIVES]):
        started = time.perf_counter()
        await brain.perceive(f"note {i}: {texts[i]}")  # a later version of engram i
        perceived.append(time.perf_counter() - started)
        started = time.perf_counter()
        await brain.recall(query, top_k=10)
        after.append(time.perf_counter() - started)
    await brain.close()
    print(
        f"| {size:,} | {p50_ms(encode):.1f} ms | {p50_ms(recall):.1f} ms | "
        f"{p50_ms(recall) / p50_ms(encode):.2f}x | {p50_ms(recall) - p50_ms(encode):.1f} ms | "
        f"{p50_ms(encode_cpu):.1f} / {p50_ms(recall_cpu):.1f} ms | "
        f"{p50_ms(recall_cpu) - p50_ms(encode_cpu):.1f} ms | "
        f"{round_trips:.1f} | {opened:.1f} s | "
        f"{half_recall_at_10(all_vectors, np.stack(cues)):.3f} | {p50_ms(after):.1f} ms | "
        f"{p50_ms(perceived):.1f} ms |"
    )


def half_recall_at_10(vectors: np.ndarray, cues: np.ndarray) -> float:
    """Mean share of each cue's 10 nearest engrams by exact float32 cosine that the index's
    float16 rows, scored as it scores them, also put among the first 10."""
    exact, half = cues @ vectors.T, half_cosines(vectors.astype(np.float16), cues)
    pairs = zip(top_10(exact), top_10(half), strict=True)
    return statistics.mean(len(a & b) / 10 for a, b in pairs)


def top_10(scores: np.ndarray) -> list[set[int]]:
    return [set(np.argpartition(-row, 10)[:10].tolist()) for row in scores]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 100_000])
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args()
    encoder = encoder_for(Settings.load())  # NEURRAM_MODEL picks the backend
    largest = max(args.sizes)
    texts = sentences(vocabulary(), largest, WORDS_PER_TEXT)
    vectors = random_units(max(0, largest - REAL), encoder.dim)
    print(f"recall p50 against one batch-1 query encode (p50), {args.queries} queries, top_k=10")
    print(
        "| engrams | encode | recall | ratio | recall - encode | CPU, encode / recall "
        "| CPU, recall - encode | round trips | brain start "
        "| cosine recall@10, float16 vs exact float32 | recall right after a perceive "
        "| that perceive, awaited |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    trips = count_round_trips()
    with tempfile.TemporaryDirectory(prefix="nr-speed-") as data_dir:
        server = EmbeddedServer(Path(data_dir))
        redis_url = server.start()
        try:
            for size in args.sizes:
                await measure(size, args.queries, redis_url, encoder, texts, vectors, trips)
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
