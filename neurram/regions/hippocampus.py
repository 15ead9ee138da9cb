"""Hippocampus: indexes every engram that reaches working memory, links it to related recent
ones (temporal association), and recalls by pattern completion with spreading activation."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Sequence

import numpy as np

from neurram import dynamics
from neurram.bus import Delivery
from neurram.bus.messages import Held, Message, Outcome, RecallReply, RecallRequest
from neurram.encoder import Encoder, resolve_encoder
from neurram.engram import Engram, Explanation, Layer, MemoryType, Vector
from neurram.fragments import attach_embeddings, texts_to_embed
from neurram.index import EngramIndex
from neurram.runtime.actor import Actor
from neurram.settings import Settings
from neurram.supersession import supersedes


class Hippocampus:
    """Usable on its own, with no Redis: ``Hippocampus().pattern_complete("cue", top_k=10)``.

    Active engrams are in ``index``; silent ones (layer SILENT) apart in ``silent``, so they
    cost a recall nothing until it falls back to them.
    """

    def __init__(self, encoder: Encoder | None = None, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._encoder = encoder
        self.index = EngramIndex(self.settings.forgetting_law)
        self.silent = EngramIndex(self.settings.forgetting_law)
        self._recent: deque[str] = deque(maxlen=self.settings.association_window)

    @property
    def encoder(self) -> Encoder:
        """The encoder given, else the one the settings name (loaded on first use)."""
        if self._encoder is None:
            self._encoder = resolve_encoder(self.settings.model)
        return self._encoder

    def __len__(self) -> int:
        return len(self.index)

    def encode(self, texts: Sequence[str]) -> list[Vector]:
        return list(self.encoder.encode(texts))

    def place(self, engram: Engram) -> None:
        """Index ``engram`` where its layer puts it (silent or active), out of the other."""
        home, other = (
            (self.silent, self.index) if engram.layer is Layer.SILENT else (self.index, self.silent)
        )
        other.remove(engram.engram_id)
        home.upsert(engram)

    def drop(self, engram_id: str) -> None:
        """Take a deleted engram out of both indexes."""
        self.index.remove(engram_id)
        self.silent.remove(engram_id)

    def links(self, engram: Engram, recent: Sequence[Engram]) -> list[Edge]:
        """Association edges between ``engram`` and related ``recent`` engrams, both ways,
        weight = cosine (at least ``association_threshold``)."""
        edges: list[Edge] = []
        for other in recent:
            if other.engram_id == engram.engram_id or other.embedding.size != engram.embedding.size:
                continue
            weight = float(np.dot(engram.embedding, other.embedding))
            if weight >= self.settings.association_threshold:
                edges += [(engram.engram_id, other.engram_id, weight)]
                edges += [(other.engram_id, engram.engram_id, weight)]
        return edges

    def link(self, engram: Engram, recent: Sequence[Engram]) -> list[Engram]:
        """Associate ``engram`` with related ``recent`` engrams in place.

        Returns every engram whose associations changed (``engram`` first when it did).
        """
        edges = self.links(engram, recent)
        changed = [e for e in (engram, *recent) if any(src == e.engram_id for src, _, _ in edges)]
        for e in changed:
            add_edges(e, edges)
        return changed

    def superseded(self, engrams: Sequence[Engram]) -> dict[str, list[Engram]]:
        """For each of ``engrams``, the older indexed engram it supersedes, if any: the closest
        one about the same thing with another fact that nothing supersedes yet (so versions
        form a chain, each outranking the one before). Marks both sides in place
        (``context["supersedes"]``/``["superseded_by"]``)."""
        if not engrams:
            return {}
        threshold = self.settings.supersede_similarity
        vectors = np.stack([e.embedding for e in engrams])
        found: dict[str, list[Engram]] = {}
        for engram, close in zip(engrams, self.index.similar(vectors, threshold), strict=True):
            candidates = [
                (similarity, old)
                for old, similarity in close
                if supersedes(engram, old, similarity, threshold)
                and self.index.superseder(old.engram_id) is None
            ]
            older = [max(candidates, key=lambda c: c[0])[1]] if candidates else []
            mark_supersession(engram, [old.engram_id for old in older])
            for old in older:
                mark_supersession(old, superseded_by=engram.engram_id)
                self.index.upsert(old)  # later engrams of this batch see it superseded
            found[engram.engram_id] = older
        return found

    def remember(self, engram: Engram) -> Engram:
        """Encode (if needed, with its fragments), link to the recent engrams and index
        ``engram``: direct use."""
        if engram.embedding.size == 0:
            texts = texts_to_embed(engram.content, self.settings.fragment_above_words)
            attach_embeddings(engram, self.encoder.encode(texts))
        if engram.layer is Layer.SENSORY:
            engram.layer = Layer.WORKING
        recent = [e for i in self._recent if (e := self.index.get(i)) is not None]
        for changed in [*self.link(engram, recent), *self.superseded([engram])[engram.engram_id]]:
            self.index.upsert(changed)
        self.index.upsert(engram)
        if engram.engram_id in self._recent:
            self._recent.remove(engram.engram_id)
        self._recent.appendleft(engram.engram_id)
        return engram

    def pattern_complete(
        self,
        cue: str | Vector,
        top_k: int = 10,
        memory_type: MemoryType | None = None,
        now: float | None = None,
        include_silent: bool = False,
    ) -> list[tuple[Engram, float]]:
        """The ``top_k`` engrams most activated by ``cue``; each recalled one is potentiated."""
        found = self.complete(cue, top_k, memory_type, now, include_silent)
        return [(e, score) for e, score, _ in found]

    def complete(
        self,
        cue: str | Vector,
        top_k: int = 10,
        memory_type: MemoryType | None = None,
        now: float | None = None,
        include_silent: bool = False,
    ) -> list[tuple[Engram, float, Explanation]]:
        """:meth:`pattern_complete`, with why each engram scored (as it was before LTP).

        Active engrams rank by activation (retention counted). Places they leave empty, none
        being above the activation floor, go to engrams the cue activates by itself
        (retention set aside, explained as 1), faded or silent, ranked after them: age ranks
        a memory without burying the only good match. ``include_silent`` also ranks silent
        engrams, by the cue alone, among the active ones.
        """
        if len(self.index) == 0 and len(self.silent) == 0:
            return []
        query = self.encode([cue])[0] if isinstance(cue, str) else dynamics.normalize(cue)
        now = time.time() if now is None else now
        results = self._activated(self.index, query, top_k, memory_type, now)
        if include_silent:
            results += self._activated(self.silent, query, top_k, memory_type, None)
            results = sorted(results, key=lambda r: -r[1])[:top_k]
        if len(results) < top_k:
            taken = {e.engram_id for e, _, _ in results}
            fallback = [
                r
                for index in (self.index, self.silent)
                for r in self._activated(index, query, top_k, memory_type, None)
                if r[0].engram_id not in taken
            ]
            results += sorted(fallback, key=lambda r: -r[1])[: top_k - len(results)]
        for engram, _, _ in results:
            silent = engram.layer is Layer.SILENT
            dynamics.potentiate(engram, now, unit=self.settings.stability_unit_hours)
            if silent:
                self.place(engram)  # used again: active again
            else:
                self.index.touch(engram)
        return results

    def _activated(
        self,
        index: EngramIndex,
        query: Vector,
        top_k: int,
        memory_type: MemoryType | None,
        now: float | None,
    ) -> list[tuple[Engram, float, Explanation]]:
        """The ``top_k`` engrams of ``index`` that ``query`` activates, with why; retention
        is set aside when ``now`` is None."""
        if len(index) == 0:
            return []
        s = self.settings
        scores = index.scores(
            query,
            now,
            floor=s.activation_floor,
            hops=s.spread_hops,
            decay=s.spread_decay,
            superseded_weight=s.superseded_weight,
        )
        results = index.top(scores, top_k, memory_type)
        why = index.explain(scores, [e.engram_id for e, _ in results])
        return [(e, score, w) for (e, score), w in zip(results, why, strict=True)]


Edge = tuple[str, str, float]  # (from engram id, to engram id, weight)


def mark_supersession(
    engram: Engram, supersedes: list[str] | None = None, superseded_by: str | None = None
) -> None:
    """Record in ``engram.context`` which engrams it supersedes, or which one supersedes it."""
    if supersedes:
        known = engram.context.get("supersedes", [])
        engram.context["supersedes"] = sorted({*known, *supersedes})
    if superseded_by:
        engram.context["superseded_by"] = superseded_by


def add_edges(engram: Engram, edges: Sequence[Edge]) -> None:
    """Give ``engram`` the edges that start at it (replacing older ones to the same target)."""
    for source, target, weight in edges:
        if source == engram.engram_id:
            engram.associations = [(i, w) for i, w in engram.associations if i != target]
            engram.associations.append((target, weight))


class HippocampusActor(Actor):
    """Consumes ``held`` (link, then answer the perceiving client) and ``recall``.

    Its index is a cache of the store, refreshed from the ``changes`` log before each batch
    (recalls and supersession both read it), so any number of instances each answer with
    every write that preceded the request.
    """

    region = "hippocampus"
    consumes = ("held", "recall")
    emits = ("outcome",)

    async def setup(self) -> None:
        self.logic = Hippocampus(self.encoder(), self.settings)
        await self.load_encoder()
        await self.rebuild()

    async def rebuild(self) -> None:
        """Index every stored engram; changes logged from here on are applied by catch_up."""
        self.logic.index = EngramIndex(self.settings.forgetting_law)
        self.logic.silent = EngramIndex(self.settings.forgetting_law)
        self.position, self.seen, _ = await self.store.change_log_head()
        async for chunk in self.store.scan():
            for engram in chunk:
                self._index(engram)

    async def handle(self, batch: list[Delivery[Message]]) -> None:
        held = [d.message for d in batch if isinstance(d.message, Held)]
        recalls = [d.message for d in batch if isinstance(d.message, RecallRequest)]
        if held:
            await self._link(held)
        if recalls:
            await self._recall(recalls)

    async def _link(self, held: list[Held]) -> None:
        """Link each held engram to the recent ones, then answer the perceiving client."""
        await self.catch_up()  # supersession looks for older engrams in the index
        window = self.settings.association_window
        recent = await self.store.get_many(await self.store.recent_ids(window))
        edges: list[Edge] = []
        supersede: dict[str, list[str]] = {}
        superseded_by: dict[str, str] = {}
        for message in held:
            engram = message.engram
            recent = [e for e in recent if e.engram_id != engram.engram_id]
            edges += self.logic.links(engram, recent)
            recent = [engram, *recent][:window]
        fresh = [m.engram for m in held if not m.rehearsal]
        found = await asyncio.to_thread(self.logic.superseded, fresh)  # a product over the index
        for engram_id, older in found.items():
            supersede[engram_id] = [old.engram_id for old in older]
            superseded_by.update(dict.fromkeys(supersede[engram_id], engram_id))

        def link(engram: Engram) -> None:
            add_edges(engram, edges)
            engram_id = engram.engram_id
            mark_supersession(engram, supersede.get(engram_id), superseded_by.get(engram_id))

        changed = {source for source, _, _ in edges} | set(superseded_by)
        changed |= {i for i, older in supersede.items() if older}
        linked = await self.store.update(sorted(changed), link)  # on the stored versions
        pipe = self.store.pipeline()
        for message in held:
            engram = linked.get(message.engram.engram_id, message.engram)
            self.store.stage_recent(pipe, engram.engram_id, window)
            outcome = Outcome(
                request_id=message.request_id,
                status="held",
                engram=engram,
                detail="rehearsed" if message.rehearsal else "held",
            )
            self.report(pipe, outcome, message.reply_to)
        await pipe.execute()

    async def _recall(self, requests: list[RecallRequest]) -> None:
        await self.catch_up()
        queries = await self.embed([r.query for r in requests])
        now = time.time()
        answers: dict[str, list[tuple[Engram, float, Explanation]] | str] = {}
        for request, query in zip(requests, queries, strict=True):
            try:
                answers[request.request_id] = self.logic.complete(
                    query, request.top_k, request.memory_type, now, request.include_silent
                )
            except ValueError as exc:  # e.g. a query vector of another model's dimension
                answers[request.request_id] = str(exc)
        recalled = Counter(
            e.engram_id for a in answers.values() if isinstance(a, list) for e, _, _ in a
        )

        unit = self.settings.stability_unit_hours

        def potentiate(engram: Engram) -> None:
            for _ in range(recalled[engram.engram_id]):
                dynamics.potentiate(engram, now, unit=unit)

        potentiated = await self.store.update(list(recalled), potentiate)  # on stored versions
        pipe = self.store.pipeline()
        for request in requests:
            answer = answers[request.request_id]
            if isinstance(answer, str):
                reply = RecallReply(request_id=request.request_id, error=answer)
            else:
                reply = RecallReply(
                    request_id=request.request_id,
                    results=[(potentiated.get(e.engram_id, e), score) for e, score, _ in answer],
                    explanations=[why for _, _, why in answer],
                )
            self.reply(pipe, request.reply_to, reply)
        await pipe.execute()

    async def catch_up(self) -> None:
        """Apply every change logged since the index was last refreshed (rebuild when the log
        was trimmed past changes this instance had not read)."""
        _, added, held = await self.store.change_log_head()
        if self.seen < added - held:
            self.log.warning("hippocampus.rebuild", reason="change log trimmed past position")
            await self.rebuild()
            return
        self.position, change, read = await self.store.changes_since(self.position)
        self.seen += read
        touched = sorted(set(change.upserted) | set(change.deleted))
        present = {e.engram_id: e for e in await self.store.get_many(touched)}
        for engram_id in touched:
            if engram_id in present:
                self._index(present[engram_id])
            else:
                self.logic.drop(engram_id)

    def _index(self, engram: Engram) -> None:
        """Index a stored engram; one that cannot be indexed is logged, never fatal."""
        try:
            self.logic.place(engram)
        except ValueError as exc:
            self.log.error("hippocampus.unindexable", engram_id=engram.engram_id, error=str(exc))
