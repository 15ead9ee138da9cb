"""What one stimulus costs the bus: Redis round trips, commands and CPU, per awaited perceive
and per ``perceive(wait=False)``, beside a baseline checkout measured in the same run.

    .venv/bin/python benchmarks/round_trips.py [--baseline DIR] [--awaited 200] [--unawaited 1500]

Each side runs in a fresh process with regions in that process, the hash encoder and a
private embedded server. Round trips are counted on the client side (each command sent alone
and each pipeline is one write to a connection: redis-py's ``send_packed_command``);
commands by the server (INFO commandstats: MULTI, EXEC and the commands scripts run count
too); CPU as the process's user + system time and the server's. ``--baseline`` names a
checkout of another version (``git worktree add /tmp/base <commit>``), put first on
PYTHONPATH for the second side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
WARM_UP = 30


def count_round_trips() -> Counter[str]:
    """Count every write of a command or pipeline to a connection, from now on."""
    from redis.asyncio.connection import AbstractConnection

    trips: Counter[str] = Counter()
    send = AbstractConnection.send_packed_command

    async def counted(self: Any, command: Any, check_health: bool = True) -> None:
        trips["sent"] += 1
        await send(self, command, check_health)

    AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]
    return trips


async def costs(awaited: int, unawaited: int) -> dict[str, float]:
    import redis.asyncio as aioredis

    from neurram import Brain

    trips = count_round_trips()
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="nr-trips-") as data:
        brain = await Brain.create(encoder="hash", data_dir=data, brain_id="trips")
        admin = aioredis.from_url(brain._connection.url)
        for i in range(WARM_UP):
            await brain.perceive(f"warm up {i}")
        for name, n, wait in (("awaited", awaited, True), ("unawaited", unawaited, False)):
            await admin.config_resetstat()
            trips.clear()
            cpu = resource.getrusage(resource.RUSAGE_SELF)
            server = await admin.info("cpu")
            started = time.perf_counter()
            for i in range(n):
                await brain.perceive(f"{name} fact {i}: item {i} weighs {i % 97} kg", wait=wait)
            if not wait:
                await brain.flush()
            elapsed = time.perf_counter() - started
            after, server_after = resource.getrusage(resource.RUSAGE_SELF), await admin.info("cpu")
            stats = await admin.info("commandstats")
            own = ("used_cpu_user", "used_cpu_sys")
            out[f"{name}_per_s"] = n / elapsed
            out[f"{name}_round_trips"] = trips["sent"] / n
            out[f"{name}_commands"] = sum(v["calls"] for v in stats.values()) / n
            out[f"{name}_cpu_ms"] = (
                (after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime) / n * 1000
            )
            out[f"{name}_server_cpu_ms"] = sum(server_after[k] - server[k] for k in own) / n * 1000
        await admin.aclose()
        await brain.close()
    return out


def run_side(script: str, args: list[str], pythonpath: str | None) -> dict[str, float]:
    """Run ``script`` (a benchmark's path) with ``args`` in a fresh process, ``pythonpath``
    first on its path (None: this checkout); the JSON object its last line prints."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    done = subprocess.run(
        [sys.executable, script, *args], env=env, check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def measure(pythonpath: str | None, awaited: int, unawaited: int) -> dict[str, float]:
    script = os.path.join(HERE, "round_trips.py")
    return run_side(script, ["--side", str(awaited), str(unawaited)], pythonpath)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=None, help="a checkout of another version")
    parser.add_argument("--awaited", type=int, default=200)
    parser.add_argument("--unawaited", type=int, default=1500)
    parser.add_argument("--side", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(asyncio.run(costs(*args.side))))
        return
    ours = measure(None, args.awaited, args.unawaited)
    base = measure(args.baseline, args.awaited, args.unawaited) if args.baseline else {}
    print(f"{'per stimulus':<28} {'this':>9} {'baseline':>9}")
    for name, value in ours.items():
        before = f"{base[name]:9.2f}" if name in base else f"{'-':>9}"
        print(f"{name:<28} {value:9.2f} {before}")


if __name__ == "__main__":
    main()
