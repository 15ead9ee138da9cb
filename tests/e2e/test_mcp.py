"""`neurram mcp` as an agent reaches it: the SDK's own client, over stdio and streamable HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import mcp_types
import pytest
import redis.asyncio as aioredis
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types.version import LATEST_HANDSHAKE_VERSION

from neurram.bus import Namespace
from neurram.runtime.embedded import EmbeddedServer

from .conftest import START_TIMEOUT, RegionsFactory, neurram

pytestmark = pytest.mark.e2e

TOOLS = {"remember", "recall", "forget", "reinforce", "sleep", "stats"}
WHY = {"similarity", "semantic", "lexical", "temporal", "context", "match", "retention"}


@asynccontextmanager
async def stdio_session(*args: str, errlog: Path) -> AsyncIterator[ClientSession]:
    """A client session with `neurram mcp ARGS` started over stdio by the SDK's client."""
    command = StdioServerParameters(
        command=sys.executable, args=["-m", "neurram", "mcp", *args], env=dict(os.environ)
    )
    with errlog.open("w") as err:
        async with (
            stdio_client(command, errlog=err) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


async def call(session: ClientSession, tool: str, **arguments: Any) -> Any:
    """The structured result of a tool call that must succeed."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


def error_text(result: mcp_types.CallToolResult) -> str:
    assert result.is_error
    return " ".join(c.text for c in result.content if isinstance(c, mcp_types.TextContent))


async def exercise(session: ClientSession) -> None:
    """Every tool, as an agent would use them, with the checks that they did their work."""
    listed = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(listed) == TOOLS
    assert "habitual" in listed["remember"].input_schema["properties"]["memory_type"]["enum"]
    assert {"query", "top_k", "since", "until"} <= set(listed["recall"].input_schema["properties"])
    assert (listed["recall"].description or "").startswith("Memories most activated by")
    assert all("Call it" in (tool.description or "") for tool in listed.values())

    trip = await call(
        session,
        "remember",
        content="We booked the train to Lisbon for the conference in May",
        occurred_at="2025-03-04T10:00:00Z",
    )
    fact = await call(
        session, "remember", content="Maria's cat is called Pixel", memory_type="semantic"
    )
    assert trip["outcome"] == fact["outcome"] == "kept"
    assert trip["occurred_at"] == "2025-03-04T10:00:00+00:00"
    assert fact["memory_type"] == "semantic"

    found = (await call(session, "recall", query="how do we travel to Portugal?"))["result"]
    assert found[0]["id"] == trip["id"]
    assert found[0]["occurred_at_unix"] == trip["occurred_at_unix"]
    assert set(found[0]["why"]) >= WHY and found[0]["why"]["activation"] == found[0]["score"]
    before = await call(session, "recall", query="train to Lisbon", until="2025-03-01", since=1.0e9)
    assert before["result"] == []

    helped = await call(session, "reinforce", engram_id=trip["id"], reward=0.8)
    misled = await call(session, "reinforce", engram_id=trip["id"], reward=-1.0)
    assert misled["stability"] < helped["stability"]

    assert await call(session, "forget", engram_id=fact["id"]) == {
        "id": fact["id"],
        "removed": True,
    }
    found = (await call(session, "recall", query="what is the cat's name?"))["result"]
    assert fact["id"] not in [r["id"] for r in found]
    assert (await call(session, "forget", engram_id=fact["id"]))["removed"] is False

    stats = await call(session, "stats")
    assert stats["engrams"] == 1 and [m["id"] for m in stats["working_memory"]] == [trip["id"]]
    assert stats["layers"] == {"working": 1} and stats["outcomes"]["held"] == 2
    slept = await call(session, "sleep")
    assert {"consolidated", "pruned_wm", "pruned_ltm"} <= set(slept)


async def test_stdio_with_the_real_model(redis_url: str, brain_id: str, tmp_path: Path) -> None:
    errlog = tmp_path / "stderr.log"
    async with stdio_session("--redis-url", redis_url, "--brain", brain_id, errlog=errlog) as s:
        await exercise(s)
    assert "Traceback" not in errlog.read_text()


async def test_streamable_http_with_the_real_model(redis_url: str, brain_id: str) -> None:
    port = free_port()
    server = await neurram(
        "mcp", "--transport", "http", "--port", str(port), "--redis-url", redis_url,
        "--brain", brain_id,
    )  # fmt: skip
    try:
        await until_listening(server, port)
        url = f"http://127.0.0.1:{port}/mcp"
        async with (
            streamable_http_client(url) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            await exercise(session)
        server.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.wait(), 30) == 0  # the brain closed, then exit
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
    _, stderr = await server.communicate()
    assert b"Traceback" not in stderr


async def test_bad_arguments_are_tool_errors_and_the_server_goes_on(
    redis_url: str, brain_id: str, tmp_path: Path
) -> None:
    args = ("--redis-url", redis_url, "--brain", brain_id, "--model", "hash")
    async with stdio_session(*args, errlog=tmp_path / "stderr.log") as session:
        refused = {
            "InvalidInputError: salience must be in [0, 1], got 3": await session.call_tool(
                "remember", {"content": "too loud", "salience": 3}
            ),
            "InvalidInputError: content must not be empty": await session.call_tool(
                "remember", {"content": "  "}
            ),
            "UnknownMemoryTypeError": await session.call_tool(
                "remember", {"content": "a dream", "memory_type": "dreamy"}
            ),
            "InvalidInputError: occurred_at": await session.call_tool(
                "remember", {"content": "later", "occurred_at": "2999-01-01"}
            ),
            "InvalidInputError: since must be ISO 8601": await session.call_tool(
                "recall", {"query": "x", "since": "last Tuesday"}
            ),
            "InvalidInputError: top_k must be an integer >= 1": await session.call_tool(
                "recall", {"query": "x", "top_k": 0}
            ),
            "UnknownEngramError": await session.call_tool(
                "reinforce", {"engram_id": "nope", "reward": 0.5}
            ),
            "top_k": await session.call_tool("recall", {"query": "x", "top_k": "many"}),  # schema
        }
        for message, result in refused.items():
            assert message in error_text(result)
        kept = await call(session, "remember", content="The server is still up")
        assert (await call(session, "recall", query="still up"))["result"][0]["id"] == kept["id"]
        assert (await call(session, "stats"))["engrams"] == 1  # nothing refused was stored


async def test_beside_neurram_run_without_regions_of_its_own(
    regions: asyncio.subprocess.Process,
    redis_url: str,
    brain_id: str,
    redis: aioredis.Redis,
    tmp_path: Path,
) -> None:
    args = ("--no-regions", "--redis-url", redis_url, "--brain", brain_id, "--model", "hash")
    async with stdio_session(*args, errlog=tmp_path / "stderr.log") as session:
        kept = await call(session, "remember", content="Served by the regions next door")
        found = (await call(session, "recall", query="regions next door"))["result"]
        assert [r["id"] for r in found] == [kept["id"]]
        groups = await redis.xinfo_groups(Namespace(brain_id).key("held"))
        assert [(g["name"], g["consumers"]) for g in groups] == [(b"hippocampus", 1)]


async def test_agents_of_two_brains_share_one_runner_serving_every_brain(
    serve_every_brain: RegionsFactory, own_redis_url: str, brain_id: str, tmp_path: Path
) -> None:
    await serve_every_brain()
    facts = {f"{brain_id}-ada": "Ada parks the van", f"{brain_id}-bo": "Bo parks the bike"}
    async with AsyncExitStack() as stack:
        sessions = {
            brain: await stack.enter_async_context(
                stdio_session(
                    *("--no-regions", "--redis-url", own_redis_url, "--brain", brain),
                    *("--model", "hash"),
                    errlog=tmp_path / f"{brain}.log",
                )
            )
            for brain in facts
        }
        kept = {
            brain: (await call(sessions[brain], "remember", content=fact))["id"]
            for brain, fact in facts.items()
        }
        for brain, session in sessions.items():
            found = (await call(session, "recall", query="who parks what"))["result"]
            assert [r["id"] for r in found] == [kept[brain]]  # its own memory, only


@pytest.mark.parametrize("stop", ["close stdin", "SIGTERM", "SIGINT"])
async def test_stdio_writes_only_the_protocol_and_closes_the_brain(
    stop: str, tmp_path: Path
) -> None:
    """Raw pipes, so every byte on stdout is seen; the embedded server removes its socket
    only when the brain that started it closes."""
    data_dir = tmp_path / "data"
    server = await neurram("mcp", "--model", "hash", "--data-dir", str(data_dir), stdin=True)
    assert server.stdin is not None and server.stdout is not None
    try:
        for message in handshake_and_a_call():
            server.stdin.write(json.dumps(message).encode() + b"\n")
        await server.stdin.drain()
        first = await asyncio.wait_for(server.stdout.readline(), START_TIMEOUT)
        assert json.loads(first)["id"] == 1
        assert EmbeddedServer(data_dir).socket_path.exists()
        if stop == "close stdin":
            server.stdin.close()
        else:  # stdin stays open: only the signal can stop it
            await asyncio.wait_for(server.stdout.readline(), START_TIMEOUT)  # the call's answer
            server.send_signal(getattr(signal, stop))
        stdout, stderr = await asyncio.wait_for(read_to_end(server), 30)
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
    assert server.returncode == 0, stderr.decode()
    lines = [first, *stdout.splitlines()]
    assert all(json.loads(line)["jsonrpc"] == "2.0" for line in lines)
    assert not EmbeddedServer(data_dir).socket_path.exists()
    assert b"Traceback" not in stderr


async def read_to_end(process: asyncio.subprocess.Process) -> tuple[bytes, bytes]:
    """Its stdout and stderr, once it has exited."""
    assert process.stdout is not None and process.stderr is not None
    out, err = await asyncio.gather(process.stdout.read(), process.stderr.read())
    await process.wait()
    return out, err


def handshake_and_a_call() -> list[dict[str, Any]]:
    return [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": LATEST_HANDSHAKE_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "remember", "arguments": {"content": "piped in"}},
        },
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def until_listening(server: asyncio.subprocess.Process, port: int) -> None:
    """Poll the port (the server binds it once its brain is open) until a deadline."""
    deadline = time.monotonic() + START_TIMEOUT
    while server.returncode is None and time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return
    pytest.fail(f"neurram mcp did not listen on port {port} (exit code {server.returncode})")
