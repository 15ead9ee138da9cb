"""Memory at 100,000 engrams: Redis bytes per engram, and the resident set of a regions process
whose Hippocampus holds the index of them all.

    .venv/bin/python benchmarks/memory.py [--engrams 100000]

Engrams are written straight into the store of a private embedded server (as a restore
would): the texts of ``benchmarks/load.py``'s stimuli with their 384-dim hash-encoder
embeddings, episodes of 20, each linked both ways with the five before it (as the
Hippocampus links an engram to related recent ones and to its predecessor in time). Then
``neurram run --model hash`` serves the brain in its own process; after one recall through the
bus its Hippocampus holds the index of every engram, and the resident set of that process is
read.

Baselines measured in the same run: the same engrams in the form stored before (float32
embeddings), for Redis; ``neurram run`` serving an empty brain after a recall, for RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import msgspec
import numpy as np
import redis.asyncio as aioredis
from workload import neurram_run, rss_mib

from neurram import Brain, Engram, Layer
from neurram.bus import Namespace
from neurram.encoder import resolve_encoder
from neurram.engram import enc_hook
from neurram.runtime.embedded import EmbeddedServer
from neurram.runtime.store import MemoryStore

KIB, MIB = 1024, 2**20
REDIS_TARGET = 2 * KIB  # per engram
RSS_TARGET = 300 * MIB  # regions at 100,000 engrams
EPISODE = 20
LINKS = 5  # the recent engrams each one is linked with
LINK_WEIGHT = 0.6
CHUNK = 2_000
START = time.time() - 86_400


def text(i: int) -> str:
    return f"load fact {i}: item {i} weighs {i % 97} kg"


def neighbours(i: int) -> list[int]:
    """The engrams engram ``i`` is linked with, both ways: the ``LINKS`` before and after it."""
    return [j for j in range(max(0, i - LINKS), i + LINKS + 1) if j != i]


def engrams(begin: int, end: int, vectors: np.ndarray) -> list[Engram]:
    ids = [f"{i:032x}" for i in range(max(0, begin - LINKS), end + LINKS)]
    offset = max(0, begin - LINKS)
    return [
        Engram(
            content=text(i),
            embedding=vectors[i - begin],
            encoded_at=START + i,
            last_accessed=START + i,
            occurred_at=START + i,
            episode=f"{i // EPISODE * EPISODE:032x}",
            layer=Layer.WORKING,
            engram_id=ids[i - offset],
            associations=[(ids[j - offset], LINK_WEIGHT) for j in neighbours(i)],
        )
        for i in range(begin, end)
    ]


async def used_memory(redis: aioredis.Redis) -> int:
    return int((await redis.info("memory"))["used_memory"])


async def key_bytes(redis: aioredis.Redis, key: str) -> int:
    return int(await redis.memory_usage(key, samples=0) or 0)


async def fill(redis: aioredis.Redis, brain_id: str, count: int) -> tuple[int, int, dict[str, int]]:
    """Store ``count`` engrams; returns the used_memory they added, what their engram hash
    would take in the float32 form, and the bytes of each of the brain's keys."""
    encoder = resolve_encoder("hash")
    store = MemoryStore(redis, Namespace(brain_id))
    legacy_key = Namespace(f"{brain_id}-float32").key("engrams")
    legacy = msgspec.msgpack.Encoder(enc_hook=enc_hook)  # the bus's form: float32
    before = await used_memory(redis)
    for begin in range(0, count, CHUNK):
        end = min(count, begin + CHUNK)
        vectors = encoder.encode([text(i) for i in range(begin, end)])
        await store.put(engrams(begin, end, vectors))
    added = await used_memory(redis) - before
    for begin in range(0, count, CHUNK):  # the same engrams, as stored before
        end = min(count, begin + CHUNK)
        vectors = encoder.encode([text(i) for i in range(begin, end)])
        blobs = {e.engram_id: legacy.encode(e) for e in engrams(begin, end, vectors)}
        await redis.hset(legacy_key, mapping=blobs)  # type: ignore[arg-type]
    legacy_bytes = await key_bytes(redis, legacy_key)
    await redis.delete(legacy_key)
    keys = {
        name: await key_bytes(redis, Namespace(brain_id).key(name))
        for name in ("engrams", "bycontent", "changes")
    }
    return added, legacy_bytes, keys


async def regions_rss(redis_url: str, brain_id: str) -> tuple[float, float]:
    """(RSS, peak RSS) in bytes of ``neurram run`` serving the brain, after a recall."""
    flags = ["--redis-url", redis_url, "--brain", brain_id, "--model", "hash"]
    async with neurram_run(*flags) as regions:
        brain = await Brain.create(redis_url=redis_url, brain_id=brain_id, run_regions=False)
        await brain.recall("which item weighs 42 kg", top_k=10)
        pid = regions.process.pid
        rss, peak = rss_mib(pid, peak=False) * MIB, rss_mib(pid) * MIB
        await brain.close()
    return rss, peak


async def run(redis_url: str, count: int) -> None:
    brain_id = f"memory-{time.time_ns()}"
    redis = aioredis.from_url(redis_url)
    idle, _ = await regions_rss(redis_url, f"{brain_id}-empty")
    added, legacy, keys = await fill(redis, brain_id, count)
    after, peak = await regions_rss(redis_url, brain_id)
    await redis.aclose()
    per = added / count
    print(f"{count:,} engrams, 384-dim hash-encoder embeddings, {LINKS * 2} links each")
    print("| measurement | now | baseline, same run | target |")
    print("|---|---|---|---|")
    print(
        f"| Redis memory per engram (used_memory added / engrams) | {per / KIB:.2f} KiB | "
        f"{(per - (keys['engrams'] - legacy) / count) / KIB:.2f} KiB (float32 embeddings) | "
        f"<= {REDIS_TARGET / KIB:.0f} KiB {'met' if per <= REDIS_TARGET else 'NOT met'} |"
    )
    print(
        f"| regions' RSS after a recall (Hippocampus indexing them all) | {after / MIB:.0f} MiB "
        f"(peak {peak / MIB:.0f}) | {idle / MIB:.0f} MiB serving an empty brain | "
        f"<= {RSS_TARGET / MIB:.0f} MiB {'met' if after <= RSS_TARGET else 'NOT met'} |"
    )
    print(
        f"per engram in Redis: engram hash {keys['engrams'] / count:.0f} B (float32 form "
        f"{legacy / count:.0f} B), content index {keys['bycontent'] / count:.0f} B, change log "
        f"{keys['changes'] / count:.0f} B"
    )
    print(f"regions: {(after - idle) / count:.0f} B per engram beyond the empty brain's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engrams", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nr-memory-") as data:
        server = EmbeddedServer(Path(data))
        try:
            asyncio.run(run(server.start(), args.engrams))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
