"""Load test: push many stimuli through regions running in their own process.

    .venv/bin/python benchmarks/load.py --stimuli 100000

Starts a private embedded server (unless --redis-url is given) and `neurram run` with the
hash encoder (``--model ""``: the real MiniLM model), perceives in batches of ``--batch``
with ``brain.perceive_many(..., wait=False)`` (pipelines of many stimuli, backpressure
included; ``--batch 0``: one ``perceive(wait=False)`` round trip per stimulus, the client
before batches), waits with ``brain.flush()`` until every stimulus has a fate, checks those
counts against the outcome stream it follows, then reports: throughput, the client's send
rate and CPU per stimulus sent (so the regions, not the client, are what is measured; the
CPU includes this process's outcome follower), RSS of the regions process
(after the sleep cycle, and its peak) and the client's peak, Redis memory (and what it grew by
per stored engram), one sleep cycle, stream lengths, and lost / duplicated / expired / gated
counts. The two memory rows of issue 10 are printed against their targets
(``benchmarks/memory.py`` measures them faster, without the pipeline). Last, the bound that
supersession's exact search alone sets on this machine: the CPU of comparing each new engram
with every row held, in batches of the Hippocampus's ``batch_size``, over a fill of as many
rows as stimuli (so half as many on average), by the index's packed product and by a float32
``sgemm`` (the floating-point units' own bound), and the stimuli a second that leaves on
every core with nothing else running.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import redis.asyncio as aioredis
from workload import neurram_run, rss_mib

from neurram import Brain, Engram, Settings
from neurram.bus import FIELD, Namespace, tail
from neurram.bus.messages import MESSAGES, Outcome
from neurram.encoder import resolve_encoder
from neurram.index import packed_cosines
from neurram.runtime.embedded import EmbeddedServer
from neurram.runtime.store import MemoryStore

REDIS_TARGET_KIB = 2.0  # Redis memory per engram
RSS_TARGET_MIB = 300  # the regions' RSS at 100,000 engrams
TARGET_PER_SECOND = 5_000
STREAMS = ("sensory", "sensed", "attended", "tagged", "held", "outcome", "changes", "dead")


async def follow_outcomes(
    redis: aioredis.Redis, brain_id: str, fates: dict[str, set[str]], wanted: int
) -> None:
    stream = Namespace(brain_id).key("outcome")
    async for _, _, fields in tail(redis, [stream], start="0"):
        outcome = MESSAGES.decode(fields[FIELD])
        assert isinstance(outcome, Outcome)
        fates.setdefault(outcome.request_id, set()).add(outcome.status)
        if len(fates) >= wanted:
            return


def fact(i: int) -> str:
    return f"load fact {i}: item {i} weighs {i % 97} kg"


def supersession_bound(stimuli: int, dim: int) -> tuple[float, float]:
    """CPU seconds a stimulus of comparing each new engram with every ``dim``-wide row of an
    index that holds ``stimuli / 2`` (the mean over a fill of ``stimuli``), a batch of the
    Hippocampus's size at a time: by the index's packed float16 product, and by a float32
    ``sgemm`` (medians of 3)."""
    batch = Settings().batch_size
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((max(1, stimuli // 2), dim), dtype=np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    half, new = rows.astype(np.float16), rows[:batch].copy()

    def cpu(product: Callable[[], object]) -> float:
        spent = []
        for _ in range(3):
            started = time.process_time()
            product()
            spent.append(time.process_time() - started)
        return statistics.median(spent) / batch

    return cpu(lambda: packed_cosines(half, new)), cpu(lambda: rows @ new.T)


async def send(brain: Brain, stimuli: int, batch: int) -> list[Engram]:
    """Perceive ``stimuli`` facts without waiting: ``batch`` per perceive_many, or (0) one
    perceive each."""
    if not batch:
        return [await brain.perceive(fact(i), wait=False) for i in range(stimuli)]
    sent: list[Engram] = []
    for start in range(0, stimuli, batch):
        items = [fact(i) for i in range(start, min(stimuli, start + batch))]
        sent.extend(await brain.perceive_many(items, wait=False))
    return sent


async def run(stimuli: int, batch: int, redis_url: str, model: str) -> None:
    brain_id = f"load-{int(time.time())}"
    flags = ["--redis-url", redis_url, "--brain", brain_id] + (["--model", model] if model else [])
    async with neurram_run(*flags) as regions:
        brain = await Brain.create(redis_url=redis_url, brain_id=brain_id, run_regions=False)
        redis = aioredis.from_url(redis_url)
        empty = (await redis.info("memory"))["used_memory"]
        fates: dict[str, set[str]] = {}
        following = asyncio.create_task(follow_outcomes(redis, brain_id, fates, stimuli))
        started, cpu = time.perf_counter(), time.process_time()
        sent = [e.engram_id for e in await send(brain, stimuli, batch)]
        sent_at, sent_cpu = time.perf_counter(), time.process_time() - cpu
        flushed = await brain.flush()
        done_at = time.perf_counter()
        await following
        client_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        sleep_started = time.perf_counter()
        slept = await brain.sleep()
        sleep_seconds = time.perf_counter() - sleep_started
        regions_rss = rss_mib(regions.process.pid, peak=False)
        regions_peak = rss_mib(regions.process.pid)

        info = await redis.info("memory")
        stored: list[str] = []
        contents: set[str] = set()
        async for chunk in MemoryStore(redis, Namespace(brain_id)).scan():
            stored.extend(e.engram_id for e in chunk)
            contents.update(e.content for e in chunk)
        lengths = {s: await redis.xlen(Namespace(brain_id).key(s)) for s in STREAMS}
        held = [i for i in sent if "held" in fates.get(i, ())]
        expired = sum("expired" in fates.get(i, ()) for i in sent)
        gated = sum("gated" in fates.get(i, ()) for i in sent)
        lost = sum(i not in fates for i in sent)
        duplicated = len(stored) - len(contents)
        await brain.close()
        await redis.aclose()

    print(f"stimuli                 {stimuli}")
    client = f"perceive_many, {batch} a call" if batch else "one perceive(wait=False) each"
    print(f"client                  {client}")
    print(
        f"ingest (client)         {stimuli / (sent_at - started):,.0f} stimuli/s sent "
        "(backpressure holds it to the regions' pace)"
    )
    print(
        f"client CPU              {sent_cpu / stimuli * 1e6:.0f} us per stimulus sent "
        f"(one core would send {stimuli / sent_cpu:,.0f} /s)"
    )
    print(
        f"end to end              {stimuli / (done_at - started):,.0f} stimuli/s "
        f"({done_at - started:.1f} s)"
    )
    print(f"engrams stored          {len(set(stored))}  (held {len(held)})")
    print(f"lost                    {lost}")
    print(f"duplicated              {duplicated}")
    print(f"expired / gated         {expired} / {gated}")
    print(f"flush()                 {flushed}")
    print(
        f"RSS regions             {regions_rss:.0f} MiB after the sleep cycle, peak "
        f"{regions_peak:.0f} MiB (target at 100,000 engrams: <= {RSS_TARGET_MIB} MiB)"
    )
    print(f"peak RSS client         {client_rss:.0f} MiB")
    print(
        f"redis used_memory       {info['used_memory'] / 2**20:.0f} MiB "
        f"(peak {info['used_memory_peak'] / 2**20:.0f} MiB)"
    )
    per_engram = (info["used_memory"] - empty) / max(1, len(set(stored))) / 1024
    print(
        f"redis per engram        {per_engram:.2f} KiB (used_memory grown / engrams stored; "
        f"target <= {REDIS_TARGET_KIB:.0f} KiB)"
    )
    print(f"one sleep cycle         {sleep_seconds:.1f} s {slept}")
    print("stream lengths          " + ", ".join(f"{k} {v}" for k, v in lengths.items()))
    packed, sgemm = supersession_bound(stimuli, resolve_encoder(model).dim)  # the regions'
    cores = os.cpu_count() or 1
    print(
        f"supersession alone      {packed * 1e3:.2f} ms CPU a stimulus, exact, against "
        f"{stimuli // 2:,} rows, the mean over the fill (float32 sgemm: {sgemm * 1e3:.2f} ms): "
        f"at most {cores / packed:,.0f} /s ({cores / sgemm:,.0f} /s) on all {cores} cores with "
        f"nothing else running (target {TARGET_PER_SECOND:,} /s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stimuli", type=int, default=100_000)
    parser.add_argument(
        "--batch",
        type=int,
        default=1000,
        help="stimuli per perceive_many call; 0: one perceive(wait=False) each",
    )
    parser.add_argument("--redis-url", default=None, help="default: a private embedded server")
    parser.add_argument(
        "--model", default="hash", help='encoder of the regions; "" for the real MiniLM model'
    )
    args = parser.parse_args()
    if args.redis_url:
        asyncio.run(run(args.stimuli, args.batch, args.redis_url, args.model))
        return
    with tempfile.TemporaryDirectory(prefix="nr-load-") as data:
        server = EmbeddedServer(Path(data))
        try:
            asyncio.run(run(args.stimuli, args.batch, server.start(), args.model))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
