"""The regions alone in batches: stimuli prefilled on the sensory stream, then timed until
every one has its outcome, beside a baseline checkout measured in the same run.

    .venv/bin/python benchmarks/regions_speed.py [--baseline DIR] [--stimuli 10000] [--runs 2]

Each side runs in a fresh process with the regions in that process, the hash encoder and a
private embedded server; the client's sends are out of the picture (the stimuli are written
in pipelines of 1,000 before the regions are woken). Prints stimuli a second through every
hop, and CPU per stimulus: the whole process (the Hippocampus's supersession thread included)
and its event-loop thread alone, which the regions share. ``--baseline`` names a checkout of
another version (``git worktree add /tmp/base <commit>``), put first on PYTHONPATH; the sides
alternate, ``--runs`` times each, the CPU figures hold better than the rates on a loaded
machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import tempfile
import time

from round_trips import run_side

HERE = os.path.abspath(__file__)
CHUNK = 1000


async def side(stimuli: int) -> dict[str, float]:
    os.environ["NEURRAM_SENSORY_TTL_SECONDS"] = "inf"  # none expires while it waits its turn
    from neurram import Brain
    from neurram.bus.messages import MESSAGES, Stimulus
    from neurram.engram import new_id

    with tempfile.TemporaryDirectory(prefix="nr-regions-") as data:
        brain = await Brain.create(encoder="hash", data_dir=data, brain_id="regions")
        await brain.perceive("warm up")
        redis, sensory, now = brain._connection.redis, brain._store.ns.key("sensory"), time.time()
        for start in range(0, stimuli, CHUNK):
            pipe = redis.pipeline(transaction=False)
            for i in range(start, min(stimuli, start + CHUNK)):
                content = f"load fact {i}: item {i} weighs {i % 97} kg"
                sent = Stimulus(
                    stimulus_id=new_id(), content=content, perceived_at=now, reply_to=brain._tally
                )
                pipe.xadd(sensory, {"m": MESSAGES.encode(sent)})
            await pipe.execute()
        brain._unawaited = stimuli  # flush() waits for this many outcomes
        cpu, loop, started = (
            resource.getrusage(resource.RUSAGE_SELF),
            time.thread_time(),
            time.perf_counter(),
        )
        brain._host._wake("regions", "sensory")
        fates = await brain.flush(timeout=600)
        elapsed = time.perf_counter() - started
        after, loop_after = resource.getrusage(resource.RUSAGE_SELF), time.thread_time()
        await brain.close()
    assert fates["held"] == stimuli, fates
    spent = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    return {
        "stimuli_per_s": stimuli / elapsed,
        "cpu_ms": spent / stimuli * 1000,
        "event_loop_cpu_ms": (loop_after - loop) / stimuli * 1000,
    }


def measure(pythonpath: str | None, stimuli: int) -> dict[str, float]:
    return run_side(HERE, ["--side", str(stimuli)], pythonpath)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=None, help="a checkout of another version")
    parser.add_argument("--stimuli", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--side", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(asyncio.run(side(args.side))))
        return
    ours: list[dict[str, float]] = []
    base: list[dict[str, float]] = []
    for _ in range(args.runs):
        ours.append(measure(None, args.stimuli))
        if args.baseline:
            base.append(measure(args.baseline, args.stimuli))
    print(f"{'per stimulus, median of ' + str(args.runs):<28} {'this':>9} {'baseline':>9}")
    for name in ours[0]:
        value = statistics.median(run[name] for run in ours)
        before = f"{statistics.median(run[name] for run in base):9.3f}" if base else f"{'-':>9}"
        print(f"{name:<28} {value:9.3f} {before}")
    for label, runs in (("this", ours), ("baseline", base)):
        for run in runs:
            print(label, " ".join(f"{k}={v:.3f}" for k, v in run.items()))


if __name__ == "__main__":
    main()
