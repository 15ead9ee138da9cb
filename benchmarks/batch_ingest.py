"""Batch ingest: ``perceive_many`` beside one ``perceive`` per stimulus, in the same run.

    .venv/bin/python benchmarks/batch_ingest.py [--stimuli 20000] [--awaited 300] [--batch 100]

Two rows, each side measured twice alternately (medians), hash encoder, private embedded
server:

- client alone, ``wait=False``: no regions run and backpressure is switched off (infinite
  sensory TTL, no backlog bound), so it shows what the client can send: ``--stimuli`` stimuli
  through ``perceive(wait=False)`` one at a time, then through ``perceive_many`` 1,000 a call;
- awaited, regions in this process: ``--awaited`` stimuli through ``perceive`` one at a time,
  then through ``perceive_many`` ``--batch`` a call, each call returning once every stimulus
  has its fate.

Rates are wall-clock; CPU is this process's user + system time per stimulus (the regions' too
in the second row), which holds better than wall time on a loaded machine.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from neurram import Brain
from neurram.runtime.embedded import EmbeddedServer

UNBOUNDED = {"sensory_ttl_seconds": float("inf"), "max_backlog": 10**12}
UNAWAITED_BATCH = 1000
ROUNDS = 2


def fact(i: int) -> str:
    return f"batch fact {i}: item {i} weighs {i % 97} kg"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def one_by_one(brain: Brain, texts: list[str], wait: bool) -> None:
    for text in texts:
        await brain.perceive(text, wait=wait)


async def in_batches(brain: Brain, texts: list[str], wait: bool, batch: int) -> None:
    for start in range(0, len(texts), batch):
        await brain.perceive_many(texts[start : start + batch], wait=wait)


Send = Callable[[Brain, list[str], bool], Awaitable[None]]


async def measure(
    redis_url: str, send: Send, stimuli: int, wait: bool, settings: dict[str, Any]
) -> tuple[float, float]:
    """(stimuli/s, CPU ms per stimulus) of ``send`` on a fresh brain."""
    brain = await Brain.create(
        redis_url=redis_url,
        brain_id=f"batch-{uuid.uuid4().hex[:8]}",
        encoder="hash",
        run_regions=wait,
        **settings,
    )
    try:
        await brain.perceive_many([fact(-i) for i in range(1, 31)], wait=wait)  # warm up
        texts = [fact(i) for i in range(stimuli)]
        cpu, started = cpu_seconds(), time.perf_counter()
        await send(brain, texts, wait)
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        return stimuli / seconds, cpu / stimuli * 1000
    finally:
        await brain.close()


async def row(
    redis_url: str,
    title: str,
    sides: dict[str, tuple[Send, int]],
    wait: bool,
    settings: dict[str, Any],
) -> None:
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    for _ in range(ROUNDS):
        for name, (send, stimuli) in sides.items():
            figures[name].append(await measure(redis_url, send, stimuli, wait, settings))
    print(title)
    rates = {}
    for name, runs in figures.items():
        rates[name] = statistics.median(r for r, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"  {name:<34} {rates[name]:>9,.0f} /s   {cpu:6.3f} ms CPU each")
    single, batched = rates.values()
    print(f"  {'ratio':<34} {batched / single:>9.1f}x")


async def run(redis_url: str, stimuli: int, awaited: int, batch: int) -> None:
    await row(
        redis_url,
        f"client alone, wait=False, {stimuli} stimuli (no regions, no backpressure bound)",
        {
            "perceive, one at a time": (one_by_one, stimuli),
            f"perceive_many, {UNAWAITED_BATCH} a call": (
                lambda b, t, w: in_batches(b, t, w, UNAWAITED_BATCH),
                stimuli,
            ),
        },
        wait=False,
        settings=UNBOUNDED,
    )
    await row(
        redis_url,
        "awaited, regions in this process",
        {
            f"perceive, one at a time ({awaited})": (one_by_one, awaited),
            f"perceive_many, {batch} a call ({awaited * 5})": (
                lambda b, t, w: in_batches(b, t, w, batch),
                awaited * 5,
            ),
        },
        wait=True,
        settings={},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stimuli", type=int, default=20_000)
    parser.add_argument("--awaited", type=int, default=300)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nr-batch-") as data:
        server = EmbeddedServer(Path(data))
        try:
            asyncio.run(run(server.start(), args.stimuli, args.awaited, args.batch))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
