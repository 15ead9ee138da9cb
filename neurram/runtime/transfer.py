"""Export a brain as portable lines (:mod:`neurram.portable`) and import them back.

Both stream through the store in chunks, so memory stays bounded. An import never needs the
regions: it writes through the store, whose change log the Hippocampus instances read, so a
running brain indexes the imported engrams before its next recall.

An import reads its lines twice: first it checks every line (nothing is written if one is
bad), then it writes them in chunks, each chunk one transaction (engrams, the restatement
hash, the change log). A source other than a file is spooled to a temporary file during the
check. Imported engrams keep their layer, but none takes a working-memory slot: the slots
hold what the brain attends to now, and an import is history, not attention (filling them
would displace what the brain holds).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from neurram.encoder import DEFAULT_MODEL, Encoder
from neurram.engram import Engram
from neurram.errors import ImportFormatError, ImportInterruptedError, ModelMismatchError
from neurram.fragments import attach_embeddings, texts_to_embed
from neurram.portable import Header, engram_line, header_line, new_header, read_engram, read_header
from neurram.runtime.store import SCAN_COUNT, MemoryStore

Source = str | os.PathLike[str] | Iterable[str | bytes] | AsyncIterable[str | bytes]
Stage = Literal["checked", "written"]
Progress = Callable[[Stage, int, int | None], None]  # stage, engrams so far, total if known
SPOOL_IN_MEMORY = 8 * 1024 * 1024  # bytes of a spooled source kept in memory


@dataclass(frozen=True)
class ImportReport:
    """What an import wrote."""

    header: Header  # the file's header
    engrams: int  # engrams written
    reencoded: bool  # embeddings were made anew by the brain's model


def model_name(model: str | None, encoder: Encoder | None = None) -> str:
    """How an export names its model: an explicit encoder's name, else the ``model`` setting
    (the default model's hub name when unset)."""
    return encoder.name if encoder is not None else model or DEFAULT_MODEL


async def export_lines(
    store: MemoryStore, model: str, chunk: int = SCAN_COUNT
) -> AsyncIterator[str]:
    """The header, then every engram of the brain, one line each (with its newline).

    The header's dimension is the embedding width of the first engram read. An engram
    written while the export runs may come twice (HSCAN); importing keeps the last.
    """
    chunks = store.scan(chunk)
    first: list[Engram] = await anext(chunks, [])
    dimension = max((e.embedding.size for e in first), default=0)
    yield header_line(new_header(model, dimension, store.ns.name, time.time()))
    for engram in first:
        yield engram_line(engram)
    async for engrams in chunks:
        for engram in engrams:
            yield engram_line(engram)


async def import_lines(
    store: MemoryStore,
    source: Source,
    encoder: Encoder,
    *,
    reencode: bool = False,
    fragment_above_words: int,
    chunk: int = SCAN_COUNT,
    progress: Progress | None = None,
) -> ImportReport:
    """Check every line of ``source`` (a path, or lines), then write its engrams in chunks.

    Raises :class:`ImportFormatError` (naming the line) or :class:`ModelMismatchError`
    before anything is written, and :class:`ImportInterruptedError` (saying how many were
    written) if writing fails midway. With ``reencode`` the contents are embedded anew by
    ``encoder`` (and split into fragments by ``fragment_above_words``).
    """
    dimension = await asyncio.to_thread(lambda: encoder.dim)  # may load the model
    report = progress or (lambda stage, done, total: None)
    with _Lines(source) as lines:
        header, total = await _check(lines.first(), dimension, reencode, report)
        written = 0
        try:
            async for engrams in _chunks(lines.again(), chunk):
                if reencode:
                    await _reembed(engrams, encoder, fragment_above_words)
                await store.put(engrams)
                written += len(engrams)
                report("written", written, total)
        except Exception as exc:
            raise ImportInterruptedError(written, total, exc) from exc
    return ImportReport(header=header, engrams=written, reencoded=reencode)


async def _check(
    lines: AsyncIterator[str], dimension: int, reencode: bool, report: Progress
) -> tuple[Header, int]:
    """Read every line once: the header, and that each engram line is valid."""
    numbered = _numbered(lines)
    first = await anext(numbered, None)
    if first is None:
        raise ImportFormatError(1, "no header: the source is empty")
    header = read_header(*first)
    _check_model(header, dimension, reencode)
    count = 0
    async for number, line in numbered:
        read_engram(number, line, header.dimension)
        count += 1
        if count % SCAN_COUNT == 0:
            report("checked", count, None)
    report("checked", count, count)
    return header, count


def _check_model(header: Header, dimension: int, reencode: bool) -> None:
    """Refuse embeddings of another width than the brain's model makes (unless re-encoding)."""
    if reencode or header.dimension in (0, dimension):
        return
    raise ModelMismatchError(
        f"the file's embeddings have {header.dimension} dimensions (model {header.model!r}); "
        f"this brain's model makes {dimension}. Import with reencode=True (--reencode) to "
        "embed the contents anew with this brain's model."
    )


async def _numbered(lines: AsyncIterator[str]) -> AsyncIterator[tuple[int, str]]:
    """Non-blank lines with their number in the source (from 1)."""
    number = 0
    async for raw in lines:
        number += 1
        line = raw.rstrip("\r\n")
        if "\n" in line:
            raise ImportFormatError(number, "a line break inside a line; one JSON object a line")
        if line.strip():
            yield number, line


async def _chunks(lines: AsyncIterator[str], size: int) -> AsyncIterator[list[Engram]]:
    """The engrams of checked lines (the header skipped), ``size`` at a time."""
    numbered = _numbered(lines)
    header = read_header(*await anext(numbered))
    chunk: list[Engram] = []
    async for number, line in numbered:
        chunk.append(read_engram(number, line, header.dimension))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def _reembed(engrams: list[Engram], encoder: Encoder, above_words: int) -> None:
    """Embed the contents (and their fragments) anew, one encoder call for the chunk."""
    texts = [texts_to_embed(e.content, above_words) for e in engrams]
    rows = await asyncio.to_thread(encoder.encode, [t for group in texts for t in group])
    start = 0
    for engram, group in zip(engrams, texts, strict=True):
        attach_embeddings(engram, rows[start : start + len(group)])
        start += len(group)


class _Lines:
    """A source's lines, readable twice: a file is read again, any other source is spooled
    to a temporary file while it is read the first time."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._path = Path(source) if isinstance(source, str | os.PathLike) else None
        self._spool: IO[str] | None = None

    def __enter__(self) -> _Lines:
        if self._path is None:
            self._spool = tempfile.SpooledTemporaryFile(
                SPOOL_IN_MEMORY, mode="w+", encoding="utf-8"
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._spool is not None:
            self._spool.close()

    async def first(self) -> AsyncIterator[str]:
        if self._path is not None:
            for line in _read(self._path):
                yield line
            return
        assert self._spool is not None
        async for raw in _iterate(self._source):
            line = raw.decode() if isinstance(raw, bytes) else raw
            self._spool.write(line.rstrip("\r\n") + "\n")
            yield line

    async def again(self) -> AsyncIterator[str]:
        if self._path is not None:
            for line in _read(self._path):
                yield line
            return
        assert self._spool is not None
        self._spool.seek(0)
        for line in self._spool:
            yield line


def _read(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as file:
        yield from file


async def _iterate(source: Source) -> AsyncIterator[str | bytes]:
    if isinstance(source, AsyncIterable):
        async for line in source:
            yield line
    else:
        assert not isinstance(source, str | os.PathLike)
        for line in source:
            yield line
