"""The ``neurram`` command: run regions, tap streams, inspect engrams, watch regions, export
and import a brain, demo, serve a brain over MCP."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import msgspec
import numpy as np
from tqdm import tqdm

from neurram.bus import FIELD, DecodeError, Namespace, tail
from neurram.bus.messages import MESSAGES
from neurram.encoder import resolve_encoder
from neurram.errors import InvalidInputError, NeurramError
from neurram.runtime import topology, transfer, views
from neurram.runtime.connection import Connection
from neurram.runtime.host import RegionHost
from neurram.runtime.logs import configure_logging
from neurram.runtime.store import MemoryStore
from neurram.settings import Settings, parse_setting

READY_LINE = "neurram: regions ready"


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        level = logging.INFO if args.command == "run" else logging.WARNING
        configure_logging(level, _settings(args).log_format)
        asyncio.run(args.handler(args))
    except KeyboardInterrupt:
        pass
    except NeurramError as exc:
        sys.exit(f"neurram: {exc}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurram", description="Memory for AI agents.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run regions until SIGINT/SIGTERM")
    run.add_argument(
        "--region", action="append", default=[], help="region to run (repeat; default all)"
    )
    _add_settings(run)
    run.set_defaults(handler=_run)
    tap = commands.add_parser("tap", help="print a brain's stream messages as JSON lines")
    tap.add_argument("streams", nargs="+", metavar="STREAM", help="e.g. sensory held outcome")
    tap.add_argument(
        "--from", dest="start", default="$", help="entry id to start after ($ = new only, 0 = all)"
    )
    _add_settings(tap)
    tap.set_defaults(handler=_tap)
    inspect = commands.add_parser(
        "inspect", help="a brain's engrams with layer, retention and time until forgotten"
    )
    _add_settings(inspect)
    inspect.set_defaults(handler=_inspect)
    top = commands.add_parser("top", help="live view of each region: rate, lag, pending, errors")
    top.add_argument("--once", action="store_true", help="print one view and exit")
    top.add_argument("--every", type=float, default=1.0, help="seconds between views")
    _add_settings(top)
    top.set_defaults(handler=_top)
    export = commands.add_parser("export", help="write a brain as JSON lines (stdout by default)")
    export.add_argument("--out", type=Path, help="file to write instead of stdout")
    _add_settings(export)
    export.set_defaults(handler=_export)
    load = commands.add_parser(
        "import", help="read a file written by `neurram export` into a brain"
    )
    load.add_argument("file", type=Path, metavar="FILE")
    load.add_argument(
        "--reencode",
        action="store_true",
        help="embed the contents anew with this brain's model (for a file of another model)",
    )
    _add_settings(load)
    load.set_defaults(handler=_import)
    demo = commands.add_parser("demo", help="the Quick start, on the embedded server by default")
    _add_settings(demo)
    demo.set_defaults(handler=_demo)
    mcp = commands.add_parser("mcp", help="serve a brain to agents over the Model Context Protocol")
    mcp.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    mcp.add_argument("--host", default="127.0.0.1", help="address to listen on (http)")
    mcp.add_argument("--port", type=int, default=8000, help="port to listen on (http)")
    mcp.add_argument(
        "--no-regions",
        dest="run_regions",
        action="store_false",
        help="do not run regions here: they run in a `neurram run` beside it",
    )
    _add_settings(mcp)
    mcp.set_defaults(handler=_mcp)
    return parser


def _add_settings(parser: argparse.ArgumentParser) -> None:
    """One ``--name`` flag per setting; ``--brain`` is short for ``--brain-id``."""
    group = parser.add_argument_group("settings (override NEURRAM_* environment variables)")
    for name in Settings.__struct_fields__:
        flags = [f"--{name.replace('_', '-')}"] + (["--brain"] if name == "brain_id" else [])
        group.add_argument(*flags, dest=f"setting_{name}", metavar=name.upper())


def _settings(args: argparse.Namespace, **defaults: Any) -> Settings:
    given = {
        name: parse_setting(name, value)
        for name in Settings.__struct_fields__
        if (value := getattr(args, f"setting_{name}")) is not None
    }
    return Settings.load(**{**defaults, **given})


async def _run(args: argparse.Namespace) -> None:
    settings = _settings(args)
    topology.select(settings, args.region)  # a bad region name fails before anything starts
    connection = await Connection.open(settings)
    host = RegionHost(settings, connection.redis, args.region)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, host.supervisor.stop.set)
    try:
        await host.start()
        print(
            f"{READY_LINE}: {' '.join(host.names)} (brain {settings.brain_id!r})",
            file=sys.stderr,
            flush=True,
        )
        await host.run_until_stopped()
    finally:
        await host.stop()
        await connection.close()


async def _tap(args: argparse.Namespace) -> None:
    settings = _settings(args)
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
    settings = _settings(args)
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
    settings = _settings(args)
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


async def _export(args: argparse.Namespace) -> None:
    settings = _settings(args)
    connection = await Connection.open(settings)
    store = MemoryStore(connection.redis, Namespace(settings.brain_id))
    try:
        total = await store.count()
        lines = transfer.export_lines(store, transfer.model_name(settings.model))
        with _output(args.out) as out, _bar("export", total) as bar:
            out.write(await anext(lines))  # the header
            async for line in lines:
                out.write(line)
                bar.update()
    finally:
        await connection.close()


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    """stdout, or ``path`` written in full or not at all (through a ``.part`` file)."""
    if path is None:
        yield sys.stdout
        return
    part = path.with_name(path.name + ".part")
    with part.open("w", encoding="utf-8") as file:
        yield file
    part.replace(path)


def _bar(stage: str, total: int | None) -> tqdm[NoReturn]:
    """A progress bar on stderr, shown only when stderr is a terminal."""
    return tqdm(desc=stage, total=total, unit=" engrams", file=sys.stderr, disable=None)


class _ImportBars:
    """One progress bar per stage of an import: checking the lines, then writing them."""

    def __init__(self) -> None:
        self.bars: dict[str, tqdm[NoReturn]] = {}

    def __call__(self, stage: transfer.Stage, done: int, total: int | None) -> None:
        if stage not in self.bars:  # (a bar without a total has no truth value)
            self.bars[stage] = _bar(stage, total)
        bar = self.bars[stage]
        bar.total = total
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


async def _import(args: argparse.Namespace) -> None:
    settings = _settings(args)
    if not args.file.is_file():
        raise InvalidInputError(f"no file {str(args.file)!r} to import")
    connection = await Connection.open(settings)
    bars = _ImportBars()
    try:
        report = await transfer.import_lines(
            MemoryStore(connection.redis, Namespace(settings.brain_id)),
            args.file,
            resolve_encoder(settings.model),
            reencode=args.reencode,
            fragment_above_words=settings.fragment_above_words,
            progress=bars,
        )
    finally:
        bars.close()
        await connection.close()
    print(
        f"imported {report.engrams} engrams into brain {settings.brain_id!r} (exported from "
        f"brain {report.header.brain_id!r}, model {report.header.model!r}"
        f"{', re-encoded' if report.reencoded else ''})"
    )


async def _demo(args: argparse.Namespace) -> None:
    from neurram.runtime.demo import quick_start

    await quick_start(_settings(args, brain_id="demo"))


async def _mcp(args: argparse.Namespace) -> None:
    from neurram.mcp import serve

    await serve(
        _settings(args),
        transport=args.transport,
        host=args.host,
        port=args.port,
        run_regions=args.run_regions,
    )
