"""EdgeList: association edges as flat arrays, changed in place."""

from __future__ import annotations

from neurram.edges import EdgeList


def edges(links: EdgeList) -> list[tuple[int, int, float]]:
    src, dst, weight = links.arrays()
    return [(int(s), int(d), float(w)) for s, d, w in zip(src, dst, weight, strict=True) if w]


def test_added_edges_are_read_back_in_order_and_grow_past_any_capacity() -> None:
    links = EdgeList()
    for start in range(0, 300, 7):
        rows = list(range(start, start + 7))
        links.add(rows, [r + 1 for r in rows], [r / 1000 for r in rows])
    assert len(links) == 301 and edges(links)[:2] == [(1, 2, 0.001), (2, 3, 0.002)]
    assert edges(links)[-1] == (300, 301, 0.3)


def test_clearing_zeroes_only_the_edges_from_the_rows_and_compacts_past_half() -> None:
    links = EdgeList()
    links.add([0, 0, 1, 2, 3], [1, 2, 0, 0, 0], [0.5, 0.6, 0.7, 0.8, 0.9])
    links.clear([0], size=4)
    assert edges(links) == [(1, 0, 0.7), (2, 0, 0.8), (3, 0, 0.9)] and len(links) == 5
    assert links.sources_into([0], size=4).tolist() == [1, 2, 3]
    links.clear([1], size=4)  # 3 of 5 zeroed: compacted
    assert len(links) == 2 and edges(links) == [(2, 0, 0.8), (3, 0, 0.9)]
    links.clear([], size=4)
    assert links.sources_into([1], size=4).tolist() == []


def test_strongest_bounds_every_weight_and_is_exact_again_once_compacted() -> None:
    links = EdgeList()
    assert links.strongest == 0.0
    links.add([0, 1], [1, 0], [0.4, 0.9])
    links.add([2], [0], [0.5])
    assert links.strongest == 0.9
    links.clear([1], size=3)  # the heaviest zeroed: still a bound, not yet exact
    assert links.strongest >= max(w for _, _, w in edges(links))
    links.clear([0], size=3)  # 2 of 3 zeroed: compacted
    assert edges(links) == [(2, 0, 0.5)] and links.strongest == 0.5
