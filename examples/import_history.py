"""Import a chat history (chat_history.txt) with its real dates, then ask about it.

Each line is perceived with `occurred_at`, so decay, episodes and since/until windows follow
when things were said, not when they were imported. Importing twice changes nothing: a
restated line rehearses the memory it already made.

    python examples/import_history.py
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from neurram import Brain

HISTORY = Path(__file__).with_name("chat_history.txt")  # when | who | what, a line each

AUTUMN = (datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 12, 31, tzinfo=UTC))
QUESTIONS = [  # a question, and the window of occurred_at it is about (None: open)
    ("What is the name of my dog?", None, None),
    ("Who is my manager?", None, None),
    ("What was my half marathon time?", None, None),
    ("How was my running going?", datetime(2025, 8, 1, tzinfo=UTC), None),
    ("What happened with the dog?", *AUTUMN),
]


async def main(brain_id: str = "example-history", **settings: Any) -> None:
    async with await Brain.create(brain_id=brain_id, **settings) as brain:
        for line in HISTORY.read_text().splitlines():
            when, speaker, text = (part.strip() for part in line.split("|", 2))
            await brain.perceive(
                f"{speaker}: {text}", occurred_at=datetime.fromisoformat(when), wait=False
            )
        print(f"imported: {await brain.flush()}")
        for question, since, until in QUESTIONS:
            [(engram, score)] = await brain.recall(question, top_k=1, since=since, until=until)
            day = datetime.fromtimestamp(engram.occurred_at, UTC).date()
            print(f"{question}\n  {day}  {engram.content}  ({score:.2f})")


if __name__ == "__main__":
    asyncio.run(main())
