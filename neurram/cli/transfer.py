"""``neurram export`` and ``neurram import``: a brain as JSON lines and back, with progress
on stderr."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn, TextIO

from tqdm import tqdm

from neurram.bus import Namespace
from neurram.cli.options import add_settings, settings_of
from neurram.encoder import encoder_for
from neurram.errors import InvalidInputError
from neurram.runtime import transfer
from neurram.runtime.connection import Connection
from neurram.runtime.store import MemoryStore


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = commands.add_parser("export", help="write a brain as JSON lines (stdout by default)")
    export.add_argument("--out", type=Path, help="file to write instead of stdout")
    add_settings(export)
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
    add_settings(load)
    load.set_defaults(handler=_import)


async def _export(args: argparse.Namespace) -> None:
    settings = settings_of(args)
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


class ImportBars:
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
    settings = settings_of(args)
    if not args.file.is_file():
        raise InvalidInputError(f"no file {str(args.file)!r} to import")
    connection = await Connection.open(settings)
    bars = ImportBars()
    try:
        report = await transfer.import_lines(
            MemoryStore(connection.redis, Namespace(settings.brain_id)),
            args.file,
            encoder_for(settings),
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
