"""Commands packed by hiredis: the same bytes redis-py would send, the same refusals."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import DataError

from neurram.runtime.packing import packing_with_hiredis

COMMANDS = [
    ("XADD", "nr:b:sensory", "*", "m", b"\x00\xff payload"),
    ("ZADD", "k", 0.1, "a", 1e20, "b", -3, "c", 1 / 3, "d"),
    (b"EVAL", "return 1", 2, "k1", "k2", "caf\u00e9", memoryview(b"raw")),
    ("CONFIG GET", "maxmemory"),  # a name of two words is split
    ("XINFO STREAM", "s"),
]


@pytest.mark.parametrize("url", ["redis://localhost:1", "unix:///tmp/none.sock"])
def test_connections_pack_every_command_as_redis_py_does(url: str) -> None:
    client = packing_with_hiredis(aioredis.from_url(url))
    packing = client.connection_pool.make_connection()
    plain = (Connection if url.startswith("redis:") else UnixDomainSocketConnection)()
    assert isinstance(packing, type(plain)) and type(packing) is not type(plain)
    for command in COMMANDS:
        assert b"".join(packing.pack_command(*command)) == b"".join(plain.pack_command(*command))
    pipeline = [COMMANDS[0], COMMANDS[1]]
    assert b"".join(packing.pack_commands(pipeline)) == b"".join(plain.pack_commands(pipeline))


def test_an_argument_redis_cannot_take_is_refused_as_redis_py_refuses_it() -> None:
    packing = packing_with_hiredis(aioredis.from_url("redis://localhost:1"))
    connection = packing.connection_pool.make_connection()
    for wrong in (None, True, {"a": 1}):
        with pytest.raises(DataError):
            connection.pack_command("SET", "k", wrong)
