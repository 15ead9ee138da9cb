"""The tests here run on the session's Redis Cluster: brains and `neurram run` processes
connect as cluster clients through a seed node."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from neurram.bus import Namespace
from neurram.runtime.cluster import Shards

from ...conftest import CLUSTER_SLOTS, valkey_cluster


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


@pytest.fixture
def own_cluster_urls() -> Iterator[list[str]]:
    """A cluster of the test's own (the session's holds every other cluster test's brains)."""
    with valkey_cluster() as urls:
        yield urls


@pytest.fixture
def own_redis_url(own_cluster_urls: list[str]) -> str:
    """Here, the seed node of the test's own cluster: `serve_every_brain` and `clients` use
    it."""
    return own_cluster_urls[0]


def master_of(key: str) -> int:
    """Which master (index in ``CLUSTER_SLOTS``) holds ``key``."""
    slot = key_slot(key.encode())
    return next(n for n, (low, high) in enumerate(CLUSTER_SLOTS) if low <= slot <= high)


def brains_one_per_master(prefix: str) -> list[str]:
    """Brain ids whose slots fall in each master's range, one id per master."""
    ids: dict[int, str] = {}
    i = 0
    while len(ids) < len(CLUSTER_SLOTS):
        brain_id = f"{prefix}-{i}"
        ids.setdefault(master_of(Namespace(brain_id).key("")), brain_id)
        i += 1
    return [ids[n] for n in sorted(ids)]
