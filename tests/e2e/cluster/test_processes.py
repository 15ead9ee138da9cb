"""`neurram run --redis-cluster` serving a client in this process; kill -9 under load."""

from __future__ import annotations

import asyncio
import signal

import pytest

from neurram import Brain, Layer
from tests.e2e.test_faults import (
    test_kill_9_during_ingest_loses_and_duplicates_nothing as test_kill_9_on_the_cluster,
)

from ..conftest import RegionsFactory

pytestmark = pytest.mark.e2e

__all__ = ["test_kill_9_on_the_cluster"]  # the single-server fault test, run on the cluster


async def test_run_with_the_cluster_flag_serves_a_client(
    start_regions: RegionsFactory,
    redis_url: str,
    brain_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NEURRAM_REDIS_CLUSTER")  # the flag and the keyword alone
    regions = await start_regions("--redis-cluster", "true")
    async with await Brain.create(
        redis_url=redis_url, redis_cluster=True, brain_id=brain_id, run_regions=False
    ) as brain:
        engram = await brain.perceive("The backup runs every night at two")
        assert engram.layer is Layer.WORKING
        assert (await brain.recall("nightly backup time"))[0][0].engram_id == engram.engram_id
        assert await brain.forget(engram.engram_id)
        assert await brain.engrams() == []
    regions.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(regions.wait(), 30) == 0
