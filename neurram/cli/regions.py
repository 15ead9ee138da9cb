"""``neurram run``: a supervisor running the chosen regions until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from neurram.cli.options import add_settings, settings_of
from neurram.runtime import access, topology
from neurram.runtime.connection import Connection
from neurram.runtime.host import RegionHost

READY_LINE = "neurram: regions ready"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser(
        "run", help="run regions for every brain (or some) until SIGINT/SIGTERM"
    )
    run.add_argument(
        "--region", action="append", default=[], help="region to run (repeat; default all)"
    )
    run.add_argument(
        "--brain",
        action="append",
        default=[],
        dest="brains",
        help="serve only this brain (repeat; default: every brain of the Redis)",
    )
    add_settings(run, brain_alias=False)
    run.set_defaults(handler=run_regions)


async def run_regions(args: argparse.Namespace) -> None:
    """Run the regions of ``args`` until a signal stops them."""
    settings = settings_of(args)
    topology.select(settings, args.region)  # a bad region name fails before anything starts
    access.check_may_run_regions(settings.redis_url)
    connection = await Connection.open(settings, serving=True)
    host = RegionHost(settings, connection, args.region, brains=args.brains)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, host.supervisor.stop.set)
    try:
        await host.start()
        served = ", ".join(repr(b) for b in sorted(host.brains)) or "every brain"
        print(f"{READY_LINE}: {' '.join(host.names)} ({served})", file=sys.stderr, flush=True)
        await host.run_until_stopped()
    finally:
        await host.stop()
        await connection.close()
