"""Each region's actor alone on a real server: one message in, the right message out."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis

from neurram.bus import FIELD, Delivery, Namespace, ReplyInbox
from neurram.bus.doorbell import deliver
from neurram.bus.entries import text
from neurram.bus.messages import (
    MESSAGES,
    REPLIES,
    Attended,
    Consolidate,
    Held,
    Message,
    Outcome,
    RecallReply,
    RecallRequest,
    Reply,
    SleepReply,
    SleepRequest,
    Stimulus,
    Tagged,
    request_id_of,
)
from neurram.encoder import HashEncoder, Matrix
from neurram.engram import Engram, Layer, MemoryType, enc_hook
from neurram.index import EngramIndex
from neurram.lexicon import terms
from neurram.regions.long_term import REGION_FOR_TYPE
from neurram.regions.prefrontal_cortex import PrefrontalCortexActor
from neurram.runtime.actor import ActorContext
from neurram.runtime.connection import Connection
from neurram.runtime.encoding import EncodingQueue
from neurram.runtime.host import RegionHost
from neurram.runtime.store import ChangeQuery, MemoryStore
from neurram.settings import Settings


class Region:
    """One region running in this process, with helpers to feed and read its streams."""

    def __init__(self, redis: aioredis.Redis, brain_id: str) -> None:
        self.redis = redis
        self.ns = Namespace(brain_id)
        self.settings = Settings.load(brain_id=brain_id, model="hash")
        self.store = MemoryStore(redis, self.ns)

    async def send(self, stream: str, message: Message) -> None:
        """As a client sends: the message, and a ring of the doorbell."""
        await deliver(self.redis, self.redis, self.ns, stream, MESSAGES.encode(message))

    async def receive(self, stream: str) -> Message:
        """The first message on ``stream`` (blocking read: no sleeping)."""
        reply = await self.redis.xread({self.ns.key(stream): "0"}, count=1, block=10_000)
        assert reply, f"nothing on {stream}"
        return MESSAGES.decode(reply[0][1][0][1][FIELD])


@pytest.fixture
async def region(redis: aioredis.Redis, brain_id: str) -> Region:
    return Region(redis, brain_id)


@pytest.fixture
async def running(
    region: Region, redis_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[Region]:
    connection = Connection(region.redis, redis_url)
    host = RegionHost(region.settings, connection, [request.param], brains=[region.ns.name])
    await host.start()
    yield region
    await host.stop()


@pytest.fixture
async def inbox(region: Region) -> AsyncIterator[ReplyInbox[Reply]]:
    """A client's reply stream, as a Brain has one."""
    replies: ReplyInbox[Reply] = ReplyInbox(
        region.redis, region.ns.key("reply", "t"), REPLIES, request_id_of
    )
    await replies.start()
    yield replies
    await replies.close()


def stimulus(content: str = "Remember the dentist at noon", **fields: object) -> Stimulus:
    return Stimulus(stimulus_id="s1", content=content, perceived_at=time.time(), **fields)


def encoded(engram_id: str = "e1", **fields: object) -> Engram:
    content = "a memory of the lake"
    vector = HashEncoder().encode([content])[0]
    return Engram(engram_id=engram_id, content=content, embedding=vector, **fields)


@pytest.mark.parametrize("running", ["sensory_cortex"], indirect=True)
async def test_sensory_cortex_passes_fresh_stimuli_on(running: Region) -> None:
    await running.send("sensory", stimulus())
    sensed = await running.receive("sensed")
    assert isinstance(sensed, Stimulus) and sensed.stimulus_id == "s1"


@pytest.mark.parametrize("running", ["thalamus"], indirect=True)
async def test_thalamus_gates(running: Region) -> None:
    await running.send("sensed", stimulus("fyi maybe the printer is slow"))
    outcome = await running.receive("outcome")
    assert isinstance(outcome, Outcome) and outcome.status == "gated"


@pytest.mark.parametrize("running", ["amygdala"], indirect=True)
async def test_amygdala_encodes_and_routes_rewards(running: Region) -> None:
    await running.send("attended", Attended(stimulus=stimulus(), relevance=0.5))
    tagged = await running.receive("tagged")
    assert isinstance(tagged, Tagged) and tagged.engram.embedding.shape == (384,)
    rewarded = stimulus("Prefers tea", memory_type=MemoryType.HABITUAL, reward=0.9)
    await running.send("attended", Attended(stimulus=rewarded, relevance=0.5))
    consolidate = await running.receive("consolidate")
    assert isinstance(consolidate, Consolidate) and consolidate.region == "basal_ganglia"


@pytest.mark.parametrize("running", ["amygdala"], indirect=True)
async def test_amygdala_tags_with_the_salience_the_thalamus_scored(running: Region) -> None:
    await running.send("attended", Attended(stimulus=stimulus(), relevance=0.9, salience=0.9))
    tagged = await running.receive("tagged")
    assert isinstance(tagged, Tagged) and tagged.engram.salience == 0.9


@pytest.mark.parametrize("running", ["prefrontal_cortex"], indirect=True)
async def test_prefrontal_cortex_holds_and_stores(running: Region) -> None:
    await running.send("tagged", Tagged(engram=encoded()))
    held = await running.receive("held")
    assert isinstance(held, Held) and held.engram.layer is Layer.WORKING
    assert await running.store.working_memory_ids() == ["e1"]
    assert await running.store.get("e1") is not None


@pytest.mark.parametrize("running", ["prefrontal_cortex"], indirect=True)
async def test_prefrontal_cortex_redelivered_after_its_write_commits_the_rest(
    running: Region,
) -> None:
    engram = encoded()
    await running.store.update([engram.engram_id], lambda e: None, {"e1": engram}, logged=False)
    # the crash came here, before the commit: the message is delivered again
    await running.send("tagged", Tagged(engram=engram))
    held = await running.receive("held")
    assert isinstance(held, Held) and held.engram.engram_id == "e1"
    assert (await running.store.read_holding([encoded("e2")])).restated == ["e1"]
    _, change, _ = (await running.store.read_changes(ChangeQuery("0-0"))).since
    assert change.upserted == ["e1"]


@pytest.mark.parametrize("running", ["hippocampus"], indirect=True)
async def test_hippocampus_answers_perceive_and_recall(
    running: Region, inbox: ReplyInbox[Reply]
) -> None:
    reply = await hold_and_recall(running, inbox)
    assert len(reply.explanations) == 1  # a request that does not say asks for them
    inbox.expect("r2")
    request = RecallRequest(request_id="r2", query="the lake", reply_to=inbox.stream, explain=False)
    await running.send("recall", request)
    reply = await inbox.wait("r2", 10)
    assert isinstance(reply, RecallReply)
    assert [e.engram_id for e, _ in reply.results] == ["e1"] and reply.explanations == []


@pytest.mark.parametrize("running", ["hippocampus"], indirect=True)
async def test_a_hippocampus_scores_a_recalls_words_while_its_query_encodes(
    running: Region, inbox: ReplyInbox[Reply], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Hippocampus scores a recall's words on another thread while its query encodes on
    the loop: what was held before is found all the same."""
    prepared: list[tuple[tuple[str, ...], bool]] = []
    prepare = EngramIndex.prepare
    loop_thread = threading.get_ident()

    def recorded(index: EngramIndex, cue: Sequence[str], now: float) -> None:
        prepared.append((tuple(cue), threading.get_ident() != loop_thread))
        prepare(index, cue, now)

    beside: list[bool] = []
    encode = EncodingQueue.encode

    async def encoding(queue: EncodingQueue, texts: Sequence[str], work: bool = False) -> Matrix:
        beside.append(work)
        return await encode(queue, texts, work)

    monkeypatch.setattr(EngramIndex, "prepare", recorded)
    monkeypatch.setattr(EncodingQueue, "encode", encoding)
    await hold_and_recall(running, inbox)
    assert prepared == [(tuple(terms("the lake")), True)]
    assert beside == [True]  # the query's encode leaves a core to that scoring


async def hold_and_recall(running: Region, inbox: ReplyInbox[Reply]) -> RecallReply:
    """Hold e1, then recall the lake (request r1): e1 is found."""
    engram = encoded(layer=Layer.WORKING)
    await running.store.put([engram])
    inbox.expect("s1")
    await running.send("held", Held(request_id="s1", engram=engram, reply_to=inbox.stream))
    outcome = await inbox.wait("s1", 10)
    assert isinstance(outcome, Outcome) and outcome.status == "held"
    inbox.expect("r1")
    await running.send(
        "recall", RecallRequest(request_id="r1", query="the lake", reply_to=inbox.stream)
    )
    reply = await inbox.wait("r1", 10)
    assert isinstance(reply, RecallReply)
    assert [e.engram_id for e, _ in reply.results] == ["e1"]
    return reply


async def hmget_calls(redis: aioredis.Redis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_hmget", {}).get("calls", 0))


@pytest.mark.parametrize("running", ["hippocampus"], indirect=True)
async def test_hippocampus_links_an_engram_indexed_before_its_held_without_reading_it(
    running: Region, inbox: ReplyInbox[Reply]
) -> None:
    """A held engram whose store a recall caught up with first (as a Hippocampus does that
    reads behind the PrefrontalCortex) is linked over its message, not read again."""
    engram = encoded(layer=Layer.WORKING)
    await running.store.put([engram])
    inbox.expect("r1")
    await running.send(
        "recall", RecallRequest(request_id="r1", query="the lake", reply_to=inbox.stream)
    )
    assert isinstance(await inbox.wait("r1", 10), RecallReply)  # caught up: e1 indexed
    engram = await running.store.get("e1")  # as the recall's LTP left it
    assert engram is not None
    before = await hmget_calls(running.redis)
    inbox.expect("s1")
    await running.send("held", Held(request_id="s1", engram=engram, reply_to=inbox.stream))
    outcome = await inbox.wait("s1", 10)
    assert isinstance(outcome, Outcome) and outcome.status == "held"
    assert await hmget_calls(running.redis) == before  # no engram read
    stored = await running.store.get("e1")
    assert stored is not None and stored.episode == "e1"  # linked: its own episode


async def recall_twice(running: Region, inbox: ReplyInbox[Reply]) -> str:
    """Recall the lake twice; the Hippocampus serves one batch after another, so once the
    second is answered, the first one's LTP is stored. Returns the first's entry id."""
    entry = ""
    for request_id in ("r1", "r2"):
        inbox.expect(request_id)
        request = RecallRequest(request_id=request_id, query="the lake", reply_to=inbox.stream)
        await running.send("recall", request)
        entry = entry or (await running.redis.xrange(running.ns.key("recall")))[0][0].decode()
        reply = await inbox.wait(request_id, 10)
        assert isinstance(reply, RecallReply) and reply.results
    return entry


@pytest.mark.parametrize("running", ["hippocampus"], indirect=True)
async def test_hippocampus_stores_ltp_and_acknowledges_the_recall_with_it(
    running: Region, inbox: ReplyInbox[Reply]
) -> None:
    await running.store.put([encoded(layer=Layer.WORKING)])
    position, _, _ = await running.store.change_log_head()
    entry = await recall_twice(running, inbox)
    stored = await running.store.get("e1")
    assert stored is not None and stored.access_count >= 1
    pending = await running.redis.xpending_range(
        running.ns.key("recall"), "hippocampus", min="-", max="+", count=10
    )
    assert entry not in [p["message_id"].decode() for p in pending]
    _, change, _ = (await running.store.read_changes(ChangeQuery(position))).since
    assert "e1" in change.upserted  # logged: other instances see it


@pytest.mark.parametrize("running", ["hippocampus"], indirect=True)
async def test_hippocampus_ltp_on_an_engram_not_stored_as_indexed_reads_it_again(
    running: Region, inbox: ReplyInbox[Reply]
) -> None:
    """An engram stored in another form (here the float32 one of old) than the index gives
    back fails the one-round-trip compare-and-set; its LTP is then applied to it as read."""
    old = encoded(layer=Layer.WORKING, salience=0.9)
    blob = msgspec.msgpack.encode(old, enc_hook=enc_hook)
    pipe = running.store.pipeline()
    pipe.hset(running.store.engrams_key, "e1", blob)
    running.store.stage_change(pipe, ["e1"])
    await pipe.execute()
    await recall_twice(running, inbox)
    stored = await running.store.get("e1")
    assert stored is not None and stored.access_count >= 1 and stored.salience == 0.9


@pytest.mark.parametrize(
    ("running", "memory_type", "stability"),
    [("neocortex", MemoryType.SEMANTIC, 1.0), ("cerebellum", MemoryType.PROCEDURAL, 5 * 72.0)],
    indirect=["running"],
)
async def test_long_term_regions_store(
    running: Region, memory_type: MemoryType, stability: float
) -> None:
    engram = encoded(memory_type=memory_type, layer=Layer.WORKING)
    region = REGION_FOR_TYPE[memory_type]
    await running.send("consolidate", Consolidate(request_id="c1", region=region, engram=engram))
    outcome = await running.receive("outcome")
    assert isinstance(outcome, Outcome) and outcome.status == "stored"
    stored = await running.store.get("e1")
    assert stored is not None and stored.layer is Layer.LONG_TERM
    assert stored.stability == stability


@pytest.mark.parametrize("running", ["sleep_cycle"], indirect=True)
async def test_sleep_judges_again_what_changed_after_its_scan(
    running: Region, inbox: ReplyInbox[Reply], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its vitals said silence, but a recall landed before it was read whole: it is kept."""
    await running.store.put([encoded(layer=Layer.WORKING, last_accessed=time.time() - 8.64e6)])
    scan = MemoryStore.scan_vitals

    async def recalled_meanwhile(store: MemoryStore, count: int = 500) -> AsyncIterator[list]:
        async for chunk in scan(store, count):
            await running.store.put([encoded(layer=Layer.WORKING, access_count=1)])
            yield chunk

    monkeypatch.setattr(MemoryStore, "scan_vitals", recalled_meanwhile)
    inbox.expect("z1")
    await running.send("sleep", SleepRequest(request_id="z1", reply_to=inbox.stream))
    reply = await inbox.wait("z1", 10)
    assert isinstance(reply, SleepReply) and not any(reply.stats.values())
    kept = await running.store.get("e1")
    assert kept is not None and (kept.layer, kept.access_count) == (Layer.WORKING, 1)


@pytest.mark.parametrize("running", ["sleep_cycle"], indirect=True)
async def test_sleep_cycle_answers_with_its_counts(
    running: Region, inbox: ReplyInbox[Reply]
) -> None:
    old = encoded(layer=Layer.WORKING, last_accessed=time.time() - 100 * 24 * 3600)  # S = 1 h
    await running.store.put([old])
    inbox.expect("z1")
    await running.send("sleep", SleepRequest(request_id="z1", reply_to=inbox.stream))
    reply = await inbox.wait("z1", 10)
    assert isinstance(reply, SleepReply)
    assert reply.stats == {
        "consolidated": 0,
        "pruned_wm": 0,
        "pruned_ltm": 1,
        "decayed": 0,
        "deleted": 0,
    }
    silenced = await running.store.get("e1")
    assert silenced is not None and silenced.layer is Layer.SILENT  # stored, never deleted


async def test_prefrontal_cortex_redoes_its_slots_when_another_changes_them(
    region: Region,
) -> None:
    """The slots are watched from before they are read: another PrefrontalCortex writing
    them meanwhile makes this one read them again and hold on top of that write."""
    settings = region.settings
    context = ActorContext(
        settings, region.redis, "prefrontal_cortex", "test-host", EncodingQueue(HashEncoder())
    )
    actor = PrefrontalCortexActor(context)
    await actor.consumer().ensure_groups()
    await region.store.put([Engram(engram_id="other", content="the harbour at dusk")])
    update = actor.store.update

    async def update_then_another_writes(*args: Any, **kwargs: Any) -> dict[str, Engram]:
        written = await update(*args, **kwargs)
        pipe = region.store.pipeline()
        region.store.stage_working_memory(pipe, ["other"], time.time())
        await pipe.execute()
        return written

    actor.store.update = update_then_another_writes  # type: ignore[method-assign]
    entry_id = await region.redis.xadd(region.ns.key("tagged"), {FIELD: b""})
    delivery = Delivery(region.ns.key("tagged"), text(entry_id), Tagged(engram=encoded()), False)
    await actor.handle([delivery])
    assert await region.store.working_memory_ids() == ["other", "e1"]
    held = await region.redis.xrange(region.ns.key("held"))
    assert [MESSAGES.decode(fields[FIELD]).engram.engram_id for _, fields in held] == ["e1"]
