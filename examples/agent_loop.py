"""An agent's turn loop with neurram as its memory, offline.

Each turn the agent perceives the user's message, recalls what may bear on it, answers (a
stub stands in for the language model) and reinforces the memory that helped.

    python examples/agent_loop.py
"""

from __future__ import annotations

import asyncio
from typing import Any

from neurram import Brain, Engram

CONVERSATION = [
    "Hi! I'm Dana, I run a small bakery in Porto.",
    "My oven broke last week; the repair man is coming on Thursday morning.",
    "I'm allergic to hazelnuts, so no nutty recipes please.",
    "My daughter Inês turns seven in March and loves strawberries.",
    "When is the repair man coming?",
    "What cake could I bake for my daughter's birthday?",
]


def llm(message: str, memories: list[Engram]) -> tuple[str, Engram | None]:
    """Stand-in for a language model: it answers a question from the best memory it is
    given (and says which it used), and acknowledges anything else."""
    if message.endswith("?") and memories:
        return f"You told me: {memories[0].content}", memories[0]
    return "Got it, I'll remember that.", None


async def main(brain_id: str = "example-agent-loop", **settings: Any) -> None:
    async with await Brain.create(brain_id=brain_id, **settings) as brain:
        for message in CONVERSATION:
            heard = await brain.perceive(message)
            recalled = await brain.recall(message, top_k=3)
            memories = [engram for engram, _ in recalled if engram.engram_id != heard.engram_id]
            answer, used = llm(message, memories)
            if used is not None:
                await brain.reinforce(used.engram_id, 0.5)  # it helped: it lasts longer
            print(f"user:  {message}\nagent: {answer}\n")


if __name__ == "__main__":
    asyncio.run(main())
