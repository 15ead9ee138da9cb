"""The brains a runner has loaded: for each, one actor per region, in a cache bounded by the
engrams their indexes hold (brains pinned to the runner always stay).

A brain's region is loaded when it is first woken for that brain: its actor is made and set
up (the Hippocampus builds its index from the store), and its consumer group ensured. Past
``index_cache_engrams``, the least recently used brains that nothing is using are unloaded
(their actors torn down); the next work for them loads them again. A loaded brain weighs its
indexed engrams plus :data:`BRAIN_WEIGHT`, so many small brains are bounded too.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import structlog

from neurram.bus import StreamConsumer
from neurram.bus.messages import Message
from neurram.runtime.actor import Actor

BRAIN_WEIGHT = 160  # what the actors of a loaded brain weigh, counted in indexed engrams:
# measured with the real model, a loaded brain of about 40 engrams held 0.8 MiB of the runner,
# about 160 times what one indexed engram holds

MakeActor = Callable[[str, str], Actor]  # (brain, region) -> actor


@dataclass
class Cell:
    """One loaded brain: its actors and their consumers, by region."""

    brain: str
    actors: dict[str, Actor]
    consumers: dict[str, StreamConsumer[Message]]
    reported: dict[str, tuple[int, float]] = field(default_factory=dict)  # region ->
    # (handled, monotonic time) at its last heartbeat
    users: int = 0  # polls and ticks in progress: a used cell is never unloaded

    @property
    def weight(self) -> int:
        return BRAIN_WEIGHT + sum(actor.footprint() for actor in self.actors.values())


class Cells:
    """Loaded brains, least recently used first, loading and unloading them on demand."""

    def __init__(self, make: MakeActor, budget: int, pinned: Collection[str] = ()) -> None:
        self._make = make
        self.budget = budget
        self._pinned = frozenset(pinned)
        self._cells: OrderedDict[str, Cell] = OrderedDict()
        self._loading: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._shrinking: asyncio.Task[None] | None = None  # see _shrink_soon
        self._shrink_again = False
        self._log = structlog.get_logger("neurram").bind(component="cells")

    def __len__(self) -> int:
        return len(self._cells)

    def get(self, brain: str) -> Cell | None:
        """The cell of ``brain`` if loaded."""
        return self._cells.get(brain)

    def loaded(self) -> list[Cell]:
        return list(self._cells.values())

    @property
    def weight(self) -> int:
        return sum(cell.weight for cell in self._cells.values())

    async def use(self, brain: str, region: str) -> Cell:
        """The cell of ``brain`` with ``region``'s actor loaded if need be (regions load on
        their own: a stimulus need not wait for the Hippocampus to build its index), marked
        used (call :meth:`release`)."""
        cell = self._cells.get(brain)
        if cell is None:
            cell = self._cells[brain] = Cell(brain, {}, {})
        cell.users += 1
        self._cells.move_to_end(brain)
        try:
            if region not in cell.actors:
                key = (brain, region)
                task = self._loading.get(key)
                if task is None:
                    task = asyncio.create_task(self._load(cell, region), name=f"neurram:load:{key}")
                    self._loading[key] = task
                    task.add_done_callback(lambda _: self._loading.pop(key, None))
                await asyncio.shield(task)
        except BaseException:
            cell.users -= 1
            raise
        return cell

    def release(self, cell: Cell) -> None:
        """Done with ``cell`` (for now)."""
        cell.users -= 1

    async def shrink(self) -> None:
        """Unload the least recently used unused brains until the cache fits its budget (soon
        after a brain is loaded, and every heartbeat period as indexes grow). The brain used
        last and pinned brains stay: a brain larger than the budget is not reloaded over and
        over."""
        weight = self.weight
        cells = list(self._cells.values())
        for cell in cells[:-1]:
            if weight <= self.budget:
                return
            if self._cells.get(cell.brain) is not cell:
                continue  # unloaded (and maybe loaded again) by another shrink meanwhile
            if cell.users or cell.brain in self._pinned:
                continue
            weight -= cell.weight
            await self.unload(cell)

    async def unload(self, cell: Cell) -> None:
        del self._cells[cell.brain]
        await close(cell)
        self._log.debug("brain.unloaded", brain=cell.brain)

    async def close(self) -> None:
        """Unload every brain (after the lanes stopped)."""
        if self._shrinking is not None:
            await self._shrinking
        for cell in list(self._cells.values()):
            await self.unload(cell)

    async def _load(self, cell: Cell, region: str) -> None:
        started = time.monotonic()
        actor = self._make(cell.brain, region)
        await actor.setup()
        try:
            consumer = actor.consumer()
            await consumer.ensure_groups()
            await actor.beat(consumer.stats, quiet=True)  # `neurram top` sees it served at once
        except BaseException:
            await actor.teardown()
            raise
        cell.actors[region] = actor
        cell.consumers[region] = consumer
        cell.reported[region] = (0, time.monotonic())
        self._log.debug(
            "region.loaded",
            brain=cell.brain,
            region=region,
            seconds=round(time.monotonic() - started, 3),
        )
        self._shrink_soon()

    def _shrink_soon(self) -> None:
        """Shrink in a task of its own: the poll that loaded a region, and with it the brains
        waiting behind it in its lane, need not wait while other brains unload."""
        self._shrink_again = True
        if self._shrinking is None or self._shrinking.done():
            self._shrinking = asyncio.create_task(self._shrink_while_asked())

    async def _shrink_while_asked(self) -> None:
        while self._shrink_again:
            self._shrink_again = False
            try:
                await self.shrink()
            except Exception as exc:  # retried after the next load, or by housekeeping
                self._log.exception("cells.shrink_failed", error=repr(exc))


async def close(cell: Cell) -> None:
    """A last heartbeat from each actor of ``cell``, then its teardown."""
    for region, actor in list(cell.actors.items()):
        stats = cell.consumers[region].stats
        try:
            await actor.beat(stats, stopped=True, quiet=True)
        except Exception as exc:  # the brain is unloaded anyway; its beats expire
            actor.log.warning("heartbeat.failed", error=repr(exc))
        await actor.teardown()
        if actor.ctx.metrics is not None:
            actor.ctx.metrics.retire(region, stats)
