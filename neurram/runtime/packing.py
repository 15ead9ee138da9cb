"""Commands packed into the Redis protocol by hiredis, in C, not by redis-py's Python; and
pipelines executed without redis-py's bookkeeping.

redis-py's asyncio connections pack each command argument by argument in Python: 8 us for
an XADD of one message, 13 us for an XREADGROUP, 41 us for a script given 20 engrams, where
``hiredis.pack_command`` takes 1.1, 1.6 and 12 us (measured on the 2-core machine). An
awaited perceive sends some 50 commands and a batch of the regions hundreds, so the regions'
and the clients' connections pack with hiredis. A command whose name holds a space (redis-py
splits ``"CONFIG GET"`` into two words) or an argument hiredis refuses (which redis-py turns
into its ``DataError``) is packed by redis-py as before.

redis-py 8's ``Pipeline.execute`` also records its duration and errors for observability and
prepares HIMPORT field sets before each write, which neurram uses neither of: a MULTI of four
commands took 375 to 389 us through it, 221 to 239 us sent as one write and read reply by
reply on the same connection (p50 of 1,700, three rounds alternated). Clients made by
:func:`client_from_url` and :func:`client_of` execute their pipelines that way
(:class:`LeanPipeline`), with redis-py's reply callbacks, errors and retries.
"""

from __future__ import annotations

import inspect
from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.connection import AbstractConnection, Connection
from redis.client import EMPTY_RESPONSE, NEVER_DECODE
from redis.exceptions import ExecAbortError, ResponseError, WatchError


def client_from_url(url: str, **options: Any) -> aioredis.Redis:
    """A client of ``url`` (``redis.asyncio.from_url``'s options), packing commands with
    hiredis and executing pipelines leanly."""
    return packing_with_hiredis(LeanClient.from_url(url, **options))


def client_of(**options: Any) -> aioredis.Redis:
    """A client made with ``redis.asyncio.Redis``'s ``options``, packing commands with
    hiredis and executing pipelines leanly."""
    return packing_with_hiredis(LeanClient(**options))


class LeanClient(aioredis.Redis):
    """redis-py's asyncio client, its pipelines :class:`LeanPipeline`."""

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        return LeanPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)


class LeanPipeline(Pipeline):
    """A pipeline whose commands, queued and not watching, go out in one write on a pooled
    connection, their replies read one by one, as redis-py does but for its observability
    and HIMPORT bookkeeping. A watching pipeline (which holds its connection), one with
    scripts to load, or one whose commands say how to answer for an error or leave replies
    undecoded is executed by redis-py."""

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        stack = self.command_stack
        if (
            not stack
            or self.watching
            or self.connection is not None
            or self.scripts
            or any(EMPTY_RESPONSE in options or NEVER_DECODE in options for _, options in stack)
        ):
            return await super().execute(raise_on_error)
        pool = self.connection_pool
        connection = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:  # a failed send or read disconnects the connection: it never holds stale replies
            replies: list[Any] = await connection.retry.call_with_retry(
                lambda: self._exchange(connection),
                lambda _: connection.disconnect(),
            )
        finally:
            await pool.release(connection)
            await self.reset()  # type: ignore[no-untyped-call]
        if raise_on_error:
            self.raise_first_error(stack, replies)
        return replies

    async def _exchange(self, connection: Connection) -> list[Any]:
        """Send the queued commands in one write (a transaction's between MULTI and EXEC);
        their replies, each an error or through its callback."""
        stack = self.command_stack
        commands = [args for args, _ in stack]
        transaction = self.is_transaction or self.explicit_transaction
        await connection.send_packed_command(
            connection.pack_commands(
                [("MULTI",), *commands, ("EXEC",)] if transaction else commands
            )
        )
        replies = await (
            self._executed(connection) if transaction else _each(connection, len(stack))
        )
        out = []
        for reply, (args, options) in zip(replies, stack, strict=True):
            if not isinstance(reply, Exception) and args[0] in self.response_callbacks:
                # "keys" is for redis-py's client-side cache, not the callback
                given = {name: value for name, value in options.items() if name != "keys"}
                reply = self.response_callbacks[args[0]](reply, **given)
                if inspect.isawaitable(reply):
                    reply = await reply
            out.append(reply)
        return out

    async def _executed(self, connection: Connection) -> list[Any]:
        """A transaction's replies, as redis-py reads them: each command that was refused
        when queued has its error in its place; a refused EXEC raises the first of them, a
        watched key changed raises :class:`WatchError`."""
        stack = self.command_stack
        multi, *queued = await _each(connection, len(stack) + 1)
        refused = [(0, multi)] if isinstance(multi, Exception) else []
        for i, error in enumerate(queued):
            if isinstance(error, Exception):
                self.annotate_exception(error, i + 1, stack[i][0])
                refused.append((i, error))
        try:
            replies = await connection.read_response()
        except ExecAbortError as exc:
            if refused:
                raise refused[0][1] from exc
            raise
        if replies is None:
            raise WatchError("Watched variable changed.")
        for i, error in refused:
            replies.insert(i, error)
        if len(replies) != len(stack):
            await connection.disconnect()
            raise ResponseError("Wrong number of response items from pipeline execution")
        return list(replies)


async def _each(connection: Connection, count: int) -> list[Any]:
    """The next ``count`` replies on ``connection``, an error reply in its place."""
    replies: list[Any] = []
    for _ in range(count):
        try:
            replies.append(await connection.read_response())
        except ResponseError as error:
            replies.append(error)
    return replies


def packing_with_hiredis(client: aioredis.Redis) -> aioredis.Redis:
    """``client``, its connections (made from now on) packing commands with hiredis."""
    pool = client.connection_pool
    pool.connection_class = _PACKING.get(pool.connection_class) or _packing(pool.connection_class)
    return client


def _packing(base: type[AbstractConnection]) -> type[AbstractConnection]:
    """``base`` (TCP, TLS or Unix socket connection) packing with hiredis (one class a
    base)."""

    def pack_command(self: AbstractConnection, *args: Any) -> list[bytes]:
        name = args[0]
        if " " not in (name.decode() if isinstance(name, bytes) else name):
            try:
                return [hiredis.pack_command(args)]
            except TypeError:
                pass  # redis-py says what is wrong with the argument
        return base.pack_command(self, *args)

    packing: type[AbstractConnection] = type(
        f"Hiredis{base.__name__}", (base,), {"pack_command": pack_command}
    )
    _PACKING[base] = packing
    return packing


_PACKING: dict[type[AbstractConnection], type[AbstractConnection]] = {}
