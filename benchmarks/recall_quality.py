"""Recall quality on LoCoMo's dev split (SPEC 9): evidence recall@5 and @10.

    .venv/bin/python benchmarks/recall_quality.py [--variant undated|dated|both]

Each dialogue turn of a conversation becomes one EPISODIC memory "<speaker>: <text>" (with
``context={"dia_id": ...}``) in a brain of its own, through the public ``Brain`` API with the
real MiniLM model and default settings (``NEURRAM_MODEL=torch`` or ``onnx`` picks its
backend). Each question of categories 1-4 that has evidence is recalled with top_k=10; its
score is the share of its evidence turns among the first K.
Plain cosine top-K over the same embeddings and BM25 alone are measured in the same run.

- undated: every turn is perceived now, in order.
- dated: each turn occurred at its session's date plus its index in seconds; the clock is
  set to one day after the last session (``time.time`` patched, as the SPEC allows), one
  sleep cycle runs, then the questions are asked.

The data (CC BY-NC 4.0) is read from ``../shared/data/locomo-dev/`` beside the repository
(or ``--data``) and never copied into it; without it the benchmark says so and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from unittest import mock

import numpy as np

from neurram import Brain, Engram, MemoryType, Settings
from neurram.lexicon import BM25, Vocabulary, term_counts, terms
from neurram.runtime.embedded import EmbeddedServer

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "locomo-dev"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
TOP_K = 10
DAY = 86_400.0


@dataclass(frozen=True)
class Turn:
    dia_id: str
    content: str
    occurred_at: float


@dataclass(frozen=True)
class Question:
    text: str
    category: int
    evidence: frozenset[str]


@dataclass(frozen=True)
class Conversation:
    name: str
    turns: list[Turn]
    questions: list[Question]


def load(path: Path) -> Conversation:
    """A conversation's turns in session order, and its questions of categories 1-4 with
    evidence (an evidence entry may list several ids separated by ';')."""
    raw = json.loads(path.read_text())
    sessions = sorted(
        (int(key.split("_")[1]), turns)
        for key, turns in raw.items()
        if key.startswith("session_") and isinstance(turns, list)
    )
    turns = []
    for number, session in sessions:
        start = datetime.strptime(raw[f"session_{number}_date_time"], "%I:%M %p on %d %B, %Y")
        turns += [
            Turn(t["dia_id"], f"{t['speaker']}: {t['text']}", start.timestamp() + i)
            for i, t in enumerate(session)
        ]
    questions = [
        Question(
            q["question"],
            q["category"],
            frozenset(e.strip() for entry in q["evidence"] for e in entry.split(";")),
        )
        for q in raw["qa"]
        if q.get("category") in CATEGORIES and q.get("evidence")
    ]
    return Conversation(path.stem, turns, questions)


def evidence_recall(found: list[str], evidence: frozenset[str], k: int) -> float:
    """Share of the evidence turns among the first ``k`` found."""
    return len(evidence & set(found[:k])) / len(evidence)


Ranker = Callable[[Question], list[str]]


@contextmanager
def clock(at: float | None) -> Iterator[None]:
    """``time.time`` fixed at ``at`` (unchanged when None)."""
    if at is None:
        yield
        return
    with mock.patch("time.time", return_value=at):
        yield


async def neurram_ranker(
    conversation: Conversation, redis_url: str, dated: bool
) -> tuple[Ranker, list[Engram]]:
    """Perceive the conversation into a fresh brain; a ranker that recalls through it."""
    now = max(t.occurred_at for t in conversation.turns) + DAY if dated else None
    brain_id = f"locomo-{conversation.name}-{'dated' if dated else 'undated'}-{time.time_ns()}"
    with clock(now):
        brain = await Brain.create(redis_url=redis_url, brain_id=brain_id)
        for turn in conversation.turns:
            await brain.perceive(
                turn.content,
                memory_type=MemoryType.EPISODIC,
                context={"dia_id": turn.dia_id},
                occurred_at=turn.occurred_at if dated else None,
            )
        engrams = await brain.engrams()  # as perceived: what the baselines search
        if dated:
            await brain.sleep()
        answers = {}
        for question in conversation.questions:
            results = await brain.recall(question.text, top_k=TOP_K)
            answers[question] = [e.context["dia_id"] for e, _ in results]
        await brain.close()
    return answers.__getitem__, engrams


def cosine_ranker(engrams: list[Engram]) -> Callable[[np.ndarray], list[str]]:
    """Plain cosine top-K over the engrams' own embeddings (a vector database)."""
    ids = [e.context["dia_id"] for e in engrams]
    matrix = np.stack([e.embedding for e in engrams])

    def rank(query: np.ndarray) -> list[str]:
        order = np.argsort(-(matrix @ query), kind="stable")[:TOP_K]
        return [ids[i] for i in order]

    return rank


def bm25_ranker(engrams: list[Engram]) -> Ranker:
    """BM25 alone over the engrams' stemmed, stop-word-free terms."""
    ids = [e.context["dia_id"] for e in engrams]
    documents, vocabulary = BM25(), Vocabulary()
    for row, engram in enumerate(engrams):
        counts = term_counts(engram.content)
        documents.add(row, counts)
        vocabulary.count(counts, +1)

    def rank(question: Question) -> list[str]:
        scores = documents.scores(terms(question.text), vocabulary, len(engrams))
        return [ids[i] for i in np.argsort(-scores, kind="stable")[:TOP_K]]

    return rank


async def measure(conversations: list[Conversation], redis_url: str, dated: bool) -> None:
    """Print evidence recall@5/@10 per category and overall for each retriever."""
    scores: dict[str, dict[int, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    encoder = None
    for conversation in conversations:
        started = time.monotonic()
        neurram, engrams = await neurram_ranker(conversation, redis_url, dated)
        if encoder is None:
            from neurram.encoder import encoder_for

            encoder = encoder_for(Settings.load())  # the brains' (NEURRAM_MODEL)
        queries = encoder.encode([q.text for q in conversation.questions])
        cosine = cosine_ranker(engrams)
        bm25 = bm25_ranker(engrams)
        for question, query in zip(conversation.questions, queries, strict=True):
            for name, found in (
                ("neurram", neurram(question)),
                ("cosine", cosine(query)),
                ("bm25", bm25(question)),
            ):
                scores[name][question.category].append(
                    (
                        evidence_recall(found, question.evidence, 5),
                        evidence_recall(found, question.evidence, 10),
                    )
                )
        print(
            f"  conversation {conversation.name}: {len(conversation.turns)} turns, "
            f"{len(conversation.questions)} questions, {time.monotonic() - started:.0f} s",
            file=sys.stderr,
        )
    report("dated" if dated else "undated", scores)


def report(variant: str, scores: dict[str, dict[int, list[tuple[float, float]]]]) -> None:
    columns = [*CATEGORIES.values(), "overall"]
    print(
        f"\n{variant}: evidence recall@5 / @10 (questions: "
        + ", ".join(f"{CATEGORIES[c]} {len(scores['neurram'][c])}" for c in CATEGORIES)
        + ")"
    )
    print(f"| retriever | {' | '.join(columns)} |")
    print("|---" * (len(columns) + 1) + "|")
    for name, by_category in scores.items():
        cells = []
        for category in [*CATEGORIES, None]:
            pairs = (
                by_category[category]
                if category is not None
                else [p for c in CATEGORIES for p in by_category[c]]
            )
            at5, at10 = np.mean(pairs, axis=0)
            cells.append(f"{at5:.3f} / {at10:.3f}")
        print(f"| {name} | {' | '.join(cells)} |")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of LoCoMo JSON files")
    parser.add_argument("--variant", choices=("undated", "dated", "both"), default="both")
    args = parser.parse_args()
    files = sorted(args.data.glob("*.json")) if args.data.is_dir() else []
    if not files:
        print(f"LoCoMo dev split not found at {args.data}: nothing to measure.")
        return
    print(f"LoCoMo dev split from {args.data}: {', '.join(f.stem for f in files)}")
    conversations = [load(f) for f in files]
    with tempfile.TemporaryDirectory(prefix="nr-quality-") as data_dir:
        server = EmbeddedServer(Path(data_dir))
        redis_url = server.start()
        try:
            for variant in ("undated", "dated"):
                if args.variant in (variant, "both"):
                    await measure(conversations, redis_url, dated=variant == "dated")
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
