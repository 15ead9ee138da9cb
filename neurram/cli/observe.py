"""Watching a brain without disturbing it: ``tap`` its streams, ``top`` its regions,
``inspect`` its engrams."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from typing import Any

import msgspec
import numpy as np

from neurram.bus import FIELD, DecodeError, Namespace, tail
from neurram.bus.messages import MESSAGES
from neurram.cli.options import add_settings, settings_of
from neurram.runtime import views
from neurram.runtime.connection import Connection
from neurram.runtime.store import MemoryStore


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tap = commands.add_parser("tap", help="print a brain's stream messages as JSON lines")
    tap.add_argument("streams", nargs="+", metavar="STREAM", help="e.g. sensory held outcome")
    tap.add_argument(
        "--from", dest="start", default="$", help="entry id to start after ($ = new only, 0 = all)"
    )
    add_settings(tap)
    tap.set_defaults(handler=_tap)
    inspect = commands.add_parser(
        "inspect", help="a brain's engrams with layer, retention and time until forgotten"
    )
    add_settings(inspect)
    inspect.set_defaults(handler=_inspect)
    top = commands.add_parser("top", help="live view of each region: rate, lag, pending, errors")
    top.add_argument("--once", action="store_true", help="print one view and exit")
    top.add_argument("--every", type=float, default=1.0, help="seconds between views")
    add_settings(top)
    top.set_defaults(handler=_top)


async def _tap(args: argparse.Namespace) -> None:
    settings = settings_of(args)
    namespace = Namespace(settings.brain_id)
    connection = await Connection.open(settings)
    try:
        keys = {namespace.key(s): s for s in args.streams}
        async for stream, entry_id, fields in tail(connection.redis, list(keys), args.start):
            line = {"stream": keys.get(stream, stream), "id": entry_id, "message": _decoded(fields)}
            sys.stdout.write(msgspec.json.encode(line, enc_hook=_json_hook).decode() + "\n")
            sys.stdout.flush()
    finally:
        await connection.close()


def _decoded(fields: dict[bytes, bytes]) -> Any:
    """The message of an entry, or its raw fields (dead letters, foreign entries)."""
    if FIELD in fields:
        try:
            return MESSAGES.decode(fields[FIELD])
        except DecodeError:
            pass
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()}


def _json_hook(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return f"float32[{obj.size}]"
    raise NotImplementedError(type(obj).__name__)


async def _inspect(args: argparse.Namespace) -> None:
    settings = settings_of(args)
    connection = await Connection.open(settings)
    try:
        store = MemoryStore(connection.redis, Namespace(settings.brain_id))
        engrams = await store.all()
        held = await store.working_memory_ids()
        counts = await store.outcome_counts()
    finally:
        await connection.close()
    print(views.engram_table(engrams, set(held), time.time(), settings.forgetting_law))
    layers = Counter(e.layer.value for e in engrams)
    print(
        f"\n{len(engrams)} engrams ({', '.join(f'{n} {k}' for k, n in sorted(layers.items()))}); "
        f"working memory {len(held)} / {settings.working_memory_capacity}; "
        f"outcomes {dict(sorted(counts.items()))}"
    )


async def _top(args: argparse.Namespace) -> None:
    settings = settings_of(args)
    connection = await Connection.open(settings)
    store = MemoryStore(connection.redis, Namespace(settings.brain_id))
    try:
        while True:
            statuses = await views.region_statuses(connection.redis, settings)
            held = len(await store.working_memory_ids())
            table = views.region_table(statuses, held, settings.working_memory_capacity)
            clear = "" if args.once else "\x1b[2J\x1b[H"
            print(f"{clear}brain {settings.brain_id!r}\n{table}", flush=True)
            if args.once:
                return
            await asyncio.sleep(args.every)
    finally:
        await connection.close()
