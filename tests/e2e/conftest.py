"""Helpers for tests that run the `neurram` command in subprocesses."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from neurram.cli import READY_LINE

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


async def wait_for_line(stream: asyncio.StreamReader, text: str) -> str:
    async def scan() -> str:
        while line := (await stream.readline()).decode():
            if text in line:
                return line
        raise AssertionError(f"stream ended before a line with {text!r}")

    return await asyncio.wait_for(scan(), START_TIMEOUT)


RegionsFactory = Callable[..., Awaitable[asyncio.subprocess.Process]]


@pytest.fixture
async def start_regions(redis_url: str, brain_id: str) -> AsyncIterator[RegionsFactory]:
    """Start `neurram run` for the test's brain (hash encoder) and wait until it is ready;
    every process started is killed at the end of the test."""
    processes: list[asyncio.subprocess.Process] = []
    drains: list[asyncio.Task[bytes]] = []

    async def start(*args: str) -> asyncio.subprocess.Process:
        process = await neurram(
            "run", "--redis-url", redis_url, "--brain", brain_id, "--model", "hash", *args
        )
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
async def regions(start_regions: RegionsFactory) -> asyncio.subprocess.Process:
    """`neurram run` serving the test's brain in a separate process."""
    return await start_regions()
