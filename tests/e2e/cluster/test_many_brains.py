"""One `neurram run --redis-cluster` with no ``--brain`` serving brains on every master.

On a cluster of the test's own rather than the session's: a runner serving every brain would
serve the other cluster tests' brains too (and pinning brains with ``--brain`` would skip what
is tested here: finding them through the registry, whose master holds the doorbell while the
brains live on the others)."""

from __future__ import annotations

import asyncio

import pytest

from neurram.bus import Namespace
from neurram.bus.doorbell import DOORBELL

from ...conftest import CLUSTER_SLOTS
from ..conftest import ClientFactory, RegionsFactory, remember_courier_days
from .conftest import brains_one_per_master, master_of

pytestmark = pytest.mark.e2e


async def test_one_runner_serves_brains_on_every_master(
    serve_every_brain: RegionsFactory, clients: ClientFactory, brain_id: str
) -> None:
    """Six brains, two on each master, made after the runner started: each is served and
    recalls exactly its own memories."""
    await serve_every_brain("--redis-cluster", "true")
    ids = brains_one_per_master(f"{brain_id}-a") + brains_one_per_master(f"{brain_id}-b")
    masters = [master_of(Namespace(i).key("")) for i in ids]
    assert set(masters) == set(range(len(CLUSTER_SLOTS)))
    assert masters.count(master_of(DOORBELL)) < len(ids)  # brains away from the doorbell

    async def served(brain_id: str) -> tuple[set[str], set[str]]:
        brain = await clients(brain_id)
        remembered = await remember_courier_days(brain)
        recalled = await brain.recall("when does the courier come", top_k=10)
        return remembered, {engram.engram_id for engram, _ in recalled}

    for remembered, recalled in await asyncio.gather(*(served(i) for i in ids)):
        assert recalled == remembered
