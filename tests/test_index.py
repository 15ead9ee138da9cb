"""EngramIndex: the Hippocampus's vector index."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pytest

import neurram.index as index_module
from neurram.engram import Engram, MemoryType
from neurram.index import (
    PACKED_FROM,
    ROUGH_ERROR,
    EngramIndex,
    Ranking,
    packed_cosines,
    rough_matches,
)
from neurram.lexicon import BM25, Vocabulary, term_counts, terms
from neurram.settings import Settings

T0 = 1_700_000_000.0
AT_HALF = 0.875  # salience factor at salience 0.5: 1 - 0.25 + 0.25 x 0.5


def unit(*components: float) -> np.ndarray:
    v = np.asarray(components, dtype=np.float32)
    return v / np.float32(np.linalg.norm(v))


def engram(engram_id: str, *components: float, **fields: object) -> Engram:
    values = {"content": engram_id, "last_accessed": T0, "encoded_at": T0, **fields}
    return Engram(engram_id=engram_id, embedding=unit(*components), **values)  # type: ignore[arg-type]


def ranked(
    index: EngramIndex, query: np.ndarray, k: int = 1000, **kw: object
) -> list[tuple[str, float]]:
    scores = index.scores(query, T0)
    return [(e.engram_id, s) for e, s in index.top(scores, k, **kw)]  # type: ignore[arg-type]


def test_upsert_get_contains_len() -> None:
    index = EngramIndex()
    a = engram("a", 1, 0)
    index.upsert(a)
    assert len(index) == 1 and "a" in index and index.get("b") is None and index.dim == 2
    [got] = list(index)
    assert got.engram_id == index.get("a").engram_id == "a"  # copies of what it holds
    np.testing.assert_array_equal(index.get("a").embedding, a.embedding)


def test_empty_index() -> None:
    index = EngramIndex()
    assert index.dim is None
    assert index.scores(unit(1, 0), T0).activation.size == 0


def test_upsert_replaces_an_engram_with_the_same_id() -> None:
    index = EngramIndex()
    index.upsert(engram("a", 1, 0))
    replacement = engram("a", 0, 1)
    index.upsert(replacement)
    assert len(index) == 1
    np.testing.assert_array_equal(index.get("a").embedding, replacement.embedding)
    assert ranked(index, unit(0, 1)) == [("a", pytest.approx(AT_HALF))]
    assert ranked(index, unit(1, 0)) == []


def test_remove() -> None:
    index = EngramIndex()
    index.upsert(engram("a", 1, 0))
    index.upsert(engram("b", 1, 0.1))
    assert index.remove("a") is True
    assert index.remove("a") is False
    assert "a" not in index and len(index) == 1
    assert [i for i, _ in ranked(index, unit(1, 0))] == ["b"]


def test_removed_engram_no_longer_receives_or_spreads_activation() -> None:
    index = EngramIndex()
    index.upsert(engram("a", 1, 0, associations=[("b", 1.0)]))
    index.upsert(engram("b", 0, 1, associations=[("a", 1.0)]))
    assert [i for i, _ in ranked(index, unit(1, 0))] == ["a", "b"]
    index.remove("b")
    assert [i for i, _ in ranked(index, unit(1, 0))] == ["a"]


def test_compaction_keeps_results_identical_after_many_removals() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(100, 8))
    engrams = [
        engram(
            f"e{i}",
            *vectors[i],
            salience=float(rng.uniform()),
            last_accessed=T0 - float(rng.uniform(0, 3600)),
            associations=[(f"e{(i + 2) % 100}", 0.9)],
        )
        for i in range(100)
    ]
    index = EngramIndex()
    for e in engrams:
        index.upsert(e)
    for e in engrams[::2] + engrams[1:30:2]:  # 65 removals: compaction happens past 50
        index.remove(e.engram_id)
    survivors = engrams[31::2]
    fresh = EngramIndex()
    for e in survivors:
        fresh.upsert(e)
    assert len(index) == len(fresh) == 35
    assert len(index._ids) < 100  # the matrix was compacted
    for query in rng.normal(size=(5, 8)):
        q = unit(*query)
        got, want = ranked(index, q), ranked(fresh, q)
        assert got and [i for i, _ in got] == [i for i, _ in want]
        assert [s for _, s in got] == pytest.approx([s for _, s in want])


def test_dimension_mismatch_raises_a_clear_value_error() -> None:
    index = EngramIndex()
    index.upsert(engram("a", 1, 0, 0))
    with pytest.raises(ValueError, match=r"4-dim embedding, the index holds 3-dim .*one encoder"):
        index.upsert(engram("b", 1, 0, 0, 0))
    assert "b" not in index


def test_unencoded_engram_is_refused() -> None:
    with pytest.raises(ValueError, match="no embedding; encode it first"):
        EngramIndex().upsert(Engram(content="x"))


def test_top_with_k_larger_than_candidates() -> None:
    index = EngramIndex()
    index.upsert(engram("a", 1, 0, 0))
    index.upsert(engram("b", 1, 1, 0))  # cos 0.707
    index.upsert(engram("c", 0, 0, 1))  # cos 0: no activation, not a candidate
    assert ranked(index, unit(1, 0, 0), k=50) == [
        ("a", pytest.approx(AT_HALF)),
        ("b", pytest.approx(AT_HALF * 2**-0.5, abs=1e-3)),  # cosines in half precision
    ]


def test_top_k_and_memory_type() -> None:
    index = EngramIndex()
    for i in range(5):
        index.upsert(
            engram(
                f"e{i}",
                1,
                0.1 * i,
                memory_type=MemoryType.SEMANTIC if i % 2 else MemoryType.EPISODIC,
            )
        )
    assert [i for i, _ in ranked(index, unit(1, 0), k=2)] == ["e0", "e1"]
    assert [i for i, _ in ranked(index, unit(1, 0), k=0)] == []
    assert [i for i, _ in ranked(index, unit(1, 0), memory_type=MemoryType.SEMANTIC)] == [
        "e1",
        "e3",
    ]


def test_touch_refreshes_retention_inputs() -> None:
    index = EngramIndex(Settings(forgetting_law="exponential", stability_unit_hours=1.0))
    a = engram("a", 1, 0, last_accessed=T0 - 3600.0)
    index.upsert(a)
    assert ranked(index, unit(1, 0)) == [("a", pytest.approx(AT_HALF * (0.9 + 0.1 * np.exp(-1))))]
    a.last_accessed = T0
    assert ranked(index, unit(1, 0)) == [
        ("a", pytest.approx(AT_HALF * (0.9 + 0.1 * np.exp(-1))))
    ]  # not yet
    index.touch(a)
    assert ranked(index, unit(1, 0)) == [("a", pytest.approx(AT_HALF))]


def test_grows_past_initial_capacity() -> None:
    index = EngramIndex()
    for i in range(200):
        index.upsert(engram(f"e{i}", 1, i / 200))
    assert len(index) == 200
    assert ranked(index, unit(1, 0), k=1) == [("e0", pytest.approx(AT_HALF))]
    assert index.get("e199") is not None


def with_fragments(engram_id: str, own: np.ndarray, *fragments: np.ndarray) -> Engram:
    e = Engram(content=engram_id, engram_id=engram_id, embedding=own, last_accessed=T0)
    e.fragments = [f"{engram_id}#{i}" for i in range(len(fragments))]
    e.fragment_embeddings = np.concatenate([np.zeros(0), *fragments]).astype(np.float32)
    return e


def test_a_fragment_match_recalls_its_parent() -> None:
    index = EngramIndex()
    index.upsert(with_fragments("long", unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)))
    index.upsert(engram("other", 1, 1, 0))
    assert len(index) == 2
    results = ranked(index, unit(0, 0, 1))
    assert results == [("long", pytest.approx(AT_HALF))]  # the fragment's cosine, not the parent's
    scores = index.scores(unit(0, 0, 1), T0)
    [why] = index.explain(scores, ["long"])
    assert why.similarity == pytest.approx(1.0) and why.direct == pytest.approx(AT_HALF)


def test_removing_an_engram_removes_its_fragments() -> None:
    index = EngramIndex()
    index.upsert(with_fragments("long", unit(1, 0, 0), unit(0, 0, 1)))
    index.upsert(engram("other", 1, 1, 0))
    index.remove("long")
    assert ranked(index, unit(0, 0, 1)) == []
    index.upsert(with_fragments("long", unit(1, 0, 0)))  # back, without fragments
    assert ranked(index, unit(0, 0, 1)) == []


# --- a cue matched by meaning and by words, in episodes (SPEC 9) ----------------------------


def said(engram_id: str, content: str, *components: float, **fields: object) -> Engram:
    """An engram with real words, in episode "ep" unless told otherwise."""
    values = {"episode": "ep", "occurred_at": T0, **fields}
    return engram(engram_id, *components, content=content, **values)


def matched(index: EngramIndex, query: np.ndarray, cue: str, k: int = 10) -> list[str]:
    scores = index.scores(query, T0, terms(cue))
    return [e.engram_id for e, _ in index.top(scores, k)]


def test_the_cue_s_words_lift_an_engram_its_meaning_ranks_lower() -> None:
    index = EngramIndex()
    index.upsert(said("close", "we talked about the weather", 1, 0.1, 0))
    index.upsert(said("worded", "the plumber named Jorge fixed it", 1, 0.3, 0, episode="other"))
    index.upsert(said("far", "a recipe for soup", 0, 0, 1, episode="third"))
    assert matched(index, unit(1, 0, 0), "weather")[0] == "close"
    assert matched(index, unit(1, 0, 0), "who was Jorge")[0] == "worded"
    scores = index.scores(unit(1, 0, 0), T0, terms("who was Jorge"))
    worded, close = index.explain(scores, ["worded", "close"])
    assert worded.lexical > 0 and close.lexical == 0
    assert worded.semantic < close.semantic  # its meaning alone ranks it second
    assert worded.match == pytest.approx(
        worded.semantic + worded.lexical + worded.temporal + worded.context
    )


def test_a_strong_match_lifts_its_neighbours_in_time_within_its_episode() -> None:
    index = EngramIndex()
    for i, name in enumerate(["before", "hit", "after"]):  # one episode, in time order
        index.upsert(said(name, f"turn {name}", 0.2, 1, occurred_at=T0 + i))
    hit = index.get("hit")
    assert hit is not None
    hit.embedding = unit(1, 0.1)
    index.upsert(hit)
    index.upsert(said("elsewhere", "turn elsewhere", 0.2, 1, episode="other"))
    scores = index.scores(unit(1, 0), T0)
    names = ["before", "hit", "after", "elsewhere"]
    why = dict(zip(names, index.explain(scores, names), strict=True))
    assert why["before"].temporal > 0 and why["after"].temporal > 0
    assert why["elsewhere"].temporal == 0 and why["hit"].temporal == 0
    ranking = matched(index, unit(1, 0), "")
    assert ranking[0] == "hit" and set(ranking[1:3]) == {"before", "after"}


def test_context_is_the_words_around_an_engram_in_its_episode() -> None:
    index = EngramIndex()
    index.upsert(said("a", "we booked the Lisbon flight", 1, 0, occurred_at=T0))
    index.upsert(said("b", "it leaves at dawn", 0, 1, occurred_at=T0 + 1))
    index.upsert(said("c", "it leaves at dawn", 0, 1, episode="x"))
    scores = index.scores(unit(0, 1), T0, terms("Lisbon dawn"))
    b, c = index.explain(scores, ["b", "c"])
    assert b.context > c.context > 0  # b's context also says Lisbon; c's only dawn


def test_an_unrelated_cue_activates_nothing() -> None:
    index = EngramIndex()
    index.upsert(said("a", "the boiler was serviced", 1, 0, 0))
    index.upsert(said("b", "the fence was painted", 0.9, 0.1, 0))
    assert matched(index, unit(0, 0, 1), "quarterly revenue") == []


def test_top_keeps_an_occurred_at_window() -> None:
    index = EngramIndex()
    for i in range(5):
        index.upsert(said(f"e{i}", "the same words", 1, 0, occurred_at=T0 - i * 100))
    scores = index.scores(unit(1, 0), T0, terms("same words"))
    assert {e.engram_id for e, _ in index.top(scores, 10, since=T0 - 200)} == {"e0", "e1", "e2"}
    assert {e.engram_id for e, _ in index.top(scores, 10, until=T0 - 300)} == {"e3", "e4"}
    window = index.top(scores, 10, since=T0 - 300, until=T0 - 100)
    assert {e.engram_id for e, _ in window} == {"e1", "e2", "e3"}


def test_each_embedding_is_held_once_and_an_engram_changes_only_through_the_index() -> None:
    index = EngramIndex()
    vectors = [unit(1, i / 300, 0) for i in range(300)]
    for i, vector in enumerate(vectors):  # the matrix grows several times meanwhile
        index.upsert(engram(f"e{i}", *vector, associations=[(f"e{i - 1}", 0.5)]))
    index.upsert(with_fragments("long", unit(0, 0, 1), unit(0, 1, 0), unit(1, 0, 1)))
    for engram_id in ("e0", "e299", "long"):  # kept without embeddings: its rows hold them
        kept = index._engrams[engram_id]  # nor field names
        assert b"embedding" not in kept and b"content" not in kept and len(kept) < 120
    assert b"e6" not in index._engrams["e7"]  # a link to an indexed engram: kept as its row
    long = index.get("long")
    assert long is not None and long.fragments == ["long#0", "long#1"]
    half = np.r_[unit(0, 1, 0), unit(1, 0, 1)].astype(np.float16)  # held in half precision
    np.testing.assert_array_equal(long.fragment_embeddings, half)
    e7 = index.get("e7")
    assert e7 is not None and e7.associations == [("e6", 0.5)]
    assert e7.embedding.dtype == np.float32
    np.testing.assert_array_equal(e7.embedding, vectors[7].astype(np.float16))
    e7.access_count = 5
    assert index.get("e7").access_count == 0  # a copy
    index.touch(e7)
    assert index.get("e7").access_count == 5
    e7.embedding[:] = 0.0
    assert not np.shares_memory(e7.embedding, index._vectors)


def test_links_read_back_whatever_became_of_their_targets() -> None:
    index = EngramIndex()
    links = [("b", 0.5), ("gone", 0.25), ("never", 0.75)]
    index.upsert(engram("gone", 0, 1))
    index.upsert(engram("b", 1, 1))
    index.upsert(engram("a", 1, 0, associations=links))
    index.remove("gone")  # its row is dropped; the link to it is not
    assert index.get("a").associations == links
    assert index._edge_arrays()[2].tolist() == [0.5]  # edges only between indexed engrams
    index.upsert(engram("gone", 0, 1))  # back, in a row of its own
    assert index.get("a").associations == links
    assert sorted(index._edge_arrays()[2].tolist()) == [0.25, 0.5]
    for i in range(200):  # holes past half the matrix: compacted, rows renumbered
        index.upsert(engram(f"x{i}", 1, 0))
    for i in range(200):
        index.remove(f"x{i}")
    assert len(index._ids) < 100  # compacted
    assert index.get("a").associations == links
    assert sorted(index._edge_arrays()[2].tolist()) == [0.25, 0.5]


def test_cosines_in_half_precision_rank_as_exact_float32_ones() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(300, 48)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = EngramIndex()
    index.reserve(300)
    for i, vector in enumerate(vectors):
        index.upsert(engram(f"e{i}", *vector))
    assert index._vectors.shape == (300, 48)  # reserved: grown once, to the size asked
    for query in vectors[:20] + 0.3 * rng.normal(size=(20, 48)).astype(np.float32):
        query /= np.linalg.norm(query)
        exact = vectors @ query
        similarity = index.scores(query, T0).similarity
        np.testing.assert_allclose(similarity, exact, atol=2e-3)
        assert np.argsort(-similarity)[:10].tolist() == np.argsort(-exact)[:10].tolist()
    with pytest.raises(ValueError, match="one brain must use one encoder model"):
        index.scores(unit(1, 0), T0)
    index.upsert(engram("extra", *vectors[0]))
    assert index._vectors.shape == (375, 48)  # past the reservation: by a quarter


def words_engram(i: int, **fields: object) -> Engram:
    words = ["apple", "river", "stone", "cloud", "ember", "violin"]
    content = f"{words[i % 6]} {words[(i * 7) % 6]} note{i} {words[(i // 3) % 6]}"
    vector = np.cos(np.arange(4) * (i + 1)).astype(np.float32)
    links = [(f"w{j}", 0.5) for j in (i - 1, i + 1, i + 40)]
    values = {"content": content, "episode": f"ep{i // 8}", "occurred_at": T0 + i, **fields}
    return engram(f"w{i}", *vector, associations=links, **values)


def test_an_index_after_removals_and_changes_scores_as_one_built_afresh() -> None:
    changed, kept = EngramIndex(), EngramIndex()
    for i in range(60):
        changed.upsert(words_engram(i))
    for i in range(0, 60, 3):
        changed.remove(f"w{i}")  # rows, words, links and episodes dropped
    for i in range(1, 60, 6):
        changed.upsert(words_engram(i, content=f"ember violin moved{i}"))  # words replaced
    for i in range(60):
        if i % 3:
            kept.upsert(
                words_engram(i, content=f"ember violin moved{i}") if i % 6 == 1 else words_engram(i)
            )
    query = unit(1, 0.5, 0, 0.2)
    cue = terms("ember violin note7 moved13")
    got, want = changed.scores(query, T0 + 100, cue), kept.scores(query, T0 + 100, cue)
    for name in ("similarity", "lexical", "temporal", "context", "direct", "activation"):
        for i in (i for i in range(60) if i % 3):
            a, b = getattr(got, name), getattr(want, name)
            assert a[changed._row[f"w{i}"]] == pytest.approx(b[kept._row[f"w{i}"]]), (name, i)
    assert [e.engram_id for e, _ in changed.top(got, 10)] == [
        e.engram_id for e, _ in kept.top(want, 10)
    ]


@pytest.mark.parametrize("sparse", [False, True])
def test_a_context_is_the_engrams_within_reach_in_the_same_episode(
    sparse: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pooled at the few positions a few rows reach (``sparse``), or at every position by one
    cumulative sum: the same sums."""
    monkeypatch.setattr(index_module, "SPARSE_AT_MOST", 0 if sparse else 10**9)
    index = EngramIndex(Settings(context_reach=2))
    order = [3, 0, 7, 1, 9, 4, 2, 8, 6, 5]  # rows indexed out of time order
    for i in order:
        episode = "long" if i < 8 else "short"
        index.upsert(engram(f"t{i}", 1, i, content=f"t{i}", episode=episode, occurred_at=T0 + i))
    index.remove("t6")
    index.upsert(with_fragments("frag", unit(0, 1), unit(1, 1)))  # alone, in no episode
    timeline = index._sequence()
    rows = np.arange(len(index._ids))
    positions, sums = timeline.pooled_at(rows, np.ones(rows.size))
    pooled = dict(zip(timeline.rows[positions].tolist(), sums.tolist(), strict=True))
    sizes = {i: pooled[index._row[f"t{i}"]] for i in order if i != 6}
    # long: t0..t5, t7 (t6 removed); short: t8, t9
    assert sizes == {0: 3, 1: 4, 2: 5, 3: 5, 4: 5, 5: 4, 7: 3, 8: 2, 9: 2}
    assert pooled[index._row["frag"]] == 1 and index._row["frag#0"] not in pooled
    t2, t8 = index._row["t2"], index._row["t8"]  # what two rows alone reach
    positions, sums = timeline.pooled_at(np.array([t2, t8]), np.array([1.0, 10.0]))
    reached = dict(zip(timeline.rows[positions].tolist(), sums.tolist(), strict=True))
    if sparse:
        assert reached == {index._row[f"t{i}"]: 1.0 for i in (0, 1, 2, 3, 4)} | {
            index._row["t8"]: 10.0,
            index._row["t9"]: 10.0,
        }
    else:
        assert {r: v for r, v in reached.items() if v} == {
            index._row[f"t{i}"]: 1.0 for i in (0, 1, 2, 3, 4)
        } | {index._row["t8"]: 10.0, index._row["t9"]: 10.0}


def test_context_sums_past_32_bits_are_exact() -> None:
    index = EngramIndex(Settings(context_reach=1))
    for i in range(3):
        index.upsert(engram(f"b{i}", 1, i, episode="big", occurred_at=T0 + i))
    timeline = index._sequence()
    counts = np.full(len(index._ids), 2**30 + 1, dtype=np.int32)
    _, sums = timeline.pooled_at(slice(None), counts)
    assert sums.tolist() == [2 * (2**30 + 1), 3 * (2**30 + 1), 2 * (2**30 + 1)]


@pytest.mark.parametrize("sparse", [False, True])
def test_both_bm25_parts_are_those_of_the_documents_written_out(
    sparse: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After engrams come out of order, change their words and go, each row's lexical and
    context BM25 equal BM25 over its words, and over its context's words joined, written out
    (scored at the rows the postings reach, or everywhere)."""
    monkeypatch.setattr(index_module, "SPARSE_AT_MOST", 0 if sparse else 10**9)
    rng = np.random.default_rng(7)
    words = ["apple", "boiler", "cedar", "dune", "ember", "fjord", "gravel", "harbor"]
    reach = 2
    index = EngramIndex(Settings(context_reach=reach))
    texts: dict[str, tuple[str, int, float]] = {}  # id -> content, episode, time
    for step in range(120):
        i = int(rng.integers(40))
        if step % 7 == 6 and f"w{i}" in texts:
            index.remove(f"w{i}")
            del texts[f"w{i}"]
            continue
        content = " ".join(rng.choice(words, int(rng.integers(1, 6))))
        where = texts.get(f"w{i}", (content, int(rng.integers(4)), float(rng.random())))
        texts[f"w{i}"] = (content, where[1], where[2])
        index.upsert(
            engram(f"w{i}", 1, i, content=content, episode=f"ep{where[1]}", occurred_at=where[2])
        )
    cue = terms("apple dune harbor harbor")
    n = len(index._ids)
    lexical, context = index._by_words(cue, index._sequence(), n)
    ids = sorted(texts, key=lambda e: (texts[e][1], texts[e][2]))
    joined = {
        e: " ".join(
            texts[o][0]
            for k, o in enumerate(ids)
            if texts[o][1] == texts[e][1] and abs(k - ids.index(e)) <= reach
        )
        for e in ids
    }
    for part, documents in ((lexical, {e: texts[e][0] for e in ids}), (context, joined)):
        written = BM25(k1=index.settings.bm25_k1, b=index.settings.bm25_b)
        vocabulary = Vocabulary()
        for e in ids:
            written.add(index._row[e], term_counts(documents[e]))
            vocabulary.count(term_counts(texts[e][0]), +1)  # idf: over the engrams' own words
        want = written.scores(cue, vocabulary, n)
        assert part == pytest.approx(want, rel=1e-12, abs=1e-12)
        assert part.max() > 0


def test_a_big_index_scores_meaning_on_a_second_thread_to_the_same_scores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = EngramIndex()
    rng = np.random.default_rng(3)
    for i in range(60):
        content = " ".join(rng.choice(["kiln", "moss", "quay", "reef", "silt"], 3))
        vector = rng.normal(size=8)
        index.upsert(
            engram(f"s{i}", *vector, content=content, episode=f"ep{i % 4}", occurred_at=T0 + i)
        )
    cue = unit(*rng.normal(size=8))
    alone = index.scores(cue, T0 + 3600, terms("moss reef"))
    threads = []
    by_meaning = index._by_meaning

    def recorded(*args: object) -> object:
        threads.append(threading.current_thread())
        return by_meaning(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(index, "_by_meaning", recorded)
    monkeypatch.setattr(index_module, "BESIDE_FROM", 0)
    beside = index.scores(cue, T0 + 3600, terms("moss reef"))
    assert threads and threads[0] is not threading.current_thread()
    for name in ("similarity", "lexical", "context", "retention", "activation"):
        assert getattr(beside, name).tolist() == getattr(alone, name).tolist()
    assert beside.context.max() > 0


def test_preparing_scores_each_cues_words_on_another_thread_by_the_end_of_the_block() -> None:
    index = EngramIndex()
    for i in range(12):
        index.upsert(engram(f"p{i}", 1, i % 5, content=f"kiln {i % 3} moss", episode="e"))
    cues, now = [terms("kiln moss"), terms("moss 2")], T0 + 60
    threads = []
    release = threading.Event()
    prepare = index.prepare

    def slow(words: Sequence[str], at: float) -> None:
        threads.append(threading.current_thread())
        release.wait(5)  # still running when the block ends: the end waits for it
        prepare(words, at)

    index.prepare = slow  # type: ignore[method-assign]
    with index.preparing(cues, now):
        release.set()
    assert set(index._prepared) == {tuple(c) for c in cues}
    assert threads and all(t is not threading.current_thread() for t in threads)
    for words in cues:
        prepared = index.scores(unit(1, 2), now, words)
        assert (
            prepared.activation.tolist() == index.scores(unit(1, 2), now, words).activation.tolist()
        )


def test_words_prepared_before_the_cue_is_encoded_score_the_same_until_the_index_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(index_module, "BESIDE_FROM", 0)  # cosines on two threads, prepared
    index = EngramIndex()
    for i in range(30):
        index.upsert(engram(f"p{i}", 1, i % 7, content=f"kiln {i % 3} moss", episode=f"e{i % 3}"))
    cue, words, now = unit(1, 2), terms("kiln moss"), T0 + 60
    index.prepare(words, now)
    prepared = index.scores(cue, now, words)
    assert not index._prepared  # used once
    fresh = index.scores(cue, now, words)
    for name in ("similarity", "lexical", "context", "retention", "activation"):
        assert getattr(prepared, name).tolist() == getattr(fresh, name).tolist()
    index.prepare(words, now)  # the retentions of another moment are not used
    later = index.scores(cue, now + 86_400, words)
    assert later.retention.tolist() == index.scores(cue, now + 86_400, words).retention.tolist()
    assert later.retention.max() < prepared.retention.max()
    index.prepare(words, now)
    recalled = index.get("p3")
    assert recalled is not None
    recalled.last_accessed, recalled.stability = now, 1_000.0  # LTP
    index.touch(recalled)
    assert index.scores(cue, now, words).retention[index._row["p3"]] == 1.0
    index.prepare(words, now)
    index.upsert(engram("late", 1, 1, content="kiln kiln moss", episode="e1"))  # changes it
    changed = index.scores(cue, now, words)
    assert changed.lexical[index._row["late"]] == changed.lexical.max() > 0


# --- similar: supersession's candidates -----------------------------------------------------


@pytest.mark.parametrize("sifted", [False, True])
def test_similar_finds_the_same_engrams_for_one_vector_or_a_batch(
    sifted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch is scored by the packed product (``sifted``: first sifted by the bfloat16 one,
    as on a CPU with AMX tiles), one vector alone by cdist: both find the closest live engrams
    (never a fragment, never a removed one), at most ``limit`` each, with the cosine of an
    exact float32 product."""
    monkeypatch.setattr(index_module, "ROUGH_FROM", PACKED_FROM if sifted else 10**9)
    monkeypatch.setattr(index_module, "has_amx", lambda: True)
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((6, 32)).astype(np.float32)
    vectors = [unit(*(centres[i % 6] + 0.5 * rng.standard_normal(32))) for i in range(300)]
    index = EngramIndex()
    for i, vector in enumerate(vectors):
        index.upsert(
            with_fragments(f"e{i}", vector, vector) if i % 10 == 0 else engram_of(i, vector)
        )
    removed = {f"e{i}" for i in range(0, 300, 7)}
    for engram_id in removed:
        index.remove(engram_id)
    cues = np.stack([unit(*centre) for centre in centres] + [vectors[7], vectors[10]])
    alone = [index.similar(cue[None, :], threshold=0.5, limit=300)[0] for cue in cues]
    every = index.similar(cues, threshold=0.5, limit=300)
    closest = index.similar(cues, threshold=0.5, limit=5)
    rows = np.stack([index.get(f"e{i}").embedding for i in range(300) if f"e{i}" not in removed])
    halves = cues.astype(np.float16).astype(np.float32)  # both products take half cues
    exact = halves @ rows.T
    for cue, found, single, best, cosines in zip(halves, closest, alone, every, exact, strict=True):
        ids = {e.engram_id for e, _ in best}
        assert ids == {e.engram_id for e, _ in single} and len(ids) > 5
        assert not removed & ids and all("#" not in i for i in ids)
        assert len(found) == 5 and {e.engram_id for e, _ in found} <= ids
        for e, similarity in found:
            assert similarity == pytest.approx(float(e.embedding @ cue), abs=1e-5)
        assert min(s for _, s in found) == pytest.approx(np.sort(cosines)[-5], abs=1e-5)


def test_similar_among_the_engrams_holding_a_term_finds_those_every_row_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sought among the engrams holding one of some terms (compared alone, or with every row
    when too many hold them), a vector finds exactly the engrams holding one of them that a
    search of every row finds, beside a vector searched the whole way in the same batch; with
    no term, none."""
    monkeypatch.setattr(index_module, "AMONG_AT_MOST", 16)
    rng = np.random.default_rng(21)
    centre = rng.standard_normal(32).astype(np.float32)
    index = EngramIndex()
    for i in range(400):
        vector = unit(*(centre + 0.6 * rng.standard_normal(32)))
        content = f"item {i} tag{i % 7} group{i % 50}"
        index.upsert(Engram(content=content, engram_id=f"e{i}", embedding=vector))
    index.remove("e3")  # held group3, and is gone
    cues = np.stack([unit(*(centre + 0.3 * rng.standard_normal(32))) for _ in range(4)])
    # group3 and group17: 15 rows, compared alone; tag3: 1/7 of the rows, so every row
    holding: list[list[str] | None] = [["group3", "group17"], ["tag3"], None, []]
    every = index.similar(cues, threshold=0.5, limit=400)
    sought = index.similar(cues, threshold=0.5, limit=400, holding=holding)
    holders = {f"e{i}" for i in range(400) if i % 50 in (3, 17)} - {"e3"}
    ids = [{e.engram_id for e, _ in found} for found in sought]
    assert ids[0] == {e.engram_id for e, _ in every[0]} & holders and ids[0]
    assert ids[1] == {e.engram_id for e, _ in every[1]} and len(ids[1]) > 50
    assert ids[2] == {e.engram_id for e, _ in every[2]}
    assert ids[3] == set()
    assert index.compared(holding) == 15 + 2 * len(index._ids)  # every row: the gone one too
    for cue, found in zip(cues, sought, strict=True):
        for e, similarity in found:
            assert similarity == pytest.approx(float(e.embedding @ cue), abs=2e-3)


def test_rough_matches_are_the_float16_products_within_their_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Chunk by chunk (here several), every eligible pair whose float16 cosine is at least
    the floor plus bfloat16's error is matched, none below the floor less it, and no row that
    is not eligible."""
    monkeypatch.setattr(index_module, "ROUGH_CHUNK", 512)
    rng = np.random.default_rng(5)
    rows = rng.standard_normal((3000, 384)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    cues = rows[:40] + 0.2 * rng.standard_normal((40, 384)).astype(np.float32)
    cues /= np.linalg.norm(cues, axis=1, keepdims=True)
    half, eligible, floor = rows.astype(np.float16), rng.random(3000) > 0.2, 0.05
    exact = packed_cosines(half, cues)

    def pairs(above: float) -> set[tuple[int, int]]:
        return {(r, c) for r, c in zip(*np.nonzero(exact >= above), strict=True) if eligible[r]}

    found, cued = rough_matches(half, cues, floor, eligible)
    matched = set(zip(found.tolist(), cued.tolist(), strict=True))
    assert len(matched) == found.size  # each pair once
    assert pairs(floor + ROUGH_ERROR / 2) <= matched <= pairs(floor - ROUGH_ERROR / 2)
    assert pairs(floor + ROUGH_ERROR / 2) != pairs(floor - ROUGH_ERROR / 2)  # pairs at the edge


def test_sifting_by_rough_cosines_loses_no_engram_at_the_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Many cosines lie within bfloat16's error of the threshold: the sifted batch finds the
    same engrams, with the same cosines, as the packed product alone."""
    rng = np.random.default_rng(8)
    vectors = rng.standard_normal((2000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = EngramIndex()
    for i, vector in enumerate(vectors):
        index.upsert(engram_of(i, vector))
    cues = vectors[:40]
    monkeypatch.setattr(index_module, "has_amx", lambda: True)
    found = {}
    for sifted in (False, True):
        monkeypatch.setattr(index_module, "ROUGH_FROM", PACKED_FROM if sifted else 10**9)
        found[sifted] = [
            {e.engram_id: s for e, s in hits} for hits in index.similar(cues, 0.15, limit=2000)
        ]
    for packed, sifted in zip(found[False], found[True], strict=True):
        assert packed.keys() == sifted.keys() and len(packed) > 100
        assert all(sifted[i] == pytest.approx(c, abs=1e-5) for i, c in packed.items())


def test_the_rows_weakened_are_those_an_indexed_engram_supersedes() -> None:
    """Kept as engrams come, are marked superseded (by engrams indexed already, later or
    never), go and are compacted away: the rows weakened are always those whose superseder
    is indexed, and a recall weighs exactly those by ``superseded_weight``."""
    rng = np.random.default_rng(11)
    index, ids = EngramIndex(), [f"e{i}" for i in range(400)]
    for step in range(1500):
        engram_id = ids[int(rng.integers(len(ids)))]
        if rng.random() < 0.3:
            index.remove(engram_id)
            continue
        fields: dict[str, object] = {}
        if rng.random() < 0.5:
            fields["context"] = {"superseded_by": ids[int(rng.integers(len(ids)))]}
        index.upsert(engram(engram_id, *rng.standard_normal(8), **fields))
        if step % 100 == 0:
            n = len(index._ids)
            expected = {row for row, by in index._superseded_by.items() if by in index}
            assert set(np.flatnonzero(index._weakened[:n]).tolist()) == expected
    expected = {row for row, by in index._superseded_by.items() if by in index}
    assert len(expected) > 20
    plain = EngramIndex(Settings(superseded_weight=1.0))
    for kept in index:
        plain.upsert(kept)
    scores, unweighed = index.scores(unit(*[1.0] * 8), T0), plain.scores(unit(*[1.0] * 8), T0)
    for engram_id, row in index._row.items():
        factor = 0.5 if row in expected else 1.0
        assert scores.direct[row] == pytest.approx(
            factor * unweighed.direct[plain._row[engram_id]], rel=1e-5
        )


def engram_of(i: int, vector: np.ndarray) -> Engram:
    return Engram(content=f"e{i}", engram_id=f"e{i}", embedding=vector, last_accessed=T0)


# --- association edges, kept up to date ---------------------------------------------------


@pytest.mark.parametrize("at_most", [3, index_module.RELINK_AT_MOST])
def test_edges_follow_engrams_that_come_change_their_links_and_go(
    at_most: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After any sequence of upserts (new links, links to engrams not indexed yet), removals
    and returns, between recalls or not, the edges a recall spreads over are exactly those
    the indexed engrams' associations give: derived again for the engrams that changed, or
    for all after more than ``RELINK_AT_MOST`` changes."""
    monkeypatch.setattr(index_module, "RELINK_AT_MOST", at_most)
    rng = np.random.default_rng(11)
    ids = [f"e{i}" for i in range(40)]
    index = EngramIndex()
    for step in range(400):
        engram_id = ids[rng.integers(len(ids))]
        if engram_id in index and rng.random() < 0.25:
            index.remove(engram_id)
        else:
            targets = rng.choice(ids, size=rng.integers(0, 4), replace=False)
            links = [(str(t), float(rng.uniform(0.1, 1.0))) for t in targets if t != engram_id]
            index.upsert(engram(engram_id, 1, float(rng.random()), associations=links))
        if step % 3 == 0:
            assert spread_edges(index) == derived_edges(index), f"step {step}"
    assert spread_edges(index) == derived_edges(index)


def spread_edges(index: EngramIndex) -> Counter[tuple[str, str, float]]:
    src, dst, weight = index._edge_arrays()
    return Counter(
        (index._ids[s], index._ids[d], w) for s, d, w in zip(src, dst, weight, strict=True) if w
    )


def derived_edges(index: EngramIndex) -> Counter[tuple[str, str, float]]:
    return Counter(
        (e.engram_id, target, w) for e in index for target, w in e.associations if target in index
    )


def test_a_new_engram_joins_the_timeline_as_a_rebuild_would_place_it() -> None:
    """Engrams perceived one after another (now and then one that occurred earlier, or
    alone, or with fragments), some then put in an episode, scored between arrivals: the
    timeline each change leaves is the one a rebuild gives, neighbours, contexts and their
    lengths alike."""
    rng = np.random.default_rng(4)
    index = EngramIndex(Settings(context_reach=2))
    for i in range(120):
        episode = "" if rng.random() < 0.1 else f"ep{rng.integers(6)}"
        occurred = T0 + i - (50 if rng.random() < 0.1 else 0)
        words = " ".join(f"w{j}" for j in rng.integers(0, 30, size=rng.integers(1, 6)))
        made = engram(f"t{i}", 1, float(i), content=words, episode=episode, occurred_at=occurred)
        index.upsert(
            with_fragments(f"t{i}", made.embedding, made.embedding) if i % 17 == 0 else made
        )
        if rng.random() < 0.05:
            index.remove(f"t{rng.integers(i + 1)}")
        if (moving := index.get(f"t{rng.integers(i + 1)}")) is not None and rng.random() < 0.3:
            moving.episode = f"ep{rng.integers(6)}"  # as linking places an engram
            index.upsert(moving)
        kept = index._sequence()
        index._timeline = None
        rebuilt = index._sequence()
        for name in ("rows", "episodes", "before", "after", "low", "high"):
            assert getattr(kept, name).tolist() == getattr(rebuilt, name).tolist(), (i, name)
        assert np.allclose(kept.context_lengths, rebuilt.context_lengths), i
        assert kept.context_average == pytest.approx(rebuilt.context_average), i
        index._timeline = kept  # the next arrival goes on from the one kept


def test_an_engram_indexed_again_with_new_fragments_is_still_scored() -> None:
    """Its content and fragments changed, not its place in time (an import embedding it
    anew): the new fragment rows reach every part of the next recall."""
    index = EngramIndex()
    index.upsert(engram("a", 1, 0, content="alpha beta", episode="e", occurred_at=T0))
    index.upsert(engram("b", 0, 1, content="gamma", episode="e", occurred_at=T0 + 1))
    assert [i for i, _ in ranked(index, unit(1, 0))] == ["a", "b"]
    longer = with_fragments("a", unit(1, 0), unit(0, 1))
    longer.content, longer.episode, longer.occurred_at = "alpha beta", "e", T0
    index.upsert(longer)
    assert {i for i, _ in ranked(index, unit(0, 1))} == {"a", "b"}  # "a" by its fragment


def test_a_ranking_spreads_only_as_far_as_its_top_needs() -> None:
    rng = np.random.default_rng(11)
    index = EngramIndex()
    types, vectors = list(MemoryType), []
    for i in range(400):  # linked to neighbours, as the Hippocampus links recent engrams
        links = [(f"e{j}", float(rng.uniform(0.35, 1.0))) for j in range(i - 3, i + 4) if j != i]
        vectors.append(rng.normal(size=8))
        index.upsert(
            engram(
                f"e{i}",
                *vectors[-1],
                associations=links,
                memory_type=types[i % len(types)],
                occurred_at=T0 - i,
                salience=float(rng.random()),
            )
        )
    differed = 0
    for trial in range(60):
        query = unit(*vectors[int(rng.integers(0, 400))] + rng.normal(size=8) / 4)
        since = T0 - float(rng.integers(100, 400)) if trial % 3 == 1 else None
        until = T0 - float(rng.integers(0, 100)) if trial % 4 == 1 else None
        memory_type = types[trial % len(types)] if trial % 3 == 2 else None
        ranking = Ranking(int(rng.integers(1, 30)), memory_type, since, until)
        full = index.scores(query, T0)
        spread = index.scores(query, T0, ranking=ranking)
        want = [(e.engram_id, s) for e, s in index.top(full, *ranking)]
        assert [(e.engram_id, s) for e, s in index.top(spread, *ranking)] == want, trial
        differed += int((spread.activation < full.activation).sum())
    assert differed  # activations left short of the full spread where they cannot rank


def test_a_cosine_never_passes_one() -> None:
    vector = np.full(384, 1.0, dtype=np.float32)
    vector[::3] = 1.0007  # its float16 rounding (1.0 and 1.0009766) is longer than 1 as a unit
    vector /= np.linalg.norm(vector)
    half = vector.astype(np.float16).astype(np.float64)
    assert half @ half > 1.0 + 1e-5  # as the index holds it, it would pass 1 with itself
    index = EngramIndex()
    index.upsert(Engram(engram_id="a", content="a", embedding=vector, last_accessed=T0))
    assert index.scores(vector, T0).similarity.tolist() == [1.0]
