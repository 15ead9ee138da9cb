"""The Quick start of the original project page, as ``neurram demo`` runs it."""

from __future__ import annotations

import argparse

from neurram.brain import Brain
from neurram.bus import Namespace
from neurram.cli.options import add_settings, settings_of
from neurram.engram import MemoryType
from neurram.runtime.connection import Connection
from neurram.runtime.store import MemoryStore
from neurram.settings import Settings


async def quick_start(settings: Settings) -> None:
    """Perceive four memories, recall "capital city Europe", sleep once; print each step."""
    connection = await Connection.open(settings)  # holds the embedded server for the demo
    try:
        await MemoryStore(
            connection.redis, Namespace(settings.brain_id)
        ).clear()  # same output each run
        await _quick_start(settings)
    finally:
        await connection.close()


async def _quick_start(settings: Settings) -> None:
    async with await Brain.from_settings(settings) as brain:
        # facts go to Neocortex after consolidation
        await brain.perceive("Paris is the capital of France", memory_type=MemoryType.SEMANTIC)
        # high salience -> Amygdala gives it a stability boost at encoding
        await brain.perceive(
            "I had a great meeting with Alice today", memory_type=MemoryType.EPISODIC, salience=0.8
        )
        # skills end up in Cerebellum - hard to forget once learned
        await brain.perceive(
            "To debug Python: add breakpoint(), run, inspect locals",
            memory_type=MemoryType.PROCEDURAL,
        )
        # reward signal goes to BasalGanglia (dopamine-style)
        await brain.perceive(
            "User always prefers concise answers", memory_type=MemoryType.HABITUAL, reward=0.9
        )

        # recall via hippocampal pattern completion + spreading activation
        results = await brain.recall("capital city Europe")
        for engram, score in results:
            print(f"{score:.3f}  [{engram.memory_type}]  {engram.content}")

        print(f"Working memory: {len(brain.working_memory)} / 7 slots")

        stats = await brain.sleep()
        print(stats)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser("demo", help="the Quick start, on the embedded server by default")
    add_settings(demo)
    demo.set_defaults(handler=_demo)


async def _demo(args: argparse.Namespace) -> None:
    await quick_start(settings_of(args, brain_id="demo"))
