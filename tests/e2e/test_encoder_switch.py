"""A brain's engrams encoded by one backend of MiniLM are recalled by meaning with the other."""

from __future__ import annotations

import pytest

from neurram import Brain

pytestmark = pytest.mark.e2e

FACTS = [
    "The cat sat on the warm windowsill all afternoon",
    "Quarterly revenue grew by twelve percent",
    "The ferry to the island leaves at dawn",
    "My sister is learning to play the cello",
    "The printer on floor 3 is out of toner",
    "We planted tomatoes and basil in the garden",
]
# no query shares a word with its answer: only the embeddings can find it
QUESTIONS = {
    "company earnings": FACTS[1],
    "boat schedule": FACTS[2],
    "musical instrument lessons": FACTS[3],
    "growing vegetables": FACTS[5],
}


@pytest.mark.parametrize(("writer", "reader"), [("torch", "onnx"), ("onnx", "torch")])
async def test_switching_backends_keeps_recall_by_meaning(
    redis_url: str, brain_id: str, writer: str, reader: str
) -> None:
    async with await Brain.create(redis_url=redis_url, brain_id=brain_id, encoder=writer) as brain:
        for fact in FACTS:
            await brain.perceive(fact)
    async with await Brain.create(redis_url=redis_url, brain_id=brain_id, encoder=reader) as brain:
        for question, answer in QUESTIONS.items():
            results = await brain.recall(question, top_k=1)
            assert results[0][0].content == answer, question
