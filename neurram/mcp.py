"""``neurram mcp``: one brain as a Model Context Protocol server (SPEC 11).

Built on the official ``mcp`` SDK's :class:`MCPServer`; the tools' names, parameters and
docstrings are the interface an agent sees. The brain opens before the transport starts (so
a brain that cannot open fails at once, with its message) and is closed when the client
disconnects (stdio: stdin closed) or on SIGINT/SIGTERM (both transports). A neurram error
becomes an MCP tool error whose text keeps its type and message; the server goes on.

On stdio, stdout is the protocol's alone: while serving, the SDK writes the protocol to a
private copy of stdout and points the process's stdout at stderr; while the brain opens,
Python's stdout is redirected to stderr; neurram's logs go to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Iterator
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Annotated, Any, Literal

import msgspec
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field
from typing_extensions import TypedDict  # pydantic needs it for TypedDicts before 3.12

from neurram.brain import Brain
from neurram.engram import Engram, MemoryType
from neurram.errors import InvalidInputError, NeurramError
from neurram.settings import Settings

Transport = Literal["stdio", "http"]
SIGNALS = (signal.SIGINT, signal.SIGTERM)
Ctx = Context[Brain, Any]
Moment = Annotated[
    str | float | None,
    Field(description="ISO 8601 text (UTC unless it has an offset) or unix seconds"),
]

INSTRUCTIONS = """\
A long-term memory that behaves like a brain's. Call `remember` for anything worth keeping
(what the user said, decided, prefers; facts; how-tos), `recall` before you answer anything
that may depend on earlier conversations, `reinforce` after a recalled memory helped (reward
> 0) or misled (reward < 0), `forget` when the user asks you to drop something, and `sleep`
at the end of a session to consolidate. `stats` shows what the brain holds."""


class Memory(TypedDict):
    """An engram as the tools show it."""

    id: str
    content: str
    memory_type: str
    layer: str  # sensory, working, long_term or silent
    salience: float
    occurred_at: str  # ISO 8601, UTC
    occurred_at_unix: float


class Remembered(Memory):
    outcome: str  # "kept", or "gated"/"expired" when the brain did not keep it


class Recalled(Memory):
    score: float
    why: dict[str, float | str | None]  # the fields of neurram.Explanation


class Reinforced(Memory):
    stability: float
    synaptic_strength: float


class Forgotten(TypedDict):
    id: str
    removed: bool  # False: there was no such engram


class Stats(TypedDict):
    brain: str
    engrams: int
    layers: dict[str, int]  # engrams by layer
    working_memory: list[Memory]  # least recent first
    working_memory_capacity: int
    outcomes: dict[str, int]  # stimuli held, stored, gated, expired since the brain began


async def remember(
    ctx: Ctx,
    content: Annotated[str, Field(description="what to remember, in plain words")],
    memory_type: Annotated[
        str,  # neurram checks it (UnknownMemoryTypeError); the schema lists the values
        Field(
            description="episodic: something that happened; semantic: a fact; procedural: "
            "how to do something; habitual: a preference or routine",
            json_schema_extra={"enum": [m.value for m in MemoryType]},
        ),
    ] = MemoryType.EPISODIC.value,
    salience: Annotated[
        float | None,
        Field(description="importance in [0, 1]; leave it out to let the brain judge"),
    ] = None,
    occurred_at: Moment = None,
) -> Remembered:
    """Store a memory. Call it when the user tells you something worth knowing later (a fact
    about them, a decision, a preference, an event, how to do a task), one memory a call.
    Give `occurred_at` when the event happened at another time than now (importing history)."""
    with _typed_errors():
        engram = await ctx.request_context.lifespan_context.perceive(
            content,
            memory_type=memory_type,
            salience=salience,
            occurred_at=_moment("occurred_at", occurred_at),
        )
    return {**_memory(engram), "outcome": str(engram.context.get("outcome", "kept"))}


async def recall(
    ctx: Ctx,
    query: Annotated[str, Field(description="a cue: a question or the words of the topic")],
    top_k: Annotated[int, Field(description="how many memories at most (>= 1)")] = 5,
    since: Moment = None,
    until: Moment = None,
) -> list[Recalled]:
    """Memories most activated by `query`, best first. Call it before answering anything
    that may depend on what the user said or did before. `since`/`until` keep only what
    occurred in that window. Each result's `why` gives the parts of its score: similarity
    (raw cosine), semantic, lexical, temporal and context (the parts of `match`), retention,
    retention_factor, salience_factor, direct, spread, activation, superseded_by (a later
    memory about the same thing, or null)."""
    with _typed_errors():
        results = await ctx.request_context.lifespan_context.recall(
            query,
            top_k=top_k,
            since=_moment("since", since),
            until=_moment("until", until),
            explain=True,
        )
    return [
        {**_memory(engram), "score": score, "why": msgspec.structs.asdict(why)}
        for engram, score, why in results
    ]


async def forget(
    ctx: Ctx, engram_id: Annotated[str, Field(description="the id remember or recall gave")]
) -> Forgotten:
    """Erase a memory from every store and index. Call it when the user asks you to forget
    something, or a memory is wrong and must not come back."""
    with _typed_errors():
        removed = await ctx.request_context.lifespan_context.forget(engram_id)
    return {"id": engram_id, "removed": removed}


async def reinforce(
    ctx: Ctx,
    engram_id: Annotated[str, Field(description="the id recall gave")],
    reward: Annotated[float, Field(description="in [-1, 1]: > 0 it helped, < 0 it misled you")],
) -> Reinforced:
    """Feedback on a recalled memory. Call it after you used one: a positive reward when it
    helped you answer (it will last longer and rank higher), a negative one when it was
    wrong or misleading (it fades sooner)."""
    with _typed_errors():
        engram = await ctx.request_context.lifespan_context.reinforce(engram_id, reward)
    return {
        **_memory(engram),
        "stability": engram.stability,
        "synaptic_strength": engram.synaptic_strength,
    }


async def sleep(ctx: Ctx) -> dict[str, int]:
    """Run one sleep cycle now: consolidate important memories into long-term stores, let
    unused ones fade. Call it at the end of a session or after a long import; returns its
    counts."""
    with _typed_errors():
        return await ctx.request_context.lifespan_context.sleep()


async def stats(ctx: Ctx) -> Stats:
    """What the brain holds: engrams by layer, the working memory's contents, and how many
    stimuli were kept, gated or expired. Call it to check the memory's state."""
    brain = ctx.request_context.lifespan_context
    with _typed_errors():
        engrams = await brain.engrams()
        outcomes = await brain.outcome_counts()
    return {
        "brain": brain.settings.brain_id,
        "engrams": len(engrams),
        "layers": dict(Counter(e.layer.value for e in engrams)),
        "working_memory": [_memory(e) for e in brain.working_memory],
        "working_memory_capacity": brain.settings.working_memory_capacity,
        "outcomes": outcomes,
    }


TOOLS = (remember, recall, forget, reinforce, sleep, stats)


def build_server(brain: Brain) -> MCPServer[Brain]:
    """An MCP server whose tools act on ``brain`` (opened and closed by the caller)."""

    @contextlib.asynccontextmanager
    async def lifespan(_: MCPServer[Brain]) -> AsyncIterator[Brain]:
        yield brain

    server = MCPServer(
        "neurram",
        version=version("neurram"),
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level="WARNING",
    )
    for tool in TOOLS:
        server.add_tool(tool, description=inspect.getdoc(tool))  # dedented for the agent
    return server


async def serve(
    settings: Settings,
    *,
    transport: Transport = "stdio",
    host: str = "127.0.0.1",
    port: int = 8000,
    run_regions: bool = True,
) -> None:
    """Serve the brain ``settings`` names until the client disconnects (stdio) or SIGINT or
    SIGTERM arrives, then close it. A brain that cannot open fails here, before serving."""
    with contextlib.redirect_stdout(sys.stderr):  # on stdio, stdout is the protocol's
        brain = await Brain.from_settings(settings, run_regions=run_regions)
    async with brain:
        server = build_server(brain)
        with _signals_caught() as signalled:
            if transport == "http":
                # uvicorn sees the signal too and stops gracefully; catching it here keeps
                # the signal uvicorn raises again on its way out from killing the process
                # before the brain is closed
                await server.run_streamable_http_async(host=host, port=port)
                interrupted = False
            else:
                interrupted = await _unless(signalled, server.run_stdio_async())
    if interrupted:
        # The SDK reads stdin in a worker thread that only a line or EOF wakes, and the
        # interpreter would wait for it at exit: the brain is closed, so leave now.
        sys.stderr.flush()
        os._exit(0)


@contextlib.contextmanager
def _signals_caught() -> Iterator[asyncio.Event]:
    """An event that SIGINT and SIGTERM set, in place of their usual effect."""
    signalled = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in SIGNALS:
        loop.add_signal_handler(sig, signalled.set)
    try:
        yield signalled
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)


async def _unless(stop: asyncio.Event, work: Awaitable[None]) -> bool:
    """Await ``work``, unless ``stop`` is set first: then cancel it (without waiting for
    it) and return True."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if task.done():
        task.result()
        return False
    task.cancel()
    return True


@contextlib.contextmanager
def _typed_errors() -> Iterator[None]:
    """A neurram error becomes a tool error that names its type and keeps its message."""
    try:
        yield
    except NeurramError as exc:
        raise ToolError(f"{type(exc).__name__}: {exc}") from exc


def _moment(name: str, value: str | float | None) -> float | None:
    """Unix seconds from ISO 8601 text (UTC without an offset) or a number; None passes."""
    if not isinstance(value, str):
        return value
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(
            f"{name} must be ISO 8601 text such as 2026-03-02T09:30:00Z, or unix seconds; "
            f"got {value!r}"
        ) from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def _memory(engram: Engram) -> Memory:
    return {
        "id": engram.engram_id,
        "content": engram.content,
        "memory_type": engram.memory_type.value,
        "layer": engram.layer.value,
        "salience": engram.salience,
        "occurred_at": datetime.fromtimestamp(engram.occurred_at, UTC).isoformat(),
        "occurred_at_unix": engram.occurred_at,
    }
