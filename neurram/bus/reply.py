"""Request/reply over streams: a client reads replies from a stream of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

import structlog
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from neurram.bus.blocking import InterruptibleConnection
from neurram.bus.codec import FIELD, Codec, DecodeError
from neurram.bus.entries import Entry, read_entries
from neurram.bus.timing import Backoff, check_block_ms

T = TypeVar("T")
TRIM_EVERY = 100  # replies read between two deletions of those read (one round trip each)


class ReplyInbox(Generic[T]):
    """Resolves one future per request id from the replies arriving on ``stream``.

    ``stream`` must be unique to this client: it is read with plain XREAD from the start,
    the replies read are deleted :data:`TRIM_EVERY` at a time (so an awaited call costs no
    deletion of its own), and the stream is deleted on :meth:`close`.
    """

    def __init__(
        self,
        redis: Redis,
        stream: str,
        codec: Codec[T],
        request_id_of: Callable[[T], str],
        block_ms: int = 1000,
    ) -> None:
        check_block_ms(redis, block_ms)
        self.stream = stream
        self._redis = redis
        self._codec = codec
        self._request_id_of = request_id_of
        self._block_ms = block_ms
        self._waiting: dict[str, asyncio.Future[T]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._failure: BaseException | None = None
        self._log = structlog.get_logger("neurram.bus").bind(inbox=stream)

    async def start(self) -> None:
        """Start the reader task."""
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name=f"reply-inbox:{self.stream}")

    def expect(self, request_id: str) -> asyncio.Future[T]:
        """Register interest in a reply; call it BEFORE sending the request."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        if self._failure is not None:
            future.set_exception(self._failure)
        self._waiting[request_id] = future
        return future

    async def wait(self, request_id: str, timeout: float) -> T:  # noqa: ASYNC109 (API)
        """The reply to ``request_id``; raises TimeoutError if none comes within ``timeout`` s."""
        (reply,) = await self.wait_all([request_id], timeout)
        return reply

    async def wait_all(self, request_ids: Sequence[str], timeout: float) -> list[T]:  # noqa: ASYNC109 (API)
        """The replies to ``request_ids``, in that order; raises TimeoutError when one has no
        reply ``timeout`` s after the one before it had (the replies stopped coming)."""
        futures = [self._waiting.get(r) or self.expect(r) for r in request_ids]
        try:
            for request_id, future in zip(request_ids, futures, strict=True):
                if not future.done():
                    try:  # awaited directly: the reply's resolution wakes this task itself
                        async with asyncio.timeout(timeout):
                            await future
                    except TimeoutError:
                        raise TimeoutError(
                            f"no reply to request {request_id} within {timeout} s"
                        ) from None
            return [future.result() for future in futures]
        finally:
            self.forget(request_ids)

    def forget(self, request_ids: Iterable[str]) -> None:
        """Drop interest in ``request_ids`` (their replies, if any come, are ignored)."""
        for request_id in request_ids:
            self._waiting.pop(request_id, None)

    async def close(self) -> None:
        """Stop the reader, cancel waiting futures and delete the reply stream (if started)."""
        self._closing.set()
        reader, self._reader = self._reader, None
        if reader is not None:
            await reader
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()
        if reader is None:
            return
        try:
            await self._redis.delete(self.stream)
        except redis_errors.ConnectionError as exc:
            self._log.warning("reply stream not deleted; it expires on its own", error=repr(exc))

    async def _read(self) -> None:
        last_id = "0-0"
        unreclaimed = 0  # replies read but still in the stream
        outage = Backoff()
        connection = InterruptibleConnection(self._redis)
        try:
            while not self._closing.is_set():
                try:
                    entries = read_entries(
                        await connection.read(self._xread_after(last_id), self._closing)
                    )
                    for entry in entries:
                        self._resolve(entry)
                    if entries:
                        last_id = entries[-1].entry_id
                        unreclaimed += len(entries)
                        await asyncio.sleep(0)  # the waiters go on before the next read's write
                    if unreclaimed >= TRIM_EVERY:  # those before the last one read
                        await self._redis.xtrim(self.stream, minid=last_id, approximate=False)
                        unreclaimed = 1
                except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
                    self._log.warning("redis unavailable, retrying", error=repr(exc))
                    await outage.wait(self._closing)
                    continue
                outage.reset()
        except Exception as exc:
            self._log.exception("reply reader died")
            self._failure = exc
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(exc)
        finally:
            await connection.aclose()

    def _xread_after(self, last_id: str) -> Callable[[Redis], Awaitable[Any]]:
        return lambda client: client.xread({self.stream: last_id}, block=self._block_ms)

    def _resolve(self, entry: Entry) -> None:
        try:
            reply = self._codec.decode(entry.fields.get(FIELD, b""))
        except DecodeError as exc:
            self._log.warning("undecodable reply dropped", entry_id=entry.entry_id, error=str(exc))
            return
        future = self._waiting.get(self._request_id_of(reply))
        if future is not None and not future.done():
            future.set_result(reply)
