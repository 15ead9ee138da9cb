"""`neurram export` and `neurram import` as a user runs them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.conftest import BrainFactory

from .conftest import START_TIMEOUT, neurram

pytestmark = pytest.mark.e2e


async def run(*args: str) -> tuple[int, str, str]:
    process = await neurram(*args)
    stdout, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_export_to_stdout_and_a_file_then_import_into_another_brain(
    make_brain: BrainFactory, redis_url: str, brain_id: str, tmp_path: Path
) -> None:
    brain = await make_brain()
    kettle = await brain.perceive("The blue kettle is in the attic")
    await brain.perceive("The red ladder leans on the barn")
    where = ("--redis-url", redis_url, "--model", "hash")

    code, stdout, stderr = await run("export", "--brain", brain_id, *where)
    assert code == 0, stderr
    lines = stdout.splitlines(keepends=True)
    assert json.loads(lines[0])["format"] == "neurram-export"
    assert len(lines) == 3  # the header and two engrams, nothing else on stdout
    out = tmp_path / "brain.jsonl"
    code, _, stderr = await run("export", "--brain", brain_id, "--out", str(out), *where)
    assert code == 0, stderr
    assert out.read_text().splitlines(keepends=True)[1:] == lines[1:]
    assert not out.with_name("brain.jsonl.part").exists()

    copy = f"{brain_id}-copy"
    code, stdout, stderr = await run("import", str(out), "--brain", copy, *where)
    assert code == 0, stderr
    assert f"imported 2 engrams into brain {copy!r}" in stdout
    target = await make_brain(brain_id=copy, run_regions=False)
    assert kettle.engram_id in {e.engram_id for e in await target.engrams()}


async def test_import_refuses_a_bad_line_with_its_number(
    make_brain: BrainFactory, redis_url: str, brain_id: str, tmp_path: Path
) -> None:
    brain = await make_brain()
    await brain.perceive("The blue kettle is in the attic")
    lines = [line async for line in brain.export()]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(lines[0] + '{"content": "half an engram"}\n' + lines[1])
    target = f"{brain_id}-copy"
    code, _, stderr = await run(
        "import", str(bad), "--brain", target, "--redis-url", redis_url, "--model", "hash"
    )
    assert code == 1
    assert "neurram: line 2: not an engram: Object missing required field" in stderr
    assert "Traceback" not in stderr
    empty = await make_brain(brain_id=target, run_regions=False)
    assert await empty.engrams() == []
