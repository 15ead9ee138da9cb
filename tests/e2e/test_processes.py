"""The command line as a user runs it: regions in their own process, tap, demo."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from neurram import Brain, Layer
from neurram.bus import Namespace

from .conftest import START_TIMEOUT, neurram, wait_for_line

pytestmark = pytest.mark.e2e


async def test_client_served_by_regions_in_another_process(
    regions: asyncio.subprocess.Process, redis_url: str, brain_id: str
) -> None:
    async with await Brain.create(
        redis_url=redis_url, brain_id=brain_id, run_regions=False
    ) as brain:
        engram = await brain.perceive("The backup runs every night at two")
        assert engram.layer is Layer.WORKING
        assert (await brain.recall("nightly backup time"))[0][0].engram_id == engram.engram_id
        stats = await brain.sleep()
        assert stats["consolidated"] == 0
    regions.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(regions.wait(), 30) == 0


async def test_tap_prints_messages_without_touching_groups(
    regions: asyncio.subprocess.Process, redis_url: str, brain_id: str, redis: aioredis.Redis
) -> None:
    tap = await neurram(
        "tap", "held", "outcome", "--from", "0", "--redis-url", redis_url, "--brain", brain_id
    )
    try:
        ns = Namespace(brain_id)
        async with await Brain.create(
            redis_url=redis_url, brain_id=brain_id, run_regions=False
        ) as brain:
            engram = await brain.perceive("The tap sees this memory")
            assert tap.stdout is not None
            line = json.loads(await wait_for_line(tap.stdout, engram.engram_id))
        assert line["stream"] in {"held", "outcome"}
        assert line["message"]["type"] in {"held", "outcome"}
        groups = await redis.xinfo_groups(ns.key("held"))
        assert [(g["name"], g["consumers"]) for g in groups] == [(b"hippocampus", 1)]
    finally:
        tap.terminate()
        await tap.wait()


async def test_demo_on_the_embedded_server(tmp_path: Path) -> None:
    demo = await neurram("demo", env={"NEURRAM_DATA_DIR": str(tmp_path / "data")})
    stdout, stderr = await asyncio.wait_for(demo.communicate(), START_TIMEOUT)
    assert demo.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    assert lines[0].endswith("[semantic]  Paris is the capital of France")
    assert "Working memory: 3 / 7 slots" in lines
    assert "'consolidated'" in lines[-1]
    assert (tmp_path / "data" / "appendonlydir").is_dir()  # AOF persistence
