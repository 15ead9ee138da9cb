"""Telling Redis's refusals from an unreachable server."""

from __future__ import annotations

from redis.exceptions import AuthenticationError, NoPermissionError
from redis.exceptions import ConnectionError as RedisConnectionError

from neurram.bus.refusals import credentials_refused, refused


def test_refused_credentials_are_told_apart_from_an_unreachable_server() -> None:
    assert credentials_refused(AuthenticationError("WRONGPASS"))
    wrapped = RedisConnectionError("invalid username-password pair")
    wrapped.__cause__ = AuthenticationError("WRONGPASS")  # as redis-py raises it on connect
    assert credentials_refused(wrapped)
    assert not credentials_refused(RedisConnectionError("connection refused"))


def test_nopermission_is_a_refusal_but_not_of_credentials() -> None:
    denied = NoPermissionError("User u has no permissions to run the 'keys' command")
    assert refused(denied) and not credentials_refused(denied)
    assert not refused(RedisConnectionError("connection refused"))
