"""A custom region: an Amygdala that asks a language model how much a memory matters.

With OPENAI_API_KEY set it asks an OpenAI-compatible chat completions API (OPENAI_BASE_URL
and SALIENCE_MODEL choose where and which model); without a key, or when the call fails, it
uses a local rule. It replaces the built-in Amygdala through the `regions` setting and keeps
the rest of its work (embedding, the stability boost of salient memories).

    python examples/custom_amygdala.py
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import urllib.request
from typing import Any

from neurram import Brain
from neurram.bus import Delivery
from neurram.bus.messages import Attended, Message
from neurram.regions.amygdala import AmygdalaActor

PROMPT = (
    "How much will an assistant need to remember this later? Answer with one number "
    "from 0 (trivia) to 1 (vital: health, safety, money, commitments).\n\n{text}"
)
CONSEQUENCES = re.compile(
    r"\b(allerg\w*|emergency|password|deadline|never|must|owe|doctor|insulin)\b", re.IGNORECASE
)


def local_rule(text: str) -> float:
    """Words with consequences make a memory matter: 0.2, plus 0.35 for each."""
    return min(1.0, 0.2 + 0.35 * len(CONSEQUENCES.findall(text)))


def ask_llm(text: str, api_key: str) -> float:
    """One chat completion whose answer is a number in [0, 1]."""
    body = {
        "model": os.environ.get("SALIENCE_MODEL", "gpt-4o-mini"),
        "messages": [{"role": "user", "content": PROMPT.format(text=text)}],
        "temperature": 0,
    }
    request = urllib.request.Request(
        os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1") + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)["choices"][0]["message"]["content"]
    return min(1.0, max(0.0, float(answer.strip())))


class LLMAmygdalaActor(AmygdalaActor):
    """The built-in Amygdala, with salience from a language model (or the local rule) for
    each stimulus whose caller gave none."""

    async def handle(self, batch: list[Delivery[Message]]) -> None:
        api_key = os.environ.get("OPENAI_API_KEY")
        for delivery in batch:
            if not isinstance(delivery.message, Attended):
                continue
            stimulus = delivery.message.stimulus
            if stimulus.salience is not None:
                continue
            judge = "rule"
            stimulus.salience = local_rule(stimulus.content)
            if api_key:
                try:
                    stimulus.salience = await asyncio.to_thread(ask_llm, stimulus.content, api_key)
                    judge = "llm"
                except (OSError, ValueError, KeyError, IndexError) as exc:
                    self.log.warning("salience.llm_failed", error=str(exc))
            stimulus.context["salience_by"] = judge
        await super().handle(batch)


MESSAGES = [
    "We had pancakes for breakfast.",
    "I'm allergic to penicillin: never prescribe it to me.",
    "The rent is due on the first, I must not miss the deadline.",
    "The weather was grey today.",
]


async def main(brain_id: str = "example-custom-amygdala", **settings: Any) -> None:
    regions = {"amygdala": f"{__name__}:LLMAmygdalaActor"}  # replaces the built-in region
    async with await Brain.create(brain_id=brain_id, regions=regions, **settings) as brain:
        for text in MESSAGES:
            engram = await brain.perceive(text)
            judge = engram.context.get("salience_by")
            print(f"salience {engram.salience:.2f} by {judge}, {engram.stability:g} h: {text}")


if __name__ == "__main__":
    asyncio.run(main())
