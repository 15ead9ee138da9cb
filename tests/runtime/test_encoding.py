"""A host's encoding queue: one encoding at a time, requests waiting meanwhile merged."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from neurram.encoder import Matrix
from neurram.runtime.encoding import EncodingQueue


class Recorder:
    """Encodes a text as [its length]; the first call waits for ``go``; records each call."""

    dim = 1

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.started = threading.Event()
        self.go = threading.Event()
        self.running = 0
        self.most_at_once = 0

    def encode(self, texts: Sequence[str]) -> Matrix:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        self.calls.append(list(texts))
        self.started.set()
        self.go.wait(5)
        self.running -= 1
        if "poison" in texts:
            raise RuntimeError("cannot encode")
        return np.array([[len(t)] for t in texts], dtype=np.float32)


async def behind_a(
    queue: EncodingQueue, encoder: Recorder, *requests: list[str]
) -> tuple[asyncio.Task[Matrix], list[asyncio.Task[Matrix]]]:
    """Start encoding ["a"] and, while it is encoded, queue ``requests`` (tasks of both)."""
    first = asyncio.create_task(queue.encode(["a"]))
    await asyncio.to_thread(encoder.started.wait, 5)
    rest = [asyncio.create_task(queue.encode(texts)) for texts in requests]
    await asyncio.sleep(0)  # one turn: each task queues its request
    return first, rest


async def test_requests_waiting_meanwhile_are_encoded_in_one_call_and_answered_apart() -> None:
    encoder = Recorder()
    queue = EncodingQueue(encoder, max_texts=4)
    first, rest = await behind_a(queue, encoder, ["bb", "ccc"], ["dddd"], ["ee", "f"])
    encoder.go.set()
    answers = await asyncio.gather(first, *rest)
    assert [a[:, 0].tolist() for a in answers] == [[1], [2, 3], [4], [2, 1]]
    assert encoder.calls == [["a"], ["bb", "ccc", "dddd"], ["ee", "f"]]  # at most 4 texts
    assert encoder.most_at_once == 1


async def test_a_failed_encoding_fails_each_request_of_its_batch_only() -> None:
    encoder = Recorder()
    queue = EncodingQueue(encoder)
    first, (poisoned, merged) = await behind_a(queue, encoder, ["poison"], ["b"])
    encoder.go.set()
    assert (await first)[:, 0].tolist() == [1]
    for failed in (poisoned, merged):  # encoded in one call
        with pytest.raises(RuntimeError, match="cannot encode"):
            await failed
    assert (await queue.encode(["later"]))[:, 0].tolist() == [5]


async def test_the_last_request_is_encoded_even_behind_a_full_batch() -> None:
    encoder = Recorder()
    encoder.go.set()
    queue = EncodingQueue(encoder, max_texts=2)
    answers = await asyncio.gather(*(queue.encode([str(n) * n]) for n in (1, 2, 3, 4, 5)))
    assert [a[:, 0].tolist() for a in answers] == [[1], [2], [3], [4], [5]]
    assert all(len(call) <= 2 for call in encoder.calls)


async def test_a_caller_that_gives_up_neither_stops_the_others_nor_is_encoded() -> None:
    encoder = Recorder()
    queue = EncodingQueue(encoder)
    first, (quitter, waiter) = await behind_a(queue, encoder, ["quitter"], ["waiter"])
    first.cancel()  # the caller whose request is being encoded gives up, and another waiting
    quitter.cancel()
    encoder.go.set()
    assert (await waiter)[:, 0].tolist() == [6]
    assert encoder.calls == [["a"], ["waiter"]]
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_few_texts_are_encoded_on_the_loop_only_when_nothing_else_is_encoding() -> None:
    encoder = Recorder()
    queue = EncodingQueue(encoder, inline_texts=1)
    encoder.go.set()
    await queue.load()  # off the loop, whatever its size
    loop_thread = threading.get_ident()
    threads: list[int] = []
    encode = encoder.encode

    def recording(texts: Sequence[str]) -> Matrix:
        threads.append(threading.get_ident())
        return encode(texts)

    encoder.encode = recording  # type: ignore[method-assign]
    await queue.encode(["a"])
    await asyncio.gather(queue.encode(["bb", "c"]), queue.encode(["d"]))
    assert threads[0] == loop_thread  # alone and small: no thread hop
    assert threads[1] != loop_thread  # two texts: a worker thread...
    assert len(threads) == 2  # ...which took the one text that came meanwhile too


async def test_inline_says_which_requests_encode_on_the_loop() -> None:
    """A caller learns beforehand that a request will hold the loop (the Hippocampus then
    scores a cue's words beside it): a few texts, a loaded model, nothing encoding."""
    encoder = Recorder()
    queue = EncodingQueue(encoder, inline_texts=1)
    assert not queue.inline(["a"])  # the model is not loaded yet
    encoder.go.set()
    await queue.load()
    assert queue.inline(["a"]) and not queue.inline(["a", "b"])
    encoder.go.clear()
    encoder.started.clear()
    busy = asyncio.create_task(queue.encode(["aaa", "bb"]))
    await asyncio.to_thread(encoder.started.wait, 5)
    assert not queue.inline(["a"])  # something is encoding: it waits its turn
    encoder.go.set()
    await busy
    assert queue.inline(["a"])


class AloneRecorder(Recorder):
    """A Recorder that can encode alone too, recording which way each call went."""

    def __init__(self) -> None:
        super().__init__()
        self.ways: list[tuple[str, list[str]]] = []

    def encode(self, texts: Sequence[str]) -> Matrix:
        self.ways.append(("encode", list(texts)))
        return super().encode(texts)

    def encode_alone(self, texts: Sequence[str]) -> Matrix:
        self.ways.append(("alone", list(texts)))
        return super().encode(texts)


async def test_an_inline_encode_goes_alone_unless_its_caller_works_beside_it() -> None:
    """Loading warms both ways up; a few texts with nothing else encoding go alone (every
    core), unless the caller runs work beside them; queued requests never do."""
    encoder = AloneRecorder()
    encoder.go.set()
    queue = EncodingQueue(encoder, inline_texts=1)
    await queue.load()
    assert sorted(way for way, _ in encoder.ways) == ["alone", "encode"]
    encoder.ways.clear()
    await queue.encode(["a"])
    await queue.encode(["b"], beside=True)
    await queue.encode(["c", "d"])  # too many to encode inline
    assert encoder.ways == [("alone", ["a"]), ("encode", ["b"]), ("encode", ["c", "d"])]


async def test_an_encoder_without_an_alone_way_encodes_inline_as_usual() -> None:
    encoder = Recorder()
    encoder.go.set()
    queue = EncodingQueue(encoder, inline_texts=1)
    await queue.load()
    assert encoder.calls == [["warm up", "warm up"]]  # one warm-up: nothing else to load
    assert (await queue.encode(["abc"]))[:, 0].tolist() == [3]
