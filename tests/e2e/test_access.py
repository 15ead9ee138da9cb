"""Isolation that Redis enforces: `neurram grant`/`revoke` and what the users they make may do,
on the session's real server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import NoPermissionError, ResponseError

from neurram import Brain, BrainAccessDeniedError, Layer
from neurram.bus import Namespace
from neurram.bus.doorbell import DOORBELL, REGISTRY
from neurram.bus.pressure import PRESSURE
from neurram.runtime import access

from .conftest import RegionsFactory, succeed

pytestmark = pytest.mark.e2e

Grant = Callable[..., Awaitable[str]]


@pytest.fixture
async def grant(redis_url: str, redis: aioredis.Redis) -> AsyncIterator[Grant]:
    """`neurram grant ARGS` against the session server; returns the URL it prints. Every
    user it made is deleted after the test."""
    users: set[str] = set()

    async def grant(*args: str) -> str:
        url, _ = await succeed("grant", "--redis-url", redis_url, *args)
        users.add(access.user_of(url) or "")
        return url

    yield grant
    if users:
        await redis.acl_deluser(*users)


async def denials(redis: aioredis.Redis, user: str) -> set[str]:
    """What the ACL LOG says ``user`` was refused (commands and keys)."""
    entries: list[dict[str, Any]] = await redis.acl_log()  # type: ignore[assignment]
    return {str(e["object"]) for e in entries if e["username"] == user}


async def client(url: str, brain_id: str) -> Brain:
    return await Brain.create(redis_url=url, brain_id=brain_id, run_regions=False, model="hash")


async def test_a_brain_user_is_a_full_client_of_regions_run_by_a_service_user(
    grant: Grant, start_regions: RegionsFactory, redis: aioredis.Redis, brain_id: str
) -> None:
    service_url = await grant("--service", f"runners-{brain_id}")
    brain_url = await grant("--brain", brain_id)
    await start_regions("--redis-url", service_url)  # the last --redis-url wins
    async with await client(brain_url, brain_id) as brain:
        cat = await brain.perceive("The cat sleeps on the red mat", salience=0.9)
        assert cat.layer is Layer.WORKING
        for n in range(5):
            await brain.perceive(f"Invoice {n} was paid by the bank", wait=False)
        assert (await brain.flush())["held"] == 5
        assert (await brain.recall("where does the cat sleep"))[0][0].engram_id == cat.engram_id
        assert (await brain.reinforce(cat.engram_id, 0.5)).access_count >= 1
        assert set(await brain.sleep()) >= {"consolidated", "pruned_wm", "pruned_ltm"}
        await brain.start_sleep_cycle()
        await brain.stop_sleep_cycle()
        lines = [line async for line in brain.export()]
        assert (await brain.import_(lines)).engrams == 6
        assert await brain.backlog() == 0
        assert await brain.forget(cat.engram_id)
        assert len(await brain.engrams()) == 5
    for command in (["inspect"], ["top", "--once"], ["export"]):
        said, _ = await succeed(*command, "--redis-url", brain_url, "--brain", brain_id)
        assert said
    # nothing was refused but CLIENT UNBLOCK, which a brain's user must not send to others
    assert await denials(redis, access.brain_user(brain_id)) <= {"client|unblock"}
    assert await denials(redis, access.service_user(f"runners-{brain_id}")) == set()


async def test_another_brains_keys_are_refused_by_redis(
    grant: Grant, redis: aioredis.Redis, brain_id: str
) -> None:
    mine, theirs = f"{brain_id}*", f"{brain_id}x"  # unescaped, "mine" would match "theirs"
    url = await grant("--brain", mine)
    own_key, their_key = Namespace(mine).key("notes"), Namespace(theirs).key("engrams")
    await redis.hset(their_key, "e1", "secret")
    user = aioredis.from_url(url)
    try:
        assert await user.hset(own_key, "k", "v") == 1
        refused = [
            user.hget(their_key, "e1"),
            user.hset(their_key, "e1", "overwritten"),
            user.xadd(Namespace(theirs).key("sensory"), {"m": "x"}),
            user.xread({Namespace(theirs).key("sensory"): "0"}),
            user.delete(their_key),
            user.keys("*"),
            user.flushall(),
            user.config_get("*"),
            user.publish("news", "x"),
            user.client_list(),
            user.get(own_key),  # a command a client does not need, even on its own key
        ]
        for call in refused:
            with pytest.raises(NoPermissionError):
                await call
        with pytest.raises(ResponseError, match="No permissions to access a key"):
            await user.eval(f"return redis.call('HGET', '{their_key}', 'e1')", 1, own_key)
    finally:
        await user.delete(own_key)
        await user.aclose()
    assert await redis.hget(their_key, "e1") == b"secret"
    await redis.delete(their_key)


async def test_a_brain_user_rings_and_registers_but_cannot_learn_of_other_brains(
    grant: Grant, redis: aioredis.Redis, brain_id: str
) -> None:
    """The doorbell is write-only to a brain's user, the registry of brains unreadable, the
    runners' pressure read-only: it cannot learn which brains exist or have work, nor send a
    message to another brain, nor fake or empty any of them (the commands it has on its own
    keys do not reach them)."""
    url = await grant("--brain", brain_id)
    theirs = f"{brain_id}-theirs"
    user = aioredis.from_url(url)
    try:
        assert await user.xadd(DOORBELL, {"ns": brain_id, "stream": "sensory"})  # a ring
        await user.sadd(REGISTRY, brain_id)  # its own registration
        await user.xrevrange(PRESSURE, count=1)  # how busy the runners are
        refused = [
            user.xadd(PRESSURE, {"runner": "fake", "wait": "99"}),
            user.xrange(PRESSURE),
            user.xread({PRESSURE: "0"}),
            user.xtrim(PRESSURE, maxlen=0),
            user.delete(PRESSURE),
            user.xread({DOORBELL: "0"}),
            user.xrange(DOORBELL),
            user.xrevrange(DOORBELL, count=1),
            user.smembers(REGISTRY),
            user.sscan(REGISTRY),
            user.sismember(REGISTRY, theirs),
            user.scard(REGISTRY),
            user.xadd(Namespace(theirs).key("sensory"), {"m": "x"}),
            user.xlen(DOORBELL),
            user.xtrim(DOORBELL, maxlen=0),
            user.xdel(DOORBELL, "0-1"),
            user.delete(DOORBELL),
            user.delete(REGISTRY),
            user.srem(REGISTRY, theirs),
        ]
        for call in refused:
            with pytest.raises(NoPermissionError):
                await call
    finally:
        await user.aclose()
    assert await redis.sismember(REGISTRY, brain_id)
    assert not await redis.exists(Namespace(theirs).key("sensory"))


async def test_credentials_for_one_brain_fail_fast_on_another(grant: Grant, brain_id: str) -> None:
    url = await grant("--brain", brain_id)
    with pytest.raises(BrainAccessDeniedError, match=f"for brain '{brain_id}' only"):
        await client(url, f"{brain_id}-other")
    with pytest.raises(BrainAccessDeniedError, match="run_regions=False"):
        await Brain.create(redis_url=url, brain_id=brain_id, model="hash")


async def test_granting_again_rotates_the_password(grant: Grant, brain_id: str) -> None:
    old = await grant("--brain", brain_id)
    brain = await client(old, brain_id)
    try:
        new = await grant("--brain", brain_id)
        assert access.user_of(new) == access.user_of(old) and new != old
        with pytest.raises(BrainAccessDeniedError, match="refused the credentials"):
            await brain.engrams()  # Redis closed the sessions of the old password
        with pytest.raises(BrainAccessDeniedError, match="refused the credentials"):
            await client(old, brain_id)
    finally:
        await brain.close()
    async with await client(new, brain_id) as renewed:
        assert await renewed.engrams() == []


async def test_revoke_removes_the_user_once(grant: Grant, redis_url: str, brain_id: str) -> None:
    url = await grant("--brain", brain_id)
    brain = await client(url, brain_id)
    try:
        said, _ = await succeed("revoke", "--redis-url", redis_url, "--brain", brain_id)
        assert said == f"revoked Redis user {access.brain_user(brain_id)!r}"
        with pytest.raises(BrainAccessDeniedError, match="refused the credentials"):
            await brain.engrams()
    finally:
        await brain.close()
    with pytest.raises(BrainAccessDeniedError, match="refused the credentials"):
        await client(url, brain_id)
    said, _ = await succeed("revoke", "--redis-url", redis_url, "--brain", brain_id)
    assert said.startswith("no Redis user")
