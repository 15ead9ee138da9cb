"""The embedded valkey-server: persistence, reuse and the shared registry."""

from __future__ import annotations

from pathlib import Path

import redis

from neurram.runtime import embedded
from neurram.runtime.embedded import EmbeddedServer


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2)


def test_data_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "brain"
    server = EmbeddedServer(data_dir)
    url = server.start()
    assert url == f"unix://{server.socket_path}"
    with _client(url) as client:
        client.set("k", "v")
    server.stop()
    again = EmbeddedServer(data_dir)
    with _client(again.start()) as client:
        assert client.get("k") == b"v"
    again.stop()


def test_reuses_a_running_server_without_owning_it(tmp_path: Path) -> None:
    owner = EmbeddedServer(tmp_path)
    owner.start()
    guest = EmbeddedServer(tmp_path)
    assert guest.start() == owner.url
    assert not guest.owned
    guest.stop()
    with _client(owner.url) as client:
        assert client.ping()
    owner.stop()


def test_registry_stops_the_server_on_last_release(tmp_path: Path) -> None:
    first = embedded.acquire(tmp_path)
    second = embedded.acquire(tmp_path)
    assert first is second
    embedded.release(first)
    with _client(first.url) as client:
        assert client.ping()
    embedded.release(second)
    assert not first.socket_path.exists() or not EmbeddedServer(tmp_path)._answers()


def test_long_data_dir_gets_a_short_socket_path(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / ("x" * 120))
    assert len(str(server.socket_path)) < 100
    assert server.socket_path != EmbeddedServer(tmp_path / ("y" * 120)).socket_path
