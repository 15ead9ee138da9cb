"""Every script in examples/ runs, offline, and does what it says."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"

pytestmark = pytest.mark.e2e  # the real model


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Callable[..., Awaitable[None]]]:
    """The ``main`` of an example script, imported from examples/."""
    monkeypatch.syspath_prepend(str(EXAMPLES))

    def load(name: str) -> Callable[..., Awaitable[None]]:
        main: Callable[..., Awaitable[None]] = importlib.import_module(name).main
        return main

    return load


async def test_agent_loop_answers_from_memory(
    example: Callable[[str], Callable[..., Awaitable[None]]],
    redis_url: str,
    brain_id: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await example("agent_loop")(redis_url=redis_url, brain_id=brain_id)
    turns = capsys.readouterr().out.split("\n\n")
    assert turns[0] == (
        "user:  Hi! I'm Dana, I run a small bakery in Porto.\nagent: Got it, I'll remember that."
    )
    assert turns[4] == (
        "user:  When is the repair man coming?\n"
        "agent: You told me: My oven broke last week; the repair man is coming on Thursday morning."
    )


async def test_import_history_answers_with_dates(
    example: Callable[[str], Callable[..., Awaitable[None]]],
    redis_url: str,
    brain_id: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await example("import_history")(redis_url=redis_url, brain_id=brain_id)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "imported: {'held': 29, 'stored': 0, 'gated': 0, 'expired': 0}"
    answers = dict(zip(lines[1::2], (line.split("  ")[1:3] for line in lines[2::2]), strict=True))
    assert answers["What is the name of my dog?"][0] == "2025-01-12"
    assert "Priya" in answers["Who is my manager?"][1]
    assert "1:57:40" in answers["What was my half marathon time?"][1]
    assert answers["How was my running going?"][0] >= "2025-08-01"  # since
    assert "sock" in answers["What happened with the dog?"][1]  # since and until


async def test_custom_amygdala_asks_a_language_model_when_a_key_is_set(
    example: Callable[[str], Callable[..., Awaitable[None]]],
    redis_url: str,
    brain_id: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with fake_llm(answer="0.7") as (base_url, prompts):
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", base_url)
        await example("custom_amygdala")(redis_url=redis_url, brain_id=brain_id)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(prompts) == 4
    assert all(line.startswith("salience 0.70 by llm, 72 h: ") for line in lines)
    assert "We had pancakes for breakfast." in prompts[0]


async def test_custom_amygdala_runs_as_a_script_with_its_local_rule(redis_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    script = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "custom_amygdala.py"),
        env={**env, "NEURRAM_REDIS_URL": redis_url, "NEURRAM_MODEL": "hash"},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(script.communicate(), 120)
    assert script.returncode == 0
    assert out.decode().splitlines() == [
        "salience 0.20 by rule, 72 h: We had pancakes for breakfast.",
        "salience 0.90 by rule, 144 h: I'm allergic to penicillin: never prescribe it to me.",
        "salience 0.90 by rule, 144 h: The rent is due on the first, I must not miss the deadline.",
        "salience 0.20 by rule, 72 h: The weather was grey today.",
    ]


@contextlib.contextmanager
def fake_llm(answer: str) -> Iterator[tuple[str, list[str]]]:
    """A local OpenAI-style chat completions endpoint that always answers ``answer`` (and
    refuses a wrong key); yields its base URL and the prompts it was sent."""
    prompts: list[str] = []

    class Completions(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.headers["Authorization"] != "Bearer test-key":
                self.send_error(401)
                return
            prompts.append(body["messages"][0]["content"])
            reply = json.dumps({"choices": [{"message": {"content": answer}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test's output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Completions)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1", prompts
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
