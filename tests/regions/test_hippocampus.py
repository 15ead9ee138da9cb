"""Hippocampus: association links, pattern completion with spreading activation and LTP."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurram import index as index_module
from neurram.encoder import HashEncoder
from neurram.engram import Engram, Layer, MemoryType, dump_engram, load_engram
from neurram.index import PACKED_FROM
from neurram.regions import hippocampus as hippocampus_module
from neurram.regions.hippocampus import Hippocampus
from neurram.settings import Settings

from .conftest import HOUR, T0, unit

LTP_ONCE = 1.0 + 0.3 * math.log(2)  # stability after one recall at salience 0.5: 1.2079
AT_HALF = 0.875  # salience factor at salience 0.5: 1 - 0.25 + 0.25 x 0.5


def weighed(retention: float) -> float:
    """The retention factor: 1 - 0.1 + 0.1 x retention."""
    return 0.9 + 0.1 * retention


# most tests here check the original's numbers: its law, and stability granted in hours
ORIGINAL = Settings(forgetting_law="exponential", stability_unit_hours=1.0)


@pytest.fixture
def hippocampus() -> Hippocampus:
    return Hippocampus(encoder=HashEncoder(), settings=ORIGINAL)


def weights(engram: Engram) -> dict[str, float]:
    return dict(engram.associations)


# --- link -------------------------------------------------------------------------------


def test_link_associates_both_ways_with_weight_cosine(hippocampus, make_engram) -> None:
    new = make_engram("new", engram_id="new", embedding=unit(1, 0, 0))
    close = make_engram("close", engram_id="close", embedding=unit(0.6, 0.8, 0))  # cos 0.6
    far = make_engram("far", engram_id="far", embedding=unit(0.34, math.sqrt(1 - 0.34**2), 0))
    changed = hippocampus.link(new, [close, far])
    assert changed == [new, close]
    assert weights(new) == {"close": pytest.approx(0.6)}
    assert weights(close) == {"new": pytest.approx(0.6)}
    assert far.associations == []


def test_link_threshold_is_035(hippocampus, make_engram) -> None:
    new = make_engram("new", embedding=unit(1, 0))
    above = make_engram("above", engram_id="above", embedding=unit(0.36, math.sqrt(1 - 0.36**2)))
    below = make_engram("below", engram_id="below", embedding=unit(0.34, math.sqrt(1 - 0.34**2)))
    hippocampus.link(new, [above, below])
    assert list(weights(new)) == ["above"]


def test_link_only_with_the_given_recent_engrams(hippocampus, make_engram) -> None:
    indexed = make_engram("indexed", engram_id="indexed", embedding=unit(1, 0))
    hippocampus.index.upsert(indexed)
    new = make_engram("new", embedding=unit(1, 0))
    assert hippocampus.link(new, []) == []
    assert new.associations == [] and indexed.associations == []


def test_link_twice_keeps_one_edge(hippocampus, make_engram) -> None:
    a = make_engram("a", engram_id="a", embedding=unit(1, 0))
    b = make_engram("b", engram_id="b", embedding=unit(0.8, 0.6))
    hippocampus.link(a, [b])
    hippocampus.link(a, [b])
    assert a.associations == [("b", pytest.approx(0.8))]
    assert b.associations == [("a", pytest.approx(0.8))]


def test_link_skips_itself(hippocampus, make_engram) -> None:
    a = make_engram("a", engram_id="a", embedding=unit(1, 0))
    assert hippocampus.link(a, [a]) == []


# --- remember ---------------------------------------------------------------------------


def test_remember_encodes_indexes_and_moves_to_working(hippocampus, make_engram) -> None:
    engram = hippocampus.remember(make_engram("the cat sat on the mat"))
    assert engram.layer is Layer.WORKING
    assert engram.embedding.shape == (384,)
    assert np.array_equal(engram.embedding, HashEncoder().encode([engram.content])[0])
    assert engram.engram_id in hippocampus.index
    assert len(hippocampus) == 1


def test_remember_links_within_the_last_five(hippocampus, make_engram) -> None:
    # all pairwise cosines are about 0.9 under HashEncoder
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"]
    engrams = [
        hippocampus.remember(
            make_engram(f"the deploy script lives in the ops repo {w}", engram_id=w)
        )
        for w in words
    ]
    assert set(weights(engrams[6])) == {"bravo", "charlie", "delta", "echo", "foxtrot"}
    assert set(weights(hippocampus.index.get("foxtrot"))) == {
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
        "golf",
    }
    assert "golf" not in weights(engrams[0])
    assert "alpha" not in weights(engrams[6])
    assert all(0.35 <= w <= 1.0 for e in engrams for _, w in e.associations)


def test_remembering_an_engram_again_keeps_five_distinct_in_the_window(
    hippocampus, make_engram
) -> None:
    words = ["alpha", "bravo", "charlie", "delta", "echo"]
    engrams = [
        hippocampus.remember(
            make_engram(f"the deploy script lives in the ops repo {w}", engram_id=w)
        )
        for w in words
    ]
    hippocampus.remember(engrams[-1])  # echo again: still one of the last five, once
    new = hippocampus.remember(make_engram("the deploy script lives in the ops repo golf"))
    assert set(weights(new)) == set(words)


def test_remember_does_not_link_unrelated_apart_in_time(hippocampus, make_engram) -> None:
    cat = hippocampus.remember(make_engram("the cat sat on the mat"))
    stocks = hippocampus.remember(
        make_engram("stock prices fell sharply today", occurred_at=T0 + HOUR)
    )
    assert cat.associations == [] and stocks.associations == []


# --- pattern completion -----------------------------------------------------------------


def test_empty_hippocampus_returns_nothing_without_loading_a_model(monkeypatch) -> None:
    def no_model(*_: object) -> None:
        raise AssertionError("the encoder must not be loaded")

    monkeypatch.setattr(hippocampus_module, "encoder_for", no_model)
    assert Hippocampus().pattern_complete("cue", top_k=10) == []


def test_closest_first_and_ltp_on_results(hippocampus, make_engram, now) -> None:
    cat = hippocampus.remember(make_engram("the cat sat on the mat"))
    chase = hippocampus.remember(make_engram("the cat chased a mouse"))
    stocks = hippocampus.remember(  # another episode: no neighbour of the cats in time
        make_engram("stock prices fell sharply today", occurred_at=now + HOUR)
    )
    results = hippocampus.pattern_complete("the cat sat on the mat", top_k=5, now=now + HOUR)
    ranked = [e for e, _ in results]
    ids = [e.engram_id for e in ranked]
    assert ids[:2] == [cat.engram_id, chase.engram_id] and stocks.engram_id not in ids
    scores = [s for _, s in results]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(weighed(math.exp(-1)) * AT_HALF, rel=1e-5)  # R(1 h)
    for engram in [*ranked, *map(hippocampus.index.get, ids)]:  # returned and indexed
        assert engram.access_count == 1
        assert engram.last_accessed == now + HOUR
        assert engram.stability == pytest.approx(LTP_ONCE)
        assert engram.synaptic_strength == 1.0
    stocks = hippocampus.index.get(stocks.engram_id)
    assert (stocks.access_count, stocks.stability) == (0, 1.0)


def test_ltp_is_visible_to_the_next_recall(hippocampus, make_engram, now) -> None:
    hippocampus.remember(make_engram("the cat sat on the mat"))
    later = now + 2 * HOUR
    hippocampus.pattern_complete("the cat sat on the mat", now=later)
    ((_, score),) = hippocampus.pattern_complete("the cat sat on the mat", now=later)
    # last_accessed refreshed to `later` in the index: retention 1, not exp(-2)
    assert score == pytest.approx(AT_HALF, rel=1e-5)


def test_complete_gives_each_recalled_engram_as_it_rests_in_the_store(make_engram, now) -> None:
    """What the Hippocampus's LTP compares the store with, so it needs not read it again."""
    hippocampus = Hippocampus(HashEncoder(), Settings(fragment_above_words=5))
    long = make_engram(
        "The cat sat on the mat. It purred all afternoon. Then it slept by the fire.",
        context={"source": "notes", "tags": ["cat"]},
        associations=[("gone", 0.5)],  # to an engram the index does not hold
    )
    hippocampus.remember(long)
    hippocampus.remember(make_engram("the cat chased a mouse", layer=Layer.SILENT))
    stored = {e.engram_id: dump_engram(e) for e in hippocampus.index}
    assert hippocampus.index.get(long.engram_id).fragments  # rows of its own
    for blob in stored.values():
        hippocampus.place(load_engram(blob))  # as the actor indexes what it read
    rested: dict[str, bytes] = {}
    results = hippocampus.complete("the cat", now=now, rested=rested, include_silent=True)
    assert len(results) == 2 and rested == stored  # before LTP, byte for byte
    hippocampus.complete("the cat", now=now, rested=rested, include_silent=True)
    assert rested == stored  # the first time each was recalled


def test_top_k_limits_results(hippocampus, make_engram, now) -> None:
    for w in ["alpha", "bravo", "charlie", "delta"]:
        hippocampus.remember(make_engram(f"the deploy script lives in the ops repo {w}"))
    assert len(hippocampus.pattern_complete("deploy script ops repo", top_k=2, now=now)) == 2
    assert len(hippocampus.pattern_complete("deploy script ops repo", top_k=10, now=now)) == 4


def test_memory_type_filter(hippocampus, make_engram, now) -> None:
    fact = hippocampus.remember(
        make_engram("the deploy script lives in the ops repo", memory_type=MemoryType.SEMANTIC)
    )
    hippocampus.remember(make_engram("the deploy script lives in the ops repo today"))
    results = hippocampus.pattern_complete(
        "deploy script", top_k=10, memory_type=MemoryType.SEMANTIC, now=now
    )
    assert [e.engram_id for e, _ in results] == [fact.engram_id]


def test_spreading_activation_reaches_associates_two_hops(hippocampus, make_engram, now) -> None:
    """cue -> a (cos 1) -> b (w 0.9) -> c (w 0.8) -> d (w 1.0, a third hop: not reached)."""
    a = make_engram("api keys rotate monthly", engram_id="a", embedding=unit(1, 0, 0, 0))
    b = make_engram("ask Priya in security", engram_id="b", embedding=unit(0, 1, 0, 0))
    c = make_engram("her desk is on floor 3", engram_id="c", embedding=unit(0, 0, 1, 0))
    d = make_engram("floor 3 has a cafe", engram_id="d", embedding=unit(0, 0, 0, 1))
    a.associations, b.associations = [("b", 0.9)], [("a", 0.9), ("c", 0.8)]
    c.associations, d.associations = [("b", 0.8), ("d", 1.0)], [("c", 1.0)]
    for engram in (a, b, c, d):
        hippocampus.index.upsert(engram)
    results = dict(
        (e.engram_id, s) for e, s in hippocampus.pattern_complete(unit(1, 0, 0, 0), now=now)
    )
    assert results == {
        "a": pytest.approx(AT_HALF),
        "b": pytest.approx(AT_HALF * 0.9 * 0.6),
        "c": pytest.approx(AT_HALF * 0.9 * 0.6 * 0.8 * 0.6),
    }


def test_spreading_brings_in_an_engram_sharing_no_words(hippocampus, make_engram, now) -> None:
    keys = hippocampus.remember(make_engram("api keys rotate monthly", engram_id="keys"))
    embedding = HashEncoder().encode(["ask Priya in security"])[0]
    priya = make_engram("ask Priya in security", engram_id="priya", embedding=embedding)
    keys.associations, priya.associations = [("priya", 0.9)], [("keys", 0.9)]
    hippocampus.index.upsert(priya)
    hippocampus.index.upsert(keys)
    results = hippocampus.pattern_complete("when do api keys rotate", now=now)
    assert [e.engram_id for e, _ in results] == ["keys", "priya"]


def test_long_unaccessed_engram_scores_below_an_identical_fresh_one(
    hippocampus, make_engram, now
) -> None:
    text = "the deploy script lives in the ops repo"
    fresh = make_engram(text, engram_id="fresh")
    stale = make_engram(text, engram_id="stale", last_accessed=now - 48 * HOUR, stability=1.0)
    one_hour = make_engram(text, engram_id="hour", last_accessed=now - HOUR, stability=1.0)
    for engram in (fresh, stale, one_hour):
        engram.embedding = HashEncoder().encode([text])[0]
        hippocampus.index.upsert(engram)
    results = dict((e.engram_id, s) for e, s in hippocampus.pattern_complete(text, now=now))
    assert results["fresh"] == pytest.approx(AT_HALF, rel=1e-5)
    assert results["hour"] == pytest.approx(AT_HALF * weighed(math.exp(-1)), rel=1e-5)
    # the more retrievable ranks first, but an old memory that matches still comes back
    assert results["fresh"] > results["hour"] > results["stale"] > 0.5


def test_salience_scales_activation(hippocampus, make_engram, now) -> None:
    hippocampus.index.upsert(make_engram("x", engram_id="hi", salience=1.0, embedding=unit(1, 0)))
    hippocampus.index.upsert(make_engram("x", engram_id="lo", salience=0.0, embedding=unit(1, 0)))
    results = [(e.engram_id, s) for e, s in hippocampus.pattern_complete(unit(1, 0), now=now)]
    assert results == [("hi", pytest.approx(1.0)), ("lo", pytest.approx(0.75))]  # 1 - 0.25


def test_each_result_says_why_it_scored(hippocampus, make_engram, now) -> None:
    """a is found directly (an hour old), b only through its association with a."""
    a = make_engram("a", engram_id="a", embedding=unit(1, 0), last_accessed=now - HOUR)
    b = make_engram("b", engram_id="b", embedding=unit(0, 1), salience=0.9)
    a.associations, b.associations = [("b", 0.9)], [("a", 0.9)]
    for engram in (a, b):
        hippocampus.index.upsert(engram)
    why = {e.engram_id: (score, w) for e, score, w in hippocampus.complete(unit(1, 0), now=now)}
    score, wa = why["a"]
    assert (wa.similarity, wa.salience_factor) == (pytest.approx(1.0), pytest.approx(AT_HALF))
    assert wa.retention == pytest.approx(math.exp(-1))
    assert wa.retention_factor == pytest.approx(weighed(math.exp(-1)))
    assert wa.direct == pytest.approx(AT_HALF * weighed(math.exp(-1))) == score == wa.activation
    assert wa.spread == 0.0
    score, wb = why["b"]
    assert wb.similarity == pytest.approx(0.0, abs=1e-7) and wb.direct == 0.0
    assert wb.spread == pytest.approx(AT_HALF * weighed(math.exp(-1)) * 0.9 * 0.6) == score
    assert hippocampus.index.get("a").access_count == 1  # explained as it was before LTP


def test_retrieve_explains_only_when_asked(hippocampus, make_engram, now) -> None:
    """Without ``explain`` the same engrams come back, potentiated alike, with no
    explanations."""
    for name, vector in (("a", unit(1, 0)), ("b", unit(0.8, 0.6))):
        hippocampus.index.upsert(make_engram(name, engram_id=name, embedding=vector))
    explained = hippocampus.retrieve(unit(1, 0), now=now)
    plain = hippocampus.retrieve(unit(1, 0), now=now, explain=False)
    assert [e.engram_id for e, _ in plain.results] == ["a", "b"]
    assert [s for _, s in plain.results] == pytest.approx([s for _, s in explained.results])
    assert len(explained.explanations) == 2 and plain.explanations == []
    assert hippocampus.index.get("a").access_count == 2  # each potentiated it


def test_a_later_fact_supersedes_the_earlier_one(hippocampus, make_engram, now) -> None:
    old = hippocampus.remember(make_engram("My PIN is 1234", engram_id="old", encoded_at=now))
    new = hippocampus.remember(make_engram("My PIN is 5678", engram_id="new", encoded_at=now + 1))
    assert new.context["supersedes"] == ["old"] and old.context == {}  # as remembered
    assert hippocampus.index.get("old").context["superseded_by"] == "new"  # as indexed
    results = hippocampus.complete("My PIN is", now=now + 2)
    assert [e.engram_id for e, _, _ in results] == ["new", "old"]  # the earlier stays findable
    assert results[1][2].superseded_by == "new" and results[0][2].superseded_by is None
    hippocampus.index.remove("new")
    [(engram, _, why)] = hippocampus.complete("My PIN is", now=now + 3)
    assert engram.engram_id == "old" and why.superseded_by is None  # nothing outranks it now


def test_versions_of_a_fact_form_a_chain(hippocampus, make_engram, now) -> None:
    for i, pin in enumerate(("1234", "5678", "9012")):
        hippocampus.remember(make_engram(f"My PIN is {pin}", engram_id=pin, encoded_at=now + i))
    get = hippocampus.index.get
    assert get("9012").context["supersedes"] == ["5678"]  # the closest live version only
    assert get("5678").context["superseded_by"] == "9012"
    assert get("1234").context["superseded_by"] == "5678"
    results = hippocampus.pattern_complete("My PIN is", now=now + 3)
    assert results[0][0].engram_id == "9012"


@pytest.mark.parametrize("crowd", [0, 300])
def test_a_batch_of_later_facts_supersedes_each_its_earlier_one(
    hippocampus, make_engram, now, crowd, monkeypatch
) -> None:
    """A batch is compared with the index in one packed product (``PACKED_FROM`` new engrams
    and more), or, among a ``crowd`` of other memories, each new engram with the few holding
    its rarest words alone: each finds its own earlier version, and never a removed one."""
    for i in range(crowd):
        hippocampus.remember(make_engram(f"Note {i} on the garden shed", encoded_at=now))
    if crowd:  # no product over every row
        monkeypatch.setattr(index_module, "packed_cosines", None)
    versions = {
        "pin": ("My PIN is 1234", "My PIN is 5678"),
        "door": ("The door code is 4321", "The door code is 8765"),
        "car": ("The car is parked on level 2", "The car is parked on level 5"),
        "wifi": ("The wifi password is tulip", "The wifi password is orchid"),
    }
    for name, (earlier, _) in versions.items():
        hippocampus.remember(make_engram(earlier, engram_id=f"old-{name}", encoded_at=now))
    hippocampus.index.remove("old-wifi")
    later = [
        make_engram(text, engram_id=name, encoded_at=now + 1)
        for name, (_, text) in versions.items()
    ]
    vectors = hippocampus.encoder.encode([e.content for e in later])
    for engram, vector in zip(later, vectors, strict=True):
        engram.embedding = vector
    assert len(later) >= PACKED_FROM
    found = hippocampus.superseded(later)
    assert {name: [e.engram_id for e in older] for name, older in found.items()} == {
        "pin": ["old-pin"],
        "door": ["old-door"],
        "car": ["old-car"],
        "wifi": [],
    }
    assert hippocampus.index.get("old-car").context["superseded_by"] == "car"


# --- episodes and temporal contiguity (SPEC 9) ------------------------------------------


def test_join_episode_joins_the_episode_of_the_latest_earlier_engram_within_the_gap(
    hippocampus, make_engram
) -> None:
    first = make_engram("first", engram_id="first", embedding=unit(1, 0), occurred_at=T0)
    hippocampus.join_episode(first, [])
    assert first.episode == "first"  # nothing before it: it starts one
    second = make_engram("second", embedding=unit(0, 1), occurred_at=T0 + 1799)
    edges = hippocampus.join_episode(second, [first])
    assert second.episode == "first"
    # linked both ways whatever their cosine (0 here)
    assert edges == [
        (second.engram_id, "first", pytest.approx(0.7)),
        ("first", second.engram_id, pytest.approx(0.7)),
    ]
    late = make_engram("late", engram_id="late", embedding=unit(0, 1), occurred_at=T0 + 3600)
    assert hippocampus.join_episode(late, [second, first]) == []
    assert late.episode == "late"  # more than 30 minutes after: a new episode


def test_join_episode_follows_time_not_the_order_engrams_arrive_in(
    hippocampus, make_engram
) -> None:
    recalled = make_engram("old", engram_id="old", episode="old", occurred_at=T0 - 86_400)
    previous = make_engram("prev", engram_id="prev", episode="today", occurred_at=T0 - 60)
    new = make_engram("new", occurred_at=T0)
    edges = hippocampus.join_episode(new, [recalled, previous])  # a restated old memory came last
    assert new.episode == "today" and {target for _, target, _ in edges} == {"prev", new.engram_id}


def test_remember_links_neighbours_in_time_and_recall_lifts_them(
    hippocampus, make_engram, now
) -> None:
    question = hippocampus.remember(make_engram("how did the sourdough bread turn out"))
    answer = hippocampus.remember(make_engram("burnt on the bottom", occurred_at=T0 + 1))
    linked = hippocampus.index.get(question.engram_id)
    assert dict(linked.associations).get(answer.engram_id) == pytest.approx(0.7)
    hippocampus.remember(make_engram("stock prices fell sharply", occurred_at=T0 + 7200))
    found = hippocampus.complete("sourdough bread", top_k=3, now=now)
    by_id = {e.engram_id: why for e, _, why in found}
    assert [e.engram_id for e, _, _ in found][:2] == [question.engram_id, answer.engram_id]
    assert by_id[answer.engram_id].temporal > 0


# --- silent engrams and the fallback (default law) ---------------------------------------


@pytest.fixture
def default_hippocampus() -> Hippocampus:
    return Hippocampus(encoder=HashEncoder())


def test_place_moves_an_engram_between_the_active_and_the_silent_index(
    default_hippocampus, make_engram
) -> None:
    h = default_hippocampus
    engram = make_engram("x", engram_id="e", embedding=unit(1, 0), layer=Layer.WORKING)
    h.place(engram)
    assert ("e" in h.index, "e" in h.silent) == (True, False)
    engram.layer = Layer.SILENT
    h.place(engram)
    assert ("e" in h.index, "e" in h.silent) == (False, True)
    engram.layer = Layer.LONG_TERM
    h.place(engram)
    assert ("e" in h.index, "e" in h.silent) == (True, False)
    h.drop("e")
    assert ("e" in h.index, "e" in h.silent) == (False, False)


def silent_and_active(h: Hippocampus, make_engram, now: float, actives: int) -> None:
    """One silent engram on the cue's direction, ``actives`` active ones close to it."""
    silent = make_engram("s", engram_id="silent", embedding=unit(1, 0), layer=Layer.SILENT)
    h.place(silent)
    for i in range(actives):
        active = make_engram(f"a{i}", engram_id=f"a{i}", embedding=unit(1, 0.2 + i / 10))
        active.layer = Layer.WORKING
        h.place(active)


def test_silent_engrams_fill_only_the_places_active_ones_leave_empty(
    default_hippocampus, make_engram, now
) -> None:
    silent_and_active(default_hippocampus, make_engram, now, actives=2)
    found = [e.engram_id for e, _ in default_hippocampus.pattern_complete(unit(1, 0), 3, now=now)]
    assert found == ["a0", "a1", "silent"]  # after the active ones, though closer to the cue
    assert default_hippocampus.index.get("silent") is not None  # recalled: active again


def test_no_fallback_when_active_engrams_fill_top_k(default_hippocampus, make_engram, now) -> None:
    silent_and_active(default_hippocampus, make_engram, now, actives=3)
    found = [e.engram_id for e, _ in default_hippocampus.pattern_complete(unit(1, 0), 3, now=now)]
    assert found == ["a0", "a1", "a2"]
    assert "silent" in default_hippocampus.silent


def test_include_silent_ranks_silent_engrams_with_the_active_ones(
    default_hippocampus, make_engram, now
) -> None:
    silent_and_active(default_hippocampus, make_engram, now, actives=3)
    results = default_hippocampus.complete(unit(1, 0), 3, now=now, include_silent=True)
    assert [e.engram_id for e, _, _ in results] == ["silent", "a0", "a1"]
    assert results[0][2].retention == 1.0  # matched by the cue alone
    assert results[0][0].layer is Layer.WORKING and results[0][0].access_count == 1


def test_a_silent_engram_of_another_type_is_not_a_fallback(
    default_hippocampus, make_engram, now
) -> None:
    silent_and_active(default_hippocampus, make_engram, now, actives=0)
    found = default_hippocampus.pattern_complete(unit(1, 0), 3, MemoryType.SEMANTIC, now=now)
    assert found == []


def test_of_two_equally_close_memories_the_more_retrievable_ranks_first(
    default_hippocampus, make_engram, now
) -> None:
    """Recent over old, recalled (stabler) over not, salient over not."""
    day = 24 * HOUR
    pairs = {
        "recent": dict(last_accessed=now - day),
        "old": dict(last_accessed=now - 30 * day),
        "recalled": dict(last_accessed=now - 30 * day, stability=150.0, access_count=3),
        "plain": dict(last_accessed=now - 30 * day, stability=72.0),
        "salient": dict(last_accessed=now - 30 * day, salience=0.8),
        "neutral": dict(last_accessed=now - 30 * day, salience=0.4),
    }
    for a, b in (("recent", "old"), ("recalled", "plain"), ("salient", "neutral")):
        h = Hippocampus(encoder=HashEncoder())
        for engram_id in (b, a):
            fields = {"stability": 72.0, **pairs[engram_id]}
            h.place(make_engram("same", engram_id=engram_id, embedding=unit(1, 0), **fields))
        assert [e.engram_id for e, _ in h.pattern_complete(unit(1, 0), now=now)] == [a, b]
