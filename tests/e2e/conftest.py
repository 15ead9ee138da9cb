"""Helpers for tests that run the `neurram` command in subprocesses."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from neurram import Brain, Layer
from neurram.bus import FIELD, Namespace
from neurram.bus.messages import MESSAGES, Heartbeat, Outcome
from neurram.cli import READY_LINE

from ..conftest import valkey_server

START_TIMEOUT = 120


async def neurram(
    *args: str, env: dict[str, str] | None = None, stdin: bool = False
) -> asyncio.subprocess.Process:
    """`neurram ARGS` with stdout and stderr (and stdin, when asked) piped to this test."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "neurram",
        *args,
        stdin=asyncio.subprocess.PIPE if stdin else None,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )


async def succeed(*args: str) -> tuple[str, str]:
    """`neurram ARGS`, which must succeed: its stdout (stripped) and stderr."""
    process = await neurram(*args)
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode().strip(), err.decode()


async def wait_for_line(stream: asyncio.StreamReader, text: str) -> str:
    async def scan() -> str:
        while line := (await stream.readline()).decode():
            if text in line:
                return line
        raise AssertionError(f"stream ended before a line with {text!r}")

    return await asyncio.wait_for(scan(), START_TIMEOUT)


RegionsFactory = Callable[..., Awaitable[asyncio.subprocess.Process]]
ClientFactory = Callable[..., Awaitable[Brain]]


@pytest.fixture
async def start_runner() -> AsyncIterator[RegionsFactory]:
    """Start `neurram run ARGS` (hash encoder) and wait until it is ready; every process
    started is killed at the end of the test."""
    processes: list[asyncio.subprocess.Process] = []
    drains: list[asyncio.Task[bytes]] = []

    async def start(*args: str) -> asyncio.subprocess.Process:
        process = await neurram("run", "--model", "hash", *args)
        processes.append(process)
        assert process.stderr is not None
        await wait_for_line(process.stderr, READY_LINE)
        drains.append(asyncio.create_task(process.stderr.read()))  # a full pipe would block it
        return process

    yield start
    for process in processes:
        if process.returncode is None:
            process.kill()
            await process.wait()
    await asyncio.gather(*drains)


@pytest.fixture
def start_regions(start_runner: RegionsFactory, redis_url: str, brain_id: str) -> RegionsFactory:
    """`neurram run` for the test's brain alone, on the session's server."""

    async def start(*args: str) -> asyncio.subprocess.Process:
        return await start_runner("--redis-url", redis_url, "--brain", brain_id, *args)

    return start


@pytest.fixture
async def regions(start_regions: RegionsFactory) -> asyncio.subprocess.Process:
    """`neurram run` serving the test's brain in a separate process."""
    return await start_regions()


@pytest.fixture
def own_redis_url() -> Iterator[str]:
    """A server of the test's own: a runner serving every brain of its server then serves the
    test's brains alone (the session's server holds every other test's)."""
    with valkey_server() as url:
        yield url


@pytest.fixture
def serve_every_brain(own_redis_url: str, start_runner: RegionsFactory) -> RegionsFactory:
    """`neurram run` with no ``--brain`` (every brain) on the test's own server. Stimuli
    live a minute: on a shared machine, one waiting while many new brains load must not
    expire (later ``ARGS`` may say otherwise)."""

    async def start(*args: str) -> asyncio.subprocess.Process:
        return await start_runner(
            "--redis-url", own_redis_url, "--sensory-ttl-seconds", "60", *args
        )

    return start


@pytest.fixture
async def own_redis(own_redis_url: str) -> AsyncIterator[aioredis.Redis]:
    async with aioredis.from_url(own_redis_url) as client:
        yield client


@pytest.fixture
async def clients(own_redis_url: str) -> AsyncIterator[ClientFactory]:
    """Client brains (``run_regions=False``, hash encoder) on the test's own server, or on
    ``redis_url`` when given; each is closed at the end of the test."""
    made: list[Brain] = []

    async def make(brain_id: str, **settings: Any) -> Brain:
        settings.setdefault("redis_url", own_redis_url)
        brain = await Brain.create(brain_id=brain_id, run_regions=False, model="hash", **settings)
        made.append(brain)
        return brain

    yield make
    for brain in made:
        await brain.close()


DAYS = ("Monday", "Wednesday", "Friday")


async def remember_courier_days(brain: Brain) -> set[str]:
    """Perceive (waiting for each) the courier's days of ``brain``; their engram ids. Every
    brain is told the same, so another brain's memory would answer its recall as well."""
    ids = set()
    for day in DAYS:
        engram = await brain.perceive(f"The courier comes on {day}")
        assert engram.layer is Layer.WORKING, engram.context
        ids.add(engram.engram_id)
    return ids


async def outcomes(redis: aioredis.Redis, brain_id: str) -> dict[str, set[str]]:
    """Stimulus id -> the statuses reported for it on the outcome stream."""
    seen: dict[str, set[str]] = {}
    for _, fields in await redis.xrange(Namespace(brain_id).key("outcome")):
        outcome = MESSAGES.decode(fields[FIELD])
        assert isinstance(outcome, Outcome)
        seen.setdefault(outcome.request_id, set()).add(outcome.status)
    return seen


async def heartbeats(redis: aioredis.Redis, brain_id: str) -> list[Heartbeat]:
    """The heartbeats of ``brain_id``'s actors, oldest first."""
    beats = [
        MESSAGES.decode(f[FIELD])
        for _, f in await redis.xrange(Namespace(brain_id).key("heartbeat"))
    ]
    return [beat for beat in beats if isinstance(beat, Heartbeat)]


def consumer_prefix(process: asyncio.subprocess.Process) -> str:
    """How the consumer names of a runner started here begin (host name, then pid)."""
    return f"{socket.gethostname()}-{process.pid}-"
