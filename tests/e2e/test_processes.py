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
from tests.conftest import eventually
from tests.scrape import free_port, scrape, value

from .conftest import START_TIMEOUT, RegionsFactory, neurram, wait_for_line

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


async def test_run_serves_metrics_on_its_port(
    start_regions: RegionsFactory, redis_url: str, brain_id: str
) -> None:
    port = free_port()
    await start_regions("--metrics-port", str(port), "--metrics-host", "127.0.0.1")
    async with await Brain.create(
        redis_url=redis_url, brain_id=brain_id, run_regions=False
    ) as brain:
        await brain.perceive("The regions in the other process count this")

    async def counted() -> bool:
        samples = await scrape(port)
        labels = {"brain": brain_id, "region": "prefrontal_cortex"}
        return value(samples, "neurram_messages_handled_total", **labels) == 1

    await eventually(counted)


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


async def test_inspect_lists_the_engrams_of_a_brain(make_brain, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    brain = await make_brain()
    await brain.perceive("The office plant is green")
    await brain.perceive("Prefers tea", memory_type="habitual", reward=0.9)
    inspect = await neurram("inspect", "--redis-url", redis_url, "--brain", brain.settings.brain_id)
    stdout, stderr = await asyncio.wait_for(inspect.communicate(), START_TIMEOUT)
    assert inspect.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    plant = next(line for line in lines if line.endswith("The office plant is green"))
    assert " held " in plant and "100.0%" in plant
    tea = next(line for line in lines if line.endswith("Prefers tea"))
    assert " long_term " in tea and " basal_ganglia " in tea
    assert "2 engrams (1 long_term, 1 working); working memory 1 / 7" in lines[-1]


async def test_top_shows_every_region_alive(
    regions: asyncio.subprocess.Process, redis_url: str, brain_id: str
) -> None:
    async with await Brain.create(
        redis_url=redis_url, brain_id=brain_id, run_regions=False
    ) as brain:
        await brain.perceive("Something to count")

    async def view() -> tuple[str, dict[str, list[str]]]:
        top = await neurram("top", "--once", "--redis-url", redis_url, "--brain", brain_id)
        stdout, stderr = await asyncio.wait_for(top.communicate(), START_TIMEOUT)
        assert top.returncode == 0, stderr.decode()
        text = stdout.decode()
        return text, {line.split()[0]: line.split() for line in text.splitlines()[2:-1]}

    text, rows = await view()
    assert set(rows) == {
        "sensory_cortex",
        "thalamus",
        "amygdala",
        "prefrontal_cortex",
        "hippocampus",
        "neocortex",
        "cerebellum",
        "basal_ganglia",
        "sleep_cycle",
    }
    assert all(row[1] == "1" for row in rows.values())  # one live consumer each
    assert "working memory 1 / 7" in text
    regions.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(regions.wait(), 30) == 0
    _, rows = await view()
    assert all(row[1] == "0" for row in rows.values())  # each said goodbye


async def test_run_refuses_an_unknown_region_before_starting_anything(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run = await neurram("run", "--region", "nope", env={"NEURRAM_DATA_DIR": str(data)})
    _, stderr = await asyncio.wait_for(run.communicate(), START_TIMEOUT)
    assert run.returncode == 1
    assert "unknown region(s) ['nope']" in stderr.decode()
    assert not data.exists()  # no embedded server was started, so none is left behind
