"""The Brain facade with every region in process, on a real server, with the hash encoder."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from neurram import (
    BrainClosedError,
    ContentTooLargeError,
    InvalidInputError,
    Layer,
    MemoryType,
    UnknownMemoryTypeError,
)
from neurram.bus import Delivery, Namespace, StreamConsumer
from neurram.bus.doorbell import DOORBELL
from neurram.bus.entries import read_entries
from neurram.bus.messages import MESSAGES, Message, Outcome
from neurram.encoder import HashEncoder
from neurram.engram import dump_engram
from neurram.regions import hippocampus
from neurram.runtime.store import MemoryStore

from .conftest import BrainFactory, eventually


async def test_perceive_holds_and_recall_reads_its_write(make_brain: BrainFactory) -> None:
    brain = await make_brain()
    engram = await brain.perceive("Paris is the capital of France", memory_type=MemoryType.SEMANTIC)
    assert engram.layer is Layer.WORKING
    assert engram.embedding.shape == (384,)
    assert [e.engram_id for e in brain.working_memory] == [engram.engram_id]
    results = await brain.recall("capital of France")
    assert results[0][0].engram_id == engram.engram_id
    assert results[0][0].access_count == 1  # recall potentiates
    assert 0 < results[0][1] <= 1


async def test_working_memory_keeps_seven_and_displaced_stay_recallable(
    make_brain: BrainFactory,
) -> None:
    brain = await make_brain()
    engrams = [await brain.perceive(f"note number {i} about topic {i}") for i in range(9)]
    held = [e.engram_id for e in brain.working_memory]
    assert held == [e.engram_id for e in engrams[2:]]  # LRU: the two oldest were displaced
    results = await brain.recall("note number 0 about topic 0", top_k=1)
    assert results[0][0].engram_id == engrams[0].engram_id
    assert results[0][0].layer is Layer.WORKING  # left to the hippocampal index


async def test_thalamus_gates_and_nothing_is_stored(make_brain: BrainFactory) -> None:
    brain = await make_brain()
    engram = await brain.perceive("fyi maybe the printer is slow")
    assert engram.context["outcome"] == "gated"
    assert await brain.engrams() == []


async def test_context_hint_lifts_attention(make_brain: BrainFactory) -> None:
    brain = await make_brain()
    engram = await brain.perceive("fyi maybe the printer is slow", context_hint="printer slow")
    assert engram.layer is Layer.WORKING


async def test_stale_stimulus_expires_visibly(make_brain: BrainFactory, redis) -> None:
    brain = await make_brain(sensory_ttl_seconds=0.0)
    engram = await brain.perceive("Remember the meeting at noon")
    assert engram.context["outcome"] == "expired"
    assert await brain.engrams() == []
    entries = await redis.xrange(Namespace(brain.settings.brain_id).key("outcome"))
    outcomes = [MESSAGES.decode(fields[b"m"]) for _, fields in entries]
    assert [(o.request_id, o.status) for o in outcomes if isinstance(o, Outcome)] == [
        (engram.engram_id, "expired")
    ]
    counts = await MemoryStore(redis, Namespace(brain.settings.brain_id)).outcome_counts()
    assert counts == {"expired": 1}


async def test_a_displaced_engram_that_qualifies_is_consolidated_at_once(
    make_brain: BrainFactory,
) -> None:
    brain = await make_brain()
    urgent = await brain.perceive("The server room door must stay locked", salience=0.9)
    for i in range(7):
        await brain.perceive(f"routine note {i} about the day")
    assert urgent.engram_id not in [e.engram_id for e in brain.working_memory]

    async def consolidated() -> bool:
        stored = {e.engram_id: e for e in await brain.engrams()}
        return stored[urgent.engram_id].layer is Layer.LONG_TERM

    await eventually(consolidated)
    stored = {e.engram_id: e for e in await brain.engrams()}
    assert stored[urgent.engram_id].context["region"] == "neocortex"


async def test_reward_takes_the_dopamine_shortcut(make_brain: BrainFactory) -> None:
    brain = await make_brain()
    engram = await brain.perceive(
        "User always prefers concise answers",
        memory_type=MemoryType.HABITUAL,
        reward=0.9,
        salience=0.5,
    )
    assert engram.layer is Layer.LONG_TERM
    assert engram.context["region"] == "basal_ganglia"
    assert engram.stability == pytest.approx((1 + 4 * 0.9) * 72)  # in units of 72 hours
    assert engram.salience == pytest.approx(0.5 + 0.2 * 0.9)
    assert brain.working_memory == []
    assert (await brain.recall("concise answers"))[0][0].engram_id == engram.engram_id


async def test_sleep_consolidates_into_each_long_term_region(make_brain: BrainFactory) -> None:
    brain = await make_brain()
    episode = await brain.perceive("I had a great meeting with Alice today", salience=0.8)
    skill = await brain.perceive(
        "To debug Python add breakpoint", memory_type=MemoryType.PROCEDURAL
    )
    plain = await brain.perceive("The office plant is green", salience=0.5)
    for _ in range(3):
        await brain.recall("debug Python breakpoint", top_k=1)
    stats = await brain.sleep()
    assert stats["consolidated"] == 2
    assert stats["pruned_wm"] == 0 and stats["pruned_ltm"] == 0
    stored = {e.engram_id: e for e in await brain.engrams()}
    assert stored[episode.engram_id].context["region"] == "neocortex"
    assert stored[skill.engram_id].context["region"] == "cerebellum"
    assert stored[skill.engram_id].stability >= 5 * 72
    assert stored[plain.engram_id].layer is Layer.WORKING
    assert [e.engram_id for e in brain.working_memory] == [plain.engram_id]


async def test_sleep_silences_what_decayed(make_brain: BrainFactory, redis) -> None:
    brain = await make_brain(forgetting_law="exponential", stability_unit_hours=1.0)
    kept = await brain.perceive("The office plant is green")
    faded = await brain.perceive("The parking lot was full on Monday")
    store = MemoryStore(redis, Namespace(brain.settings.brain_id))
    old = await store.get(faded.engram_id)
    assert old is not None
    old.last_accessed = time.time() - 10 * 3600  # R = e^-10 < 5 %
    await store.put([old])
    stats = await brain.sleep()
    assert stats["pruned_wm"] == 1
    layers = {e.engram_id: e.layer for e in await brain.engrams()}
    assert layers == {kept.engram_id: Layer.WORKING, faded.engram_id: Layer.SILENT}
    assert [e.engram_id for e in brain.working_memory] == [kept.engram_id]


async def test_forget_removes_from_every_store_and_index(make_brain: BrainFactory) -> None:
    brain = await make_brain()
    first = await brain.perceive("Alpha project kickoff with Bob")
    second = await brain.perceive("Alpha project review with Bob")
    assert first.engram_id in dict(second.associations)
    assert await brain.forget(first.engram_id) is True
    assert await brain.forget(first.engram_id) is False
    assert [e.engram_id for e in await brain.engrams()] == [second.engram_id]
    assert [e.engram_id for e in brain.working_memory] == [second.engram_id]
    results = await brain.recall("Alpha project kickoff with Bob")
    assert [e.engram_id for e, _ in results] == [second.engram_id]
    assert results[0][0].associations == []


async def test_a_recall_brings_back_working_memory_as_its_ltp_left_it(
    make_brain: BrainFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    brain = await make_brain()
    fact = await brain.perceive("Paris is the capital of France", memory_type=MemoryType.SEMANTIC)
    other = await brain.perceive("The boiler was serviced in May")
    stored = brain._store

    async def unread() -> None:
        raise AssertionError("the reply carries working memory: no read of it")

    monkeypatch.setattr(stored, "working_memory", unread)
    results = await brain.recall("capital of France", top_k=1)
    assert [e.engram_id for e, _ in results] == [fact.engram_id]
    held = brain.working_memory
    assert [e.engram_id for e in held] == [fact.engram_id, other.engram_id]
    assert [e.access_count for e in held] == [1, 0]  # the recall's LTP, as stored
    assert await brain.recall("capital of France", memory_type=MemoryType.PROCEDURAL) == []
    assert [e.access_count for e in brain.working_memory] == [1, 0]  # none recalled: as read
    monkeypatch.undo()
    assert list(map(dump_engram, held)) == list(map(dump_engram, await stored.working_memory()))


async def test_an_awaited_perceive_brings_back_working_memory_as_its_links_left_it(
    make_brain: BrainFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    brain = await make_brain()
    first = await brain.perceive("the heron nests by the weir")
    stored = brain._store

    async def unread() -> None:
        raise AssertionError("the outcome carries working memory: no read of it")

    monkeypatch.setattr(stored, "working_memory", unread)
    second = await brain.perceive("the heron nests by the weir again")
    held = brain.working_memory
    assert [e.engram_id for e in held] == [first.engram_id, second.engram_id]
    assert second.engram_id in dict(held[0].associations)  # linked by this perceive
    monkeypatch.undo()
    assert list(map(dump_engram, held)) == list(map(dump_engram, await stored.working_memory()))


async def test_restart_remembers_every_layer(make_brain: BrainFactory) -> None:
    brain = await make_brain()
    fact = await brain.perceive("Paris is the capital of France", memory_type=MemoryType.SEMANTIC)
    habit = await brain.perceive("Prefers tea", memory_type=MemoryType.HABITUAL, reward=0.8)
    await brain.close()
    again = await make_brain(brain_id=brain.settings.brain_id)
    assert [e.engram_id for e in again.working_memory] == [fact.engram_id]
    assert (await again.recall("capital of France"))[0][0].engram_id == fact.engram_id
    assert (await again.recall("tea"))[0][0].engram_id == habit.engram_id


async def test_brains_are_isolated(make_brain: BrainFactory) -> None:
    one = await make_brain()
    other = await make_brain()
    await one.perceive("The vault code is kept by Carol")
    assert await other.recall("vault code Carol") == []
    assert await other.engrams() == []


async def test_restatement_merges_but_a_different_fact_does_not(make_brain: BrainFactory) -> None:
    brain = await make_brain()
    pin = await brain.perceive("The PIN is 1234.")
    again = await brain.perceive("the pin   is 1234")
    assert again.engram_id == pin.engram_id
    assert again.access_count == 1
    other = await brain.perceive("The PIN is 5678.")
    assert other.engram_id != pin.engram_id
    assert len(await brain.engrams()) == 2


async def test_bulk_perceive_without_waiting(make_brain: BrainFactory) -> None:
    brain = await make_brain()
    sent = [await brain.perceive(f"bulk fact {i} is stored", wait=False) for i in range(100)]
    assert all(e.layer is Layer.SENSORY for e in sent)
    await brain.perceive("the last fact closes the batch")  # FIFO through every region
    stored = {e.engram_id for e in await brain.engrams()}
    assert {e.engram_id for e in sent} <= stored
    assert len(brain.working_memory) == 7


async def test_background_sleep_runs_when_idle(make_brain: BrainFactory) -> None:
    brain = await make_brain(idle_seconds=0.3, heartbeat_seconds=0.1)
    engram = await brain.perceive("Deadline moved to Friday, tell the team!", salience=0.9)
    await brain.start_sleep_cycle()

    async def consolidated() -> bool:
        stored = {e.engram_id: e for e in await brain.engrams()}
        return stored[engram.engram_id].layer is Layer.LONG_TERM

    await eventually(consolidated, within=15)
    await brain.stop_sleep_cycle()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"query": ""}, InvalidInputError),
        ({"query": None}, InvalidInputError),
        ({"query": "ok", "top_k": 0}, InvalidInputError),
        ({"query": "ok", "top_k": 2.5}, InvalidInputError),
        ({"query": "ok", "memory_type": "dreams"}, UnknownMemoryTypeError),
        ({"query": "ok", "since": 2_000.0, "until": 1_000.0}, InvalidInputError),
        ({"query": "ok", "since": "yesterday"}, InvalidInputError),
        ({"query": "ok", "until": float("nan")}, InvalidInputError),
    ],
)
async def test_bad_recall_is_refused(
    make_brain: BrainFactory, kwargs: dict, error: type[Exception]
) -> None:
    brain = await make_brain()
    with pytest.raises(error):
        await brain.recall(**kwargs)


async def test_a_closed_brain_says_so(make_brain: BrainFactory) -> None:
    brain = await make_brain()
    await brain.close()
    await brain.close()  # closing twice is harmless
    with pytest.raises(BrainClosedError, match="is closed"):
        await brain.perceive("too late")
    with pytest.raises(BrainClosedError):
        await brain.recall("anything")


async def test_forget_refuses_a_non_id(make_brain: BrainFactory) -> None:
    brain = await make_brain()
    with pytest.raises(InvalidInputError):
        await brain.forget("")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"content": ""}, InvalidInputError),
        ({"content": "   "}, InvalidInputError),
        ({"content": 42}, InvalidInputError),
        ({"content": "x" * 70_000}, ContentTooLargeError),
        ({"content": "ok", "salience": 1.5}, InvalidInputError),
        ({"content": "ok", "salience": float("nan")}, InvalidInputError),
        ({"content": "ok", "reward": -0.1}, InvalidInputError),
        ({"content": "ok", "memory_type": "dreams"}, UnknownMemoryTypeError),
        ({"content": "ok", "context": {"k": object()}}, InvalidInputError),
        ({"content": "ok", "occurred_at": time.time() + 3_600}, InvalidInputError),
        ({"content": "ok", "occurred_at": datetime.now() + timedelta(days=1)}, InvalidInputError),
        ({"content": "ok", "occurred_at": "last tuesday"}, InvalidInputError),
        ({"content": "ok", "occurred_at": float("inf")}, InvalidInputError),
        ({"content": "ok", "occurred_at": True}, InvalidInputError),
    ],
)
async def test_bad_input_is_refused_and_nothing_stored(
    make_brain: BrainFactory, kwargs: dict, error: type[Exception]
) -> None:
    brain = await make_brain()
    kept = await brain.perceive("Keep this one")
    with pytest.raises(error):
        await brain.perceive(**kwargs)
    assert [e.engram_id for e in await brain.engrams()] == [kept.engram_id]


async def test_a_region_can_be_replaced(make_brain: BrainFactory) -> None:
    brain = await make_brain(regions={"amygdala": "tests.custom_regions:CertainAmygdalaActor"})
    engram = await brain.perceive("The office plant is green")
    assert engram.salience == 1.0
    assert engram.stability == 2.0 * 72  # the boost for salience >= 0.75 still applies


async def test_a_region_can_be_added_beside_the_builtins(make_brain: BrainFactory, redis) -> None:
    brain = await make_brain(regions={"auditor": "tests.custom_regions:Auditor"})
    first = await brain.perceive("The office plant is green")
    second = await brain.perceive("The lamp is blue")
    key = Namespace(brain.settings.brain_id).key("audit")

    async def audited() -> bool:
        return await redis.lrange(key, 0, -1) == [
            first.engram_id.encode(),
            second.engram_id.encode(),
        ]

    await eventually(audited)
    assert len(await brain.recall("office plant")) >= 1  # the hippocampus saw them too


async def test_recall_survives_a_change_log_trimmed_past_its_position(
    make_brain: BrainFactory, redis
) -> None:
    brain = await make_brain()
    await brain.perceive("The first note about the garden")
    await brain.recall("garden")  # the index has read the log up to here
    late = await brain.perceive("The gate code is 4821")
    await redis.xtrim(Namespace(brain.settings.brain_id).key("changes"), maxlen=0)
    results = await brain.recall("gate code", top_k=1)  # unread changes are gone: rebuild
    assert results[0][0].engram_id == late.engram_id


async def test_recall_explains_its_scores(make_brain: BrainFactory) -> None:
    brain = await make_brain()
    engram = await brain.perceive("The lake freezes in January", salience=0.6)
    [(found, score, why)] = await brain.recall("lake freezes January", top_k=1, explain=True)
    assert found.engram_id == engram.engram_id
    assert why.activation == pytest.approx(score)
    assert why.salience_factor == pytest.approx(0.9)  # 1 - 0.25 + 0.25 x 0.6
    assert why.semantic > 0 and why.lexical > 0  # matched by meaning and by words
    parts = why.semantic + why.lexical + why.temporal + why.context
    assert why.match == pytest.approx(parts)
    assert why.retention_factor == pytest.approx(0.9 + 0.1 * why.retention)
    assert why.direct == pytest.approx(why.match * why.retention_factor * 0.9)
    assert why.direct + why.spread == pytest.approx(score)


LONG_NOTE = (
    "The quarterly offsite starts on Monday at the lake house. "
    "Breakfast is served from seven until nine in the main hall. "
    "The first workshop covers the new billing system and its migration plan. "
    "After lunch the teams split into groups to review customer feedback. "
    "The fire alarm test happens on Tuesday afternoon so please ignore the siren. "
    "Dinner on Wednesday is at the old mill restaurant by the river. "
    "Buses back to the city leave on Thursday at noon sharp."
)


async def test_a_long_memory_is_recalled_through_one_of_its_sentences(
    make_brain: BrainFactory,
) -> None:
    brain = await make_brain()
    note = await brain.perceive(LONG_NOTE)
    assert len(note.fragments) == 7  # 78 words: above the 64-word mark, one per sentence
    await brain.perceive("The siren in the parking garage is broken")
    cue = "fire alarm test Tuesday"
    [(found, _, why)] = await brain.recall(cue, top_k=1, explain=True)
    assert found.engram_id == note.engram_id
    whole = float(np.dot(*HashEncoder().encode([cue, LONG_NOTE])))
    assert why.similarity > 2 * whole  # the matching sentence, not the whole note, decided


@pytest.mark.parametrize("inline", [4096, 0], ids=["on the event loop", "in a thread"])
async def test_the_later_of_two_facts_outranks_the_earlier(
    make_brain: BrainFactory, inline: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hippocampus, "INLINE_SUPERSESSION", inline)
    brain = await make_brain()
    old = await brain.perceive("My PIN is 1234")
    new = await brain.perceive("My PIN is 5678")
    assert new.context["supersedes"] == [old.engram_id]
    results = await brain.recall("My PIN is", top_k=2, explain=True)
    assert [e.engram_id for e, _, _ in results] == [new.engram_id, old.engram_id]
    assert results[1][2].superseded_by == new.engram_id
    stored = {e.engram_id: e for e in await brain.engrams()}
    assert stored[old.engram_id].context["superseded_by"] == new.engram_id


async def test_occurred_at_is_kept_and_bounds_a_recall_window(make_brain: BrainFactory) -> None:
    brain = await make_brain()
    march = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    old = await brain.perceive("The boiler was serviced", occurred_at=march)
    new = await brain.perceive("The boiler was serviced again", occurred_at=time.time() - 60)
    assert old.occurred_at == march.timestamp()
    found = await brain.recall("boiler serviced", top_k=5, until=march + timedelta(days=1))
    assert [(e.engram_id, e.occurred_at) for e, _ in found] == [(old.engram_id, march.timestamp())]
    found = await brain.recall("boiler serviced", top_k=5, since=march.timestamp() + 1)
    assert [e.engram_id for e, _ in found] == [new.engram_id]
    everything = await brain.recall("boiler serviced", top_k=5, since=march, until=time.time())
    assert {e.engram_id for e, _ in everything} == {old.engram_id, new.engram_id}


async def test_regions_in_the_process_are_woken_without_the_doorbell(
    make_brain: BrainFactory, redis
) -> None:
    brain = await make_brain()
    rings = await redis.xlen(DOORBELL)
    engram = await brain.perceive("the heron nests by the weir")
    assert [e.engram_id for e, _ in await brain.recall("where does the heron nest")] == [
        engram.engram_id
    ]
    assert await redis.xlen(DOORBELL) == rings  # their own host woke them


async def test_regions_in_the_process_get_their_batch_from_whoever_wrote_it(
    make_brain: BrainFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[tuple[str, int]] = []
    hand = StreamConsumer.hand

    def record(consumer: StreamConsumer[Any], replies: list[Any] | None) -> None:
        assert replies is not None
        handed.append((consumer.group, len(read_entries(replies[0]))))
        hand(consumer, replies)

    monkeypatch.setattr(StreamConsumer, "hand", record)
    brain = await make_brain()
    engram = await brain.perceive("the otter slides down the bank")
    assert [e.engram_id for e, _ in await brain.recall("where does the otter slide")] == [
        engram.engram_id
    ]
    # each idle region read its one message in the transaction that wrote it: the client's
    # send, then each region's commit
    assert {group for group, count in handed if count == 1} >= {
        "sensory_cortex",
        "thalamus",
        "amygdala",
        "prefrontal_cortex",
        "hippocampus",
    }


async def test_linking_reads_back_neither_what_it_wrote_nor_what_it_was_handed(
    make_brain: BrainFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    brain = await make_brain()
    await brain.perceive("the heron nests by the weir")
    read: list[str] = []
    get_blobs = MemoryStore.get_blobs

    async def record(store: MemoryStore, ids: Sequence[str]) -> dict[str, bytes]:
        read.extend(ids)
        return await get_blobs(store, ids)

    monkeypatch.setattr(MemoryStore, "get_blobs", record)
    for text in ("the heron nests by the weir again", "the heron nests by the weir in may"):
        await brain.perceive(text)
    linked = [e for e in await brain.engrams() if e.associations]
    assert len(linked) == 3
    assert read == []


async def test_a_link_lands_on_an_engram_written_meanwhile_and_not_logged_yet(
    make_brain: BrainFactory, redis
) -> None:
    brain = await make_brain()
    first = await brain.perceive("the heron nests by the weir")
    store = MemoryStore(redis, Namespace(brain.settings.brain_id))
    await store.update([first.engram_id], lambda e: e.context.update(note="ringed"), logged=False)
    second = await brain.perceive("the heron nests by the weir again")
    stored = {e.engram_id: e for e in await brain.engrams()}
    assert stored[first.engram_id].context["note"] == "ringed"
    assert second.engram_id in dict(stored[first.engram_id].associations)


async def test_the_hippocampus_catches_up_in_the_transaction_that_hands_it_its_batch(
    make_brain: BrainFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    brain = await make_brain()
    await brain.perceive("the heron nests by the weir")

    async def unread(*_: Any) -> None:
        raise AssertionError("read with the batch handed over: no read of its own")

    monkeypatch.setattr(MemoryStore, "read_changes", unread)
    linked = asyncio.Event()
    link = hippocampus.HippocampusActor._link

    async def linking(
        actor: hippocampus.HippocampusActor, deliveries: list[Delivery[Message]]
    ) -> None:
        await link(actor, deliveries)
        linked.set()  # the rest of its turn runs before the test's: idle again after it

    monkeypatch.setattr(hippocampus.HippocampusActor, "_link", linking)
    later = await brain.perceive("the heron nests by the weir again")  # the PFC's commit
    await linked.wait()  # else the client may send while the Hippocampus ends its turn
    found = await brain.recall("where does the heron nest")  # the client's send
    assert later.engram_id in [e.engram_id for e, _ in found]
