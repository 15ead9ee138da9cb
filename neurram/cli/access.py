"""``neurram grant`` and ``neurram revoke``: Redis ACL users confined to one brain, and the
service user regions run as (rules in :mod:`neurram.runtime.access`), on the server or on
every node of a cluster."""

from __future__ import annotations

import argparse
import secrets
import sys

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from neurram.cli.options import add_settings, settings_of
from neurram.runtime import access
from neurram.runtime.connection import Connection

PASSWORD_BYTES = 32


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    grant = commands.add_parser(
        "grant",
        help="create or rotate a Redis ACL user for one brain (or a service); prints its URL",
    )
    revoke = commands.add_parser("revoke", help="remove the Redis ACL user of a brain or service")
    for parser in (grant, revoke):
        parser.add_argument(
            "--service",
            metavar="NAME",
            help="the user regions run as (every brain) instead of one brain's user",
        )
        add_settings(parser)
    grant.set_defaults(handler=_grant)
    revoke.set_defaults(handler=_revoke)


def _user(args: argparse.Namespace) -> str:
    if args.service is not None:
        return access.service_user(args.service)
    return access.brain_user(settings_of(args).brain_id)


async def _grant(args: argparse.Namespace) -> None:
    settings = settings_of(args)
    user = _user(args)
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    connection = await Connection.open(settings)
    try:
        db = access.database(connection.url)
        rules = (
            access.service_rules(password, db, cluster=settings.redis_cluster)
            if args.service is not None
            else access.brain_rules(settings.brain_id, password, db, cluster=settings.redis_cluster)
        )
        existed = await _exists(connection.redis, user)
        for node in _nodes(connection):
            await node.execute_command("ACL", "SETUSER", user, *rules)  # type: ignore[no-untyped-call]
            await _save(node)
        default: dict[str, list[str]] = await connection.redis.acl_getuser("default")  # type: ignore[assignment]
        if access.default_user_open(list(default.get("flags", []))):
            _warn(
                "the default user needs no password: anyone who can connect bypasses every "
                "ACL user; give it one (requirepass) or switch it off once an admin user exists"
            )
        if connection.server is not None and connection.server.owned:
            _warn("the embedded server stops with this command, and its users with it")
    finally:
        await connection.close()
    _warn(f"{'rotated' if existed else 'created'} Redis user {user!r}")
    print(access.with_credentials(connection.url, user, password))


async def _revoke(args: argparse.Namespace) -> None:
    settings = settings_of(args)
    user = _user(args)
    connection = await Connection.open(settings)
    try:
        removed = False
        for node in _nodes(connection):
            removed |= bool(await node.acl_deluser(user))
            await _save(node)
    finally:
        await connection.close()
    print(f"revoked Redis user {user!r}" if removed else f"no Redis user {user!r}: nothing to do")


def _nodes(connection: Connection) -> list[Redis]:
    """Where users are kept: the server, or every node of a cluster (each keeps its own)."""
    return [connection.redis] if connection.shards is None else connection.shards.every_node()


async def _exists(redis: Redis, user: str) -> bool:
    return await redis.acl_getuser(user) is not None


async def _save(redis: Redis) -> None:
    """Write the users to the server's ACL file; without one they last until it restarts."""
    try:
        await redis.acl_save()
    except ResponseError:
        _warn("the server has no ACL file (aclfile): its users last until it restarts")


def _warn(text: str) -> None:
    print(f"neurram: {text}", file=sys.stderr)
