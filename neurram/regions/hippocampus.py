"""Hippocampus: indexes every engram that reaches working memory, places it in its episode,
links it to related recent ones and to its neighbour in time (temporal contiguity), and
recalls by pattern completion: a cue matched by meaning and by words, then spreading
activation."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from msgspec import Raw
from redis.asyncio.client import Pipeline

from neurram import dynamics
from neurram.bus import Delivery
from neurram.bus.entries import text
from neurram.bus.messages import Change, Held, Message, Outcome, RecallReply, RecallRequest
from neurram.encoder import Encoder, encoder_for
from neurram.engram import (
    Engram,
    Explanation,
    Layer,
    MemoryType,
    Vector,
    dump_engram,
    load_engram,
)
from neurram.fragments import attach_embeddings, texts_to_embed
from neurram.index import EngramIndex, Ranking
from neurram.lexicon import terms
from neurram.runtime.actor import Actor
from neurram.runtime.store import ChangeQuery, MemoryStore
from neurram.settings import Settings
from neurram.supersession import held_by_any_superseded, supersedes

INLINE_SUPERSESSION = 4096  # rows compared with new engrams on the event loop, summed (measured
# with the hash encoder: 1 x 1,000 took 0.17 ms there, 0.9 ms through a worker thread; from
# 1 x 10,000 on, both about the same, 12 ms and more)


class Hippocampus:
    """Usable on its own, with no Redis: ``Hippocampus().pattern_complete("cue", top_k=10)``.

    Active engrams are in ``index``; silent ones (layer SILENT) apart in ``silent``, so they
    cost a recall nothing until it falls back to them. The indexes hold their own compact
    copies: an engram changed later (linked, superseded, recalled) is read back with
    ``index.get``.
    """

    def __init__(self, encoder: Encoder | None = None, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._encoder = encoder
        self.index = EngramIndex(self.settings)
        self.silent = EngramIndex(self.settings)
        self._recent: deque[str] = deque(maxlen=self.settings.association_window)

    @property
    def encoder(self) -> Encoder:
        """The encoder given, else the one the settings name (loaded on first use)."""
        if self._encoder is None:
            self._encoder = encoder_for(self.settings)
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

    def join_episode(self, engram: Engram, recent: Sequence[Engram]) -> list[Edge]:
        """Put ``engram`` in an episode, in place: the episode of the latest of ``recent`` that
        occurred before it, unless more than ``episode_gap_seconds`` lie between them (then it
        starts one). Returns the temporal links to that predecessor, both ways, weighed at
        least ``temporal_link_weight`` whatever their cosine."""
        before = [
            e
            for e in recent
            if e.episode and e.engram_id != engram.engram_id and e.occurred_at <= engram.occurred_at
        ]
        previous = max(before, key=lambda e: e.occurred_at, default=None)
        gap = self.settings.episode_gap_seconds
        if previous is None or engram.occurred_at - previous.occurred_at > gap:
            engram.episode = engram.engram_id
            return []
        engram.episode = previous.episode
        weight = self.settings.temporal_link_weight
        if previous.embedding.size == engram.embedding.size:
            weight = max(weight, float(np.dot(engram.embedding, previous.embedding)))
        forward = (engram.engram_id, previous.engram_id, weight)
        return [forward, (previous.engram_id, engram.engram_id, weight)]

    def link(self, engram: Engram, recent: Sequence[Engram]) -> list[Engram]:
        """Place ``engram`` in its episode and associate it with related ``recent`` engrams
        and its predecessor in time, in place.

        Returns every engram whose associations changed (``engram`` first when it did).
        """
        edges = self.links(engram, recent) + self.join_episode(engram, recent)
        changed = [e for e in (engram, *recent) if any(src == e.engram_id for src, _, _ in edges)]
        for e in changed:
            add_edges(e, edges)
        return changed

    def holding(self, engrams: Sequence[Engram]) -> list[list[str] | None]:
        """Per engram, index terms one of which every older engram it can supersede holds
        (None: any may; see :func:`~neurram.supersession.held_by_any_superseded`)."""
        return [held_by_any_superseded(e.content, self.index.frequency) for e in engrams]

    def superseded(
        self, engrams: Sequence[Engram], holding: Sequence[list[str] | None] | None = None
    ) -> dict[str, list[Engram]]:
        """For each of ``engrams``, the older indexed engram it supersedes, if any: the closest
        one about the same thing with another fact that nothing supersedes yet (so versions
        form a chain, each outranking the one before), sought among those :meth:`holding`
        (``holding``: as it gave, already). Marks both sides in place
        (``context["supersedes"]``/``["superseded_by"]``)."""
        if not engrams:
            return {}
        threshold = self.settings.supersede_similarity
        vectors = np.stack([e.embedding for e in engrams])
        holding = self.holding(engrams) if holding is None else holding
        close_to = self.index.similar(vectors, threshold, holding=holding)
        found: dict[str, list[Engram]] = {}
        for engram, close in zip(engrams, close_to, strict=True):
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
        since: float | None = None,
        until: float | None = None,
        include_silent: bool = False,
    ) -> list[tuple[Engram, float]]:
        """The ``top_k`` engrams most activated by ``cue`` (optionally of one type, occurred
        within ``since``..``until``); each recalled one is potentiated."""
        return self.retrieve(
            cue,
            top_k,
            memory_type,
            now,
            since=since,
            until=until,
            include_silent=include_silent,
            explain=False,
        ).results

    def complete(
        self,
        cue: str | Vector,
        top_k: int = 10,
        memory_type: MemoryType | None = None,
        now: float | None = None,
        **options: Any,
    ) -> list[tuple[Engram, float, Explanation]]:
        """:meth:`pattern_complete`, with why each engram scored (as it was before LTP);
        ``options`` are :meth:`retrieve`'s."""
        found = self.retrieve(cue, top_k, memory_type, now, explain=True, **options)
        return [(e, s, w) for (e, s), w in zip(found.results, found.explanations, strict=True)]

    def retrieve(
        self,
        cue: str | Vector,
        top_k: int = 10,
        memory_type: MemoryType | None = None,
        now: float | None = None,
        *,
        since: float | None = None,
        until: float | None = None,
        words: Sequence[str] | None = None,
        include_silent: bool = False,
        rested: dict[str, bytes] | None = None,
        explain: bool = True,
    ) -> Retrieved:
        """The ``top_k`` engrams most activated by ``cue``, potentiated, and with ``explain``
        why each scored (as it was before LTP; else no explanations, which cost a recall a
        pass over its results). A text cue is matched by its words too; a vector cue by the
        ``words`` given, if any.

        Silent engrams fill only the places that active ones above the activation floor leave
        empty, ranked after them; ``include_silent`` ranks them among the active ones.
        ``rested``: each engram recalled that is not in it yet is put in it as it was indexed
        before its LTP (:func:`dump_engram`).
        """
        if len(self.index) == 0 and len(self.silent) == 0:
            return Retrieved([], [])
        if isinstance(cue, str):
            query, words = self.encode([cue])[0], terms(cue) if words is None else words
        else:
            query = dynamics.normalize(cue)
        now = time.time() if now is None else now
        sought = Cue(query, tuple(words or ()), now, memory_type, since, until)
        results = self._activated(self.index, sought, top_k, explain)
        if include_silent or len(results) < top_k:
            silent = self._activated(self.silent, sought, top_k, explain)
            if include_silent:
                results = sorted(results + silent, key=lambda r: -r[1])[:top_k]
            else:
                results += silent[: top_k - len(results)]
        for engram, _, _ in results:
            if rested is not None and engram.engram_id not in rested:
                rested[engram.engram_id] = dump_engram(engram)
            was_silent = engram.layer is Layer.SILENT
            dynamics.potentiate(engram, now, unit=self.settings.stability_unit_hours)
            if was_silent:
                self.place(engram)  # used again: active again
            else:
                self.index.touch(engram)
        return Retrieved(
            [(e, score) for e, score, _ in results],
            [why for _, _, why in results if why is not None],
        )

    @staticmethod
    def _activated(
        index: EngramIndex, cue: Cue, top_k: int, explain: bool
    ) -> list[tuple[Engram, float, Explanation | None]]:
        """The ``top_k`` engrams of ``index`` that ``cue`` activates, with why if ``explain``."""
        if len(index) == 0:
            return []
        ranking = Ranking(top_k, cue.memory_type, cue.since, cue.until)
        scores = index.scores(cue.vector, cue.now, cue.words, ranking)
        results = index.top(scores, *ranking)
        if not explain:
            return [(e, score, None) for e, score in results]
        why = index.explain(scores, [e.engram_id for e, _ in results])
        return [(e, score, w) for (e, score), w in zip(results, why, strict=True)]


class Retrieved(NamedTuple):
    """What a recall found: engrams and their activations, best first, and why each scored
    (one explanation an engram, in the same order; none unless asked)."""

    results: list[tuple[Engram, float]]
    explanations: list[Explanation]


class Cue(NamedTuple):
    """What a recall looks for: the cue's embedding and terms, at ``now``, with its filters."""

    vector: Vector
    words: tuple[str, ...]
    now: float
    memory_type: MemoryType | None
    since: float | None
    until: float | None


Edge = tuple[str, str, float]  # (from engram id, to engram id, weight)


@dataclass
class ReadAhead:
    """The change-log reads of a catch-up (``query`` gives them), queued by the producer
    that hands the Hippocampus its next batch, after that producer's writes: the catch-up
    before that batch is then a round trip fewer (a :class:`~neurram.bus.consumer.Prefetch`)."""

    store: MemoryStore
    query: Callable[[], ChangeQuery]
    staged: ChangeQuery | None = None
    replies: tuple[ChangeQuery, list[Any]] | None = None

    def stage(self, pipe: Pipeline) -> int:
        self.staged = self.query()
        return self.store.stage_changes(pipe, self.staged)

    def take(self, replies: list[Any] | None) -> None:
        self.replies = None if replies is None or self.staged is None else (self.staged, replies)

    def taken(self, query: ChangeQuery) -> list[Any] | None:
        """The replies read ahead for ``query`` (None: none, or read for another position);
        each is used once."""
        ahead, self.replies = self.replies, None
        return ahead[1] if ahead is not None and ahead[0] == query else None


class CaughtUp(NamedTuple):
    """What :meth:`HippocampusActor.catch_up` read besides the changes it applied."""

    recent: list[str]  # ids of the engrams last linked, newest first
    read: dict[str, bytes | None]  # stored blobs by id (None: not stored)
    working: list[tuple[str, bytes]]  # held engrams by id, least recent first


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
    added: dict[str, float] = {}  # in the order of each target's last edge
    for source, target, weight in edges:
        if source == engram.engram_id:
            added.pop(target, None)
            added[target] = weight
    if added:
        kept = [(i, w) for i, w in engram.associations if i not in added]
        engram.associations = kept + list(added.items())


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
        self._ahead = ReadAhead(self.store, self._changes_query)
        self.logic = Hippocampus(self.encoder(), self.settings)
        await self.load_encoder()
        await self.rebuild()

    def footprint(self) -> int:
        return len(self.logic.index) + len(self.logic.silent)

    def prefetch(self) -> ReadAhead:
        return self._ahead

    def _changes_query(self) -> ChangeQuery:
        """What catching up reads: the changes after the index's position, and the recent
        engrams a link batch links with."""
        return ChangeQuery(self.position, self.settings.association_window)

    async def rebuild(self) -> None:
        """Index every stored engram; changes logged from here on are applied by catch_up."""
        self.logic.index = EngramIndex(self.settings)
        self.logic.silent = EngramIndex(self.settings)
        self.position, self.seen, _ = await self.store.change_log_head()
        self._own: set[str] = set()  # ids of the changes it logged, not read back yet
        self.logic.index.reserve(await self.store.count())  # most are active
        async for chunk in self.store.scan():
            for engram in chunk:
                self._index(engram)

    async def handle(self, batch: list[Delivery[Message]]) -> None:
        held = [d for d in batch if isinstance(d.message, Held)]
        recalls = [d for d in batch if isinstance(d.message, RecallRequest)]
        if held:
            await self._link(held)
        if recalls:
            await self._recall(recalls)

    async def _link(self, deliveries: list[Delivery[Message]]) -> None:
        """Link each held engram to the recent ones, then answer the perceiving client (and
        acknowledge ``deliveries`` in the same transaction)."""
        held = [d.message for d in deliveries if isinstance(d.message, Held)]
        window = self.settings.association_window
        # supersession looks for older engrams in the index; what catching up read (the
        # engrams just held, the recent ones) is what the links are written over
        awaited = any(self.awaits(m.reply_to) for m in held)  # then answered with its working
        # memory
        messages = {m.engram.engram_id: m.engram for m in held}  # the engrams as stored
        caught = await self.catch_up(window, messages)
        read = caught.read
        recent = [load_engram(blob) for i in caught.recent if (blob := read.get(i))]
        edges: list[Edge] = []
        supersede: dict[str, list[str]] = {}
        superseded_by: dict[str, str] = {}
        episodes: dict[str, str] = {}
        for message in held:
            engram = message.engram
            recent = [e for e in recent if e.engram_id != engram.engram_id]
            edges += self.logic.links(engram, recent)
            if not message.rehearsal:
                edges += self.logic.join_episode(engram, recent)
                episodes[engram.engram_id] = engram.episode
            recent = [engram, *recent][:window]
        fresh = [m.engram for m in held if not m.rehearsal]
        holding = self.logic.holding(fresh)
        found = (  # a search of the index: in a worker thread only when that pays
            self.logic.superseded(fresh, holding)
            if self.logic.index.compared(holding) <= INLINE_SUPERSESSION
            else await asyncio.to_thread(self.logic.superseded, fresh, holding)
        )
        for engram_id, older in found.items():
            supersede[engram_id] = [old.engram_id for old in older]
            superseded_by.update(dict.fromkeys(supersede[engram_id], engram_id))

        outgoing: dict[str, list[Edge]] = {}
        for edge in edges:
            outgoing.setdefault(edge[0], []).append(edge)

        def link(engram: Engram) -> None:
            add_edges(engram, outgoing.get(engram.engram_id, []))
            engram_id = engram.engram_id
            engram.episode = episodes.get(engram_id, engram.episode)
            mark_supersession(engram, supersede.get(engram_id), superseded_by.get(engram_id))

        changed = set(outgoing) | set(superseded_by) | set(episodes)
        changed |= {i for i, older in supersede.items() if older}
        linked = await self.store.update(  # on the stored versions: the held ones as decoded
            # from their messages (marked above as ``link`` marks them again: the same edges,
            # episode and supersession), not decoded again from the blobs they were read as
            sorted(changed),
            link,
            read=read,
            decoded=messages,
            logged=False,
        )
        working = (  # as this batch leaves them, to each waiting client with its last outcome
            [Raw(dump_engram(linked[i]) if i in linked else blob) for i, blob in caught.working]
            if awaited
            else None
        )
        last = {m.reply_to: m.request_id for m in held}
        pipe = self.store.pipeline()
        self.store.stage_change(pipe, linked)  # its entry id: the first reply, if any
        for message in held:
            engram = linked.get(message.engram.engram_id, message.engram)
            outcome = Outcome(
                request_id=message.request_id,
                status="held",
                engram=engram,
                detail="rehearsed" if message.rehearsal else "held",
                working_memory=working if last[message.reply_to] == message.request_id else None,
            )
            self.report(pipe, outcome, message.reply_to)
        self.store.stage_recent(pipe, [m.engram.engram_id for m in held], window)
        replies = await self.commit(pipe, deliveries)
        if linked and not isinstance(replies[0], Exception):  # indexed as written: catch_up
            self._own.add(text(replies[0]))  # need not read them back
            for engram in linked.values():
                self._index(engram)

    async def _recall(self, deliveries: list[Delivery[Message]]) -> None:
        """Answer each request with every write that preceded it, and with the working memory
        the recalls leave (so the client need not read it), then store the LTP of the engrams
        recalled, acknowledging ``deliveries`` with it."""
        requests = [d.message for d in deliveries if isinstance(d.message, RecallRequest)]
        cues = [terms(r.query) for r in requests]
        texts = [r.query for r in requests]
        caught_up = asyncio.ensure_future(self.catch_up())
        await asyncio.sleep(0)  # catch_up sends its reads (unless read ahead), answered while
        # the queries encode
        now = time.time()
        try:
            if self.ctx.encoding.inline(texts):  # the index holds still until they are encoded
                # the cues' words scored meanwhile (unless catch_up then changes it)
                with self.logic.index.preparing(cues, now):
                    queries = await self.embed(texts, beside=True)
            else:
                queries = await self.embed(texts)
        finally:
            caught = await caught_up
        rested: dict[str, bytes] = {}  # the engrams recalled as indexed before their LTP
        answers: dict[str, Retrieved | str] = {}
        for request, query, cue in zip(requests, queries, cues, strict=True):
            try:
                answers[request.request_id] = self.logic.retrieve(
                    query,
                    request.top_k,
                    request.memory_type,
                    now,
                    since=request.since,
                    until=request.until,
                    words=cue,
                    include_silent=request.include_silent,
                    rested=rested,
                    explain=request.explain,
                )
            except ValueError as exc:  # e.g. a query vector of another model's dimension
                answers[request.request_id] = str(exc)
        recalled = [e for a in answers.values() if not isinstance(a, str) for e, _ in a.results]
        latest = {e.engram_id: e for e in recalled}  # the last copy has every recall's LTP
        potentiated = {i: dump_engram(e) for i, e in latest.items()}  # as the LTP writes it
        working = [Raw(potentiated.get(i, blob)) for i, blob in caught.working]
        pipe = self.ctx.redis.pipeline(transaction=False)  # each command stands alone
        for request in requests:
            answer = answers[request.request_id]
            if isinstance(answer, str):
                reply = RecallReply(request_id=request.request_id, error=answer)
            else:
                reply = RecallReply(
                    request_id=request.request_id,
                    results=answer.results,  # potentiated in the index
                    explanations=answer.explanations,
                    working_memory=working,
                )
            self.reply(pipe, request.reply_to, reply)
        if not recalled:
            await self.commit(pipe, deliveries)
            return
        acknowledge = self._stage_ltp(pipe, deliveries, potentiated, rested)
        logged = (await self.commit(pipe))[-1]  # the caller need not wait for it: the ACK does
        if logged is not None:
            self._own.add(text(logged))
            self.acknowledged(acknowledge)
            return
        times = Counter(e.engram_id for e in recalled)
        unit = self.settings.stability_unit_hours

        def potentiate(engram: Engram) -> None:
            for _ in range(times[engram.engram_id]):
                dynamics.potentiate(engram, now, unit=unit)

        await self.store.update(list(times), potentiate)  # written meanwhile: on theirs

    def _stage_ltp(
        self,
        pipe: Pipeline,
        deliveries: list[Delivery[Message]],
        potentiated: dict[str, bytes],
        rested: dict[str, bytes],
    ) -> list[Delivery[Message]]:
        """Stage the LTP of the engrams recalled (``potentiated``: each as LTP left it, by
        id), logged and acknowledging ``deliveries`` (those of one stream, as recalls are:
        returned) with it, if the store still holds each as it was ``rested`` in the
        index."""
        streams = {d.stream for d in deliveries}
        acknowledged = deliveries if len(streams) == 1 else []
        self.store.stage_replace_all(
            pipe,
            [(i, rested[i], blob) for i, blob in potentiated.items()],
            (streams.pop(), self.ctx.name, [d.entry_id for d in acknowledged])
            if acknowledged
            else None,
        )
        return acknowledged

    async def catch_up(self, recent: int = 0, held: Mapping[str, Engram] | None = None) -> CaughtUp:
        """Apply every change logged since the index was last refreshed (rebuild when the log
        was trimmed past changes this instance had not read). Returns the ids of the
        ``recent`` engrams last linked, the blobs, by id, of them and of the changed ones
        (None: not stored), and the engrams held in working memory: read in the same two
        round trips (the first made by the producer that handed the batch over, if it did),
        but for what the caller holds already: ``held``, engrams as they were just stored
        (indexed as they are when these changes stored them; those an earlier catch-up
        indexed, stored as held since: read with the changes' ids), and recent engrams the
        index holds unchanged (as their blobs rest in the store unless a write is still on
        its way to the log: a compare-and-set on them finds out)."""
        query = self._changes_query()
        replies = self._ahead.taken(query)
        changes = await (
            self.store.read_changes(query, self._own)
            if replies is None
            else self.store.changes(query, replies, self._own)
        )
        self._own = set()  # every change this instance logged is read by now
        _, added, logged = changes.head
        change = Change()
        if self.seen < added - logged:
            self.log.warning("hippocampus.rebuild", reason="change log trimmed past position")
            await self.rebuild()
        else:
            self.position, change, read = changes.since
            self.seen += read
        touched = sorted(set(change.upserted) | set(change.deleted))
        kept = set(change.upserted) - set(change.deleted)
        held = {  # as stored, unless deleted: a batch read behind the writes of the next
            i: e for i, e in (held or {}).items() if i in kept or i not in touched
        }
        known = {i: dump_engram(e) for i, e in held.items()}
        recent_ids = changes.recent[:recent]
        for engram_id in set(recent_ids) - set(touched) - set(held):
            if (engram := self.logic.index.get(engram_id)) is not None:
                known[engram_id] = dump_engram(engram)
        ids = list(dict.fromkeys([*touched, *recent_ids, *held]))
        blobs = known | await self.store.get_blobs([i for i in ids if i not in known])
        for engram_id in touched:
            if engram_id in held:
                self._index(held[engram_id])
            elif engram_id in blobs:
                self._index(load_engram(blobs[engram_id]))
            else:
                self.logic.drop(engram_id)
        return CaughtUp(recent_ids, {i: blobs.get(i) for i in ids}, changes.working)

    def _index(self, engram: Engram) -> None:
        """Index a stored engram; one that cannot be indexed is logged, never fatal."""
        try:
            self.logic.place(engram)
        except ValueError as exc:
            self.log.error("hippocampus.unindexable", engram_id=engram.engram_id, error=str(exc))
