"""Lanes: woken namespaces are polled in turn, one worker per namespace at a time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from neurram.bus.lanes import HandOff, Lane, execute_handing_off

pytestmark = pytest.mark.asyncio


class Work:
    """Namespaces with ``left[ns]`` batches to take; records polls and overlapping ones."""

    def __init__(self, **left: int) -> None:
        self.left = dict(left)
        self.polls: list[str] = []
        self.active: set[str] = set()
        self.overlapped = False
        self.fail: dict[str, int] = {}  # namespace -> polls that raise first
        self.due: dict[str, float] = {}
        self.drained = asyncio.Event()

    async def poll(self, namespace: str) -> bool:
        self.overlapped |= namespace in self.active
        self.active.add(namespace)
        try:
            await asyncio.sleep(0)
            self.polls.append(namespace)
            if self.fail.get(namespace, 0) > 0:
                self.fail[namespace] -= 1
                raise RuntimeError("poll failed on purpose")
            if self.left.get(namespace, 0) > 0:
                self.left[namespace] -= 1
            if not any(self.left.values()):
                self.drained.set()
            return self.left.get(namespace, 0) > 0
        finally:
            self.active.discard(namespace)

    def next_due(self, namespace: str) -> float | None:
        return self.due.pop(namespace, None)


@contextlib.asynccontextmanager
async def serving(lane: Lane) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(lane.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_a_woken_namespace_is_polled_while_more_may_be_waiting() -> None:
    work = Work(a=3)
    lane = Lane("l", work.poll, work.next_due, workers=2)
    async with serving(lane):
        lane.wake("a")
        await asyncio.wait_for(work.drained.wait(), 5)
    assert work.left == {"a": 0}
    assert work.polls == ["a"] * 3  # three batches, the last one saying it was the last
    assert lane.waiting == 0


async def test_busy_namespaces_take_turns_and_are_never_polled_twice_at_once() -> None:
    work = Work(a=5, b=5, c=1)
    lane = Lane("l", work.poll, work.next_due, workers=3)
    async with serving(lane):
        for _ in range(3):  # woken again and again while being polled
            for namespace in "abc":
                lane.wake(namespace)
        await asyncio.wait_for(work.drained.wait(), 5)
    assert not work.overlapped
    assert work.left == {"a": 0, "b": 0, "c": 0}
    assert "c" in work.polls[:3]  # c was not kept waiting behind a's and b's batches


async def test_a_failing_poll_is_retried_after_a_backoff() -> None:
    work = Work(a=1)
    work.fail["a"] = 2
    lane = Lane("l", work.poll, work.next_due, workers=1)
    started = time.monotonic()
    async with serving(lane):
        lane.wake("a")
        await asyncio.wait_for(work.drained.wait(), 5)
    assert work.polls == ["a"] * 3  # two failures, then the batch
    assert time.monotonic() - started >= 0.1 + 0.2  # the backoff doubled


async def test_a_namespace_with_retries_due_is_woken_when_they_are() -> None:
    work = Work(a=0)
    work.due["a"] = time.monotonic() + 0.05
    lane = Lane("l", work.poll, work.next_due, workers=1)
    async with serving(lane):
        lane.wake("a")
        await asyncio.wait_for(work.drained.wait(), 5)
        work.drained.clear()
        await asyncio.wait_for(work.drained.wait(), 5)  # the timer woke it
    assert work.polls == ["a", "a"]


async def test_the_longest_wait_is_of_the_oldest_wake_not_yet_served() -> None:
    started, release, both = asyncio.Event(), asyncio.Event(), asyncio.Event()
    polled: list[str] = []

    async def poll(namespace: str) -> bool:
        polled.append(namespace)
        started.set()
        await release.wait()
        if len(polled) == 2:
            both.set()
        return False

    lane = Lane("test", poll, lambda _: None, workers=1)
    assert lane.longest_wait(time.monotonic()) == 0.0  # none woken
    lane.wake("a")
    between = time.monotonic()
    lane.wake("b")
    lane.wake("a")  # woken again: it keeps its first time
    assert lane.longest_wait(between + 10.0) > 10.0  # a's, not b's (<= 10)
    async with serving(lane):
        await started.wait()
        assert polled == ["a"] and lane.waiting == 1
        assert lane.longest_wait(between + 10.0) > 10.0  # a is polled, not yet served
        release.set()
        await both.wait()
    assert polled == ["a", "b"]
    assert lane.longest_wait(time.monotonic()) == 0.0  # every wake served


async def test_a_reserved_namespace_is_polled_once_released_and_not_before() -> None:
    work = Work(a=1)
    lane = Lane("l", work.poll, work.next_due, workers=2)
    assert lane.reserve("a")
    assert not lane.reserve("a")  # one reservation at a time
    async with serving(lane):
        lane.wake("a")  # a producer's ring while it reads the batch for the namespace
        for _ in range(5):
            await asyncio.sleep(0)
        assert work.polls == []
        lane.release("a")
        await asyncio.wait_for(work.drained.wait(), 5)
        lane.wake("b")
        assert not lane.reserve("b")  # woken: its poll will read for itself
    assert work.polls[0] == "a"
    assert work.polls.count("a") == 1


class Unstageable:
    """A consumer whose read cannot be queued; records what it is handed."""

    def __init__(self) -> None:
        self.handed: list[object] = []

    def stage_read(self, pipe: object) -> int:
        raise RuntimeError("queueing failed on purpose")

    def hand(self, replies: object) -> None:
        self.handed.append(replies)


async def test_a_hand_off_that_fails_is_released_and_its_namespace_woken() -> None:
    work = Work(a=1)
    lane = Lane("l", work.poll, work.next_due)
    assert lane.reserve("a")
    consumer = Unstageable()
    hand_off = HandOff(lane, "a", consumer)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="on purpose"):
        await execute_handing_off(None, [hand_off])  # type: ignore[arg-type]
    assert consumer.handed == [None]  # told to read its pending entries itself
    assert lane.waiting == 1  # released and woken: its poll reads for itself


async def test_a_stopping_lane_polls_the_batches_handed_off_and_nothing_merely_woken() -> None:
    """At stop, a batch handed off is pending for its consumer: it is polled, even when its
    reservation ends after the stop; a namespace merely woken waits for the next process,
    and no new reservation is granted."""
    work = Work(a=1, b=1, c=1)
    lane = Lane("l", work.poll, work.next_due, workers=2)
    stop = asyncio.Event()
    assert lane.reserve("a") and lane.reserve("b")
    task = asyncio.create_task(lane.run(stop))
    lane.release("a")  # handed off before the stop
    lane.wake("c")
    stop.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()  # b is still being read for
    assert not lane.reserve("d")  # stopping: nothing new is read ahead
    lane.release("b")  # handed off after the stop
    await asyncio.wait_for(task, 5)
    assert sorted(work.polls) == ["a", "b"]  # c waits for the next process
