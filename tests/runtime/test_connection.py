"""Connections: a client's commands time out; the regions' do not, and over TCP they probe."""

from __future__ import annotations

import socket

from neurram.runtime.connection import KEEPALIVE, SOCKET_TIMEOUT, Connection
from neurram.settings import Settings


def socket_timeout(connection: Connection) -> float | None:
    timeout: float | None = connection.redis.connection_pool.connection_kwargs.get("socket_timeout")
    return timeout


async def test_a_clients_commands_time_out_and_the_regions_do_not(
    redis_url: str, brain_id: str
) -> None:
    settings = Settings.load(redis_url=redis_url, brain_id=brain_id)
    client = await Connection.open(settings)
    serving = await Connection.open(settings, serving=True)
    try:
        assert socket_timeout(client) == SOCKET_TIMEOUT
        assert socket_timeout(serving) is None
        assert await serving.redis.ping()
    finally:
        await serving.close()
        await client.close()


async def test_the_regions_probe_a_cluster_over_tcp_with_keepalive(
    cluster_urls: list[str], brain_id: str
) -> None:
    settings = Settings.load(redis_url=cluster_urls[0], brain_id=brain_id, redis_cluster=True)
    serving = await Connection.open(settings, serving=True)
    try:
        await serving.redis.ping()
        pool = serving.redis.connection_pool
        connection = await pool.get_connection()
        try:
            sock = connection._writer.get_extra_info("socket")  # type: ignore[union-attr]
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            if hasattr(socket, "TCP_KEEPIDLE"):
                idle = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
                assert idle == KEEPALIVE[socket.TCP_KEEPIDLE]
        finally:
            await pool.release(connection)
        assert socket_timeout(serving) is None
    finally:
        await serving.close()
