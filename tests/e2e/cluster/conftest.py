"""The tests here run on the session's Redis Cluster: brains and `neurram run` processes
connect as cluster clients through a seed node."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from neurram.bus import Namespace
from neurram.runtime.cluster import Shards


@pytest.fixture(scope="session")
def redis_url(cluster_urls: list[str]) -> str:
    """The seed node every brain of these tests is given."""
    return cluster_urls[0]


@pytest.fixture(autouse=True)
def cluster_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """``NEURRAM_REDIS_CLUSTER``: for brains made here and `neurram run` processes alike."""
    monkeypatch.setenv("NEURRAM_REDIS_CLUSTER", "true")


@pytest.fixture
async def shards(redis_url: str) -> AsyncIterator[Shards]:
    shards = await Shards.open(redis_url)
    yield shards
    await shards.aclose()


@pytest.fixture
def redis(shards: Shards, brain_id: str) -> aioredis.Redis:
    """A client of the master that holds the test's brain."""
    return shards.client_for(Namespace(brain_id))
