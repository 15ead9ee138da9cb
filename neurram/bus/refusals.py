"""How Redis says no to a user, as redis-py raises it: NOPERM (its ACL denies a command or a
key), or refused credentials (wrong, revoked or rotated password)."""

from __future__ import annotations

from redis.exceptions import AuthenticationError, NoPermissionError


def credentials_refused(exc: BaseException) -> bool:
    """Whether ``exc`` is Redis refusing the credentials (redis-py raises it as such, or wraps
    it in a ConnectionError when it happens while connecting)."""
    return isinstance(exc, AuthenticationError) or isinstance(exc.__cause__, AuthenticationError)


def refused(exc: BaseException) -> bool:
    """Whether ``exc`` is Redis refusing this user a command, a key, or entry."""
    return isinstance(exc, NoPermissionError) or credentials_refused(exc)
