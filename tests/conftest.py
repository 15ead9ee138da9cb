"""Shared fixtures: one real valkey-server for the whole session, a client per test."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from neurram import Brain
from neurram.runtime.embedded import EmbeddedServer


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a valkey-server started once per session in a short temp dir."""
    data_dir = Path(tempfile.mkdtemp(prefix="nr-"))
    server = EmbeddedServer(data_dir)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def brain_id() -> str:
    """A name unique to the test: tests share the server but never each other's keys."""
    return f"t-{uuid.uuid4().hex[:12]}"


BrainFactory = Callable[..., Awaitable[Brain]]


@pytest.fixture
async def make_brain(redis_url: str, brain_id: str) -> AsyncIterator[BrainFactory]:
    """Brains on the session server with the hash encoder; closed after the test.

    The first brain gets the test's ``brain_id``, later ones fresh ids unless one is given.
    """
    brains: list[Brain] = []

    async def make(**settings: Any) -> Brain:
        settings.setdefault("brain_id", brain_id if not brains else f"{brain_id}-{len(brains)}")
        settings.setdefault("model", "hash")
        brain = await Brain.create(redis_url=redis_url, **settings)
        brains.append(brain)
        return brain

    yield make
    for brain in brains:
        await brain.close()


async def eventually(
    condition: Callable[[], Awaitable[bool]], within: float = 10.0, interval: float = 0.02
) -> None:
    """Wait until ``condition`` holds; fail with a clear message after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"condition {condition.__name__} not met within {within} s")
        await asyncio.sleep(interval)
