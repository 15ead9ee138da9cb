"""One sleep cycle over 100,000 engrams, beside the time to merely read and decode every
engram (what the cycle did before it judged anything, until it read only what it needs),
measured in the same run.

    .venv/bin/python benchmarks/sleep_speed.py [--engrams 100000] [--cycles 3]

Engrams are written straight into the store (as a restore would): last accessed at times
spread over the past year, 89 % long-term, 10 % in the hippocampus (1 % of them salient enough
to consolidate), 1 % silent, each with a random 384-float embedding, a link to the previous
one, and the strength the cycle would have given it a day ago. A Brain with the regions in
this process (hash encoder, default settings) then sleeps ``--cycles`` times through the bus,
each cycle right after both reads (the machine's load varies); each cycle's time and counts
are printed, then the medians, and whether hiredis parsed the replies. The first cycle has
the most to do (the day's decay, the consolidations); the later ones find little left.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from redis import asyncio as aioredis
from redis.utils import HIREDIS_AVAILABLE

from neurram import Brain, Engram, Layer, dynamics
from neurram.bus import Namespace
from neurram.runtime.embedded import EmbeddedServer
from neurram.runtime.store import MemoryStore

DAY = 86_400.0
CHUNK = 2_000
DIM = 384  # the hash encoder's
rng = np.random.default_rng(2026)


def population(count: int, now: float) -> list[Engram]:
    vectors = rng.normal(size=(count, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ages = rng.uniform(0.0, 365 * DAY, count)
    kinds = rng.choice(4, p=[0.89, 0.099, 0.001, 0.01], size=count)
    layers = [Layer.LONG_TERM, Layer.WORKING, Layer.WORKING, Layer.SILENT]
    engrams = []
    for i in range(count):
        last = now - float(ages[i])
        engram = Engram(
            content=f"fact {i}: item {i % 997} was seen near place {i % 31}",
            embedding=vectors[i],
            salience=0.9 if kinds[i] == 2 else 0.5,
            encoded_at=last,
            last_accessed=last,
            stability=72.0,
            layer=layers[kinds[i]],
            engram_id=f"e{i}",
            episode=f"ep{i // 20}",
            associations=[(f"e{i - 1}", 0.5)] if i else [],
        )
        if engram.layer is Layer.LONG_TERM:
            engram.context["region"] = "neocortex"
        if engram.layer is Layer.SILENT:
            engram.context["silenced_at"] = now - 10 * DAY
        engram.synaptic_strength = dynamics.compute_retention(engram, now - DAY)
        engrams.append(engram)
    return engrams


async def fill(store: MemoryStore, engrams: list[Engram]) -> None:
    for begin in range(0, len(engrams), CHUNK):
        await store.put(engrams[begin : begin + CHUNK])


async def read_all(store: MemoryStore) -> float:
    started = time.perf_counter()
    read = sum([len(chunk) async for chunk in store.scan()])
    assert read == await store.count()
    return time.perf_counter() - started


async def read_vitals(store: MemoryStore) -> float:
    started = time.perf_counter()
    read = sum([len(chunk) async for chunk in store.scan_vitals()])
    assert read == await store.count()
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engrams", type=int, default=100_000)
    parser.add_argument("--cycles", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nr-sleep-") as data_dir:
        server = EmbeddedServer(Path(data_dir))
        redis_url = server.start()
        client = aioredis.from_url(redis_url)
        try:
            brain_id = f"sleep-{time.time_ns()}"
            store = MemoryStore(client, Namespace(brain_id))
            await fill(store, population(args.engrams, time.time()))
            brain = await Brain.create(redis_url=redis_url, brain_id=brain_id, encoder="hash")
            baseline, vitals, cycles = [], [], []
            for n in range(args.cycles):  # interleaved: the machine's load varies
                baseline.append(await read_all(store))
                vitals.append(await read_vitals(store))
                started = time.perf_counter()
                stats = await brain.sleep()
                cycles.append(time.perf_counter() - started)
                print(f"cycle {n + 1}: {cycles[-1]:.2f} s {stats}")
            await brain.close()
        finally:
            await client.aclose()
            server.stop()
    parser_name = "hiredis" if HIREDIS_AVAILABLE else "redis-py's Python parser"
    print(f"medians of {args.cycles}, each cycle right after the two reads; {parser_name}")
    print("| engrams | read and decode all | read all vitals | sleep cycle |")
    print("|---|---|---|---|")
    print(
        f"| {args.engrams:,} | {statistics.median(baseline):.2f} s | "
        f"{statistics.median(vitals):.2f} s | {statistics.median(cycles):.2f} s |"
    )


if __name__ == "__main__":
    asyncio.run(main())
