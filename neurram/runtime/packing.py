"""Commands packed into the Redis protocol by hiredis, in C, not by redis-py's Python.

redis-py's asyncio connections pack each command argument by argument in Python: 8 us for
an XADD of one message, 13 us for an XREADGROUP, 41 us for a script given 20 engrams, where
``hiredis.pack_command`` takes 1.1, 1.6 and 12 us (measured on the 2-core machine). An
awaited perceive sends some 50 commands and a batch of the regions hundreds, so the regions'
and the clients' connections pack with hiredis. A command whose name holds a space (redis-py
splits ``"CONFIG GET"`` into two words) or an argument hiredis refuses (which redis-py turns
into its ``DataError``) is packed by redis-py as before.
"""

from __future__ import annotations

from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection


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
