"""One brain's state in Redis: engrams, working-memory slots, the change log.

Keys under the brain's namespace:
  engrams     HASH  engram_id -> msgpack Engram (float16 embeddings: engram.py); the index set
  wm          ZSET  engram ids held in working memory, scored by recency (LRU first)
  recent      LIST  the last engrams the Hippocampus linked, newest first
  bycontent   HASH  memory type + normalised content -> engram id (restatements merge)
  changes     STREAM Change entries: every write and delete, read by index caches
  autosleep   STRING "1"/"0": background sleep switched on or off by a client
  outcomes    HASH  status (held, stored, gated, expired) -> how many outcomes reported
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.typing import EncodableT

from neurram.bus import FIELD, Namespace, stage
from neurram.bus.bounds import log_head, stage_cap
from neurram.bus.entries import text
from neurram.bus.messages import MESSAGES, Change
from neurram.engram import (
    Engram,
    Layer,
    MemoryType,
    Vitals,
    dump_engram,
    load_engram,
    load_layer,
    load_vitals,
)
from neurram.errors import NeurramError
from neurram.salience import normalize_content

SCAN_COUNT = 500
CAS_ATTEMPTS = 5

_COMPARE_AND_SET = """
local done = {}
for i = 1, #ARGV, 3 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  if current == ARGV[i + 1] or (current == false and ARGV[i + 1] == '') then
    if ARGV[i + 2] == '' then
      redis.call('HDEL', KEYS[1], ARGV[i])
    else
      redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    end
    done[#done + 1] = ARGV[i]
  end
end
return done
"""
_HMGET = """
local function hmget(key, fields, first, last)  -- in chunks: Lua's stack bounds unpack
  local values = {}
  for i = first, last, 1000 do
    for _, value in ipairs(redis.call('HMGET', key, unpack(fields, i, math.min(i + 999, last)))) do
      values[#values + 1] = value
    end
  end
  return values
end
"""
# each engram compared whole with the blob it was read as (sent beside the new one): Lua
# interns strings, so that costs the server a hash of a few dozen bytes, where the SHA-1 of
# each stored blob it computed before took some 6 us a 1.1 KB engram (a recall's LTP script:
# 64 against 115 us for ten engrams, measured on the 2-core machine)
_REPLACE_ALL = """
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local current = redis.call('HGET', KEYS[1], ARGV[2 + 3 * i])
  if current ~= ARGV[3 + 3 * i] then return false end
end
for i = 0, n - 1 do
  redis.call('HSET', KEYS[1], ARGV[2 + 3 * i], ARGV[4 + 3 * i])
end
local at = 2 + 3 * n
local logged = redis.call('XADD', KEYS[2], '*', ARGV[at], ARGV[at + 1])
redis.call('XTRIM', KEYS[2], 'MAXLEN', '~', ARGV[at + 2])
if #ARGV > at + 3 then
  redis.call('XACK', KEYS[3], ARGV[at + 3], unpack(ARGV, at + 4))
end
return logged
"""
_READ_WORKING_MEMORY = (
    _HMGET
    + """
local working, stored = {}, {}
local held = redis.call('ZRANGE', KEYS[1], 0, -1)
for i, blob in ipairs(hmget(KEYS[2], held, 1, #held)) do
  if blob then working[#working + 1] = blob; stored[#stored + 1] = held[i] end
end
"""
)
_WORKING_MEMORY = _READ_WORKING_MEMORY + "return working"
# KEYS: wm, engrams, changes, recent; ARGV: the position read after, the page, how many recent
# engrams. One script, not four commands (XINFO STREAM, XRANGE, LRANGE, the working memory's):
# a client's pipeline parses one reply where it parsed four, each under a timeout of its own,
# and no XINFO STREAM dictionary
_CHANGES = (
    _READ_WORKING_MEMORY
    + """
local head = false
local info = redis.pcall('XINFO', 'STREAM', KEYS[3])
if not info['err'] then  -- else no log yet
  local fields = {}
  for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
  head = {fields['last-generated-id'], fields['entries-added'], fields['length']}
end
local batch = redis.call('XRANGE', KEYS[3], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
local recent = redis.call('LRANGE', KEYS[4], 0, tonumber(ARGV[3]) - 1)
return {head, batch, recent, {stored, working}}
"""
)
# ARGV: how many ids, the ids, then content keys; absent blobs come back as ''
_HOLDING = (
    _READ_WORKING_MEMORY
    + """
local n = tonumber(ARGV[1])
local ids, seen, restated = {}, {}, {}
local function add(engram_id)
  if not seen[engram_id] then seen[engram_id] = true; ids[#ids + 1] = engram_id end
end
for i = 2, n + 1 do add(ARGV[i]) end
for _, engram_id in ipairs(hmget(KEYS[3], ARGV, n + 2, #ARGV)) do
  if engram_id then restated[#restated + 1] = engram_id; add(engram_id) end
end
local blobs = {}
for i, blob in ipairs(hmget(KEYS[2], ids, 1, #ids)) do blobs[i] = blob or '' end
return {ids, blobs, restated, working}
"""
)
CHANGE_LOG_MAXLEN = 200_000  # a reader further behind than this rebuilds from the engrams


async def _watch_then(pipe: Pipeline, key: str, name: str, *args: EncodableT) -> Any:
    """WATCH ``key`` on ``pipe`` (a transaction pipeline, not watching yet) and run the
    command ``name`` ``args`` after it on the same connection, both in one round trip; the
    command's reply. (``Pipeline.watch`` sends its WATCH alone and waits for the reply.)"""
    conn = pipe.connection
    if conn is None:  # released by the pipeline's reset, as after Pipeline.watch
        conn = pipe.connection = await pipe.connection_pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        await conn.send_packed_command(conn.pack_commands([("WATCH", key), (name, *args)]))
        await pipe.parse_response(conn, "WATCH")  # the pipeline is watching from here on
        return await pipe.parse_response(conn, name)
    except BaseException:
        await conn.disconnect()  # a reply may be left unread on it
        raise


class ChangeQuery(NamedTuple):
    """A read of the change log after ``position`` (``page`` entries a round trip), with
    the ids of the ``recent`` engrams last linked and the engrams held in working memory."""

    position: str
    recent: int = 0
    page: int = 1000


class Changes(NamedTuple):
    """What :meth:`MemoryStore.read_changes` read."""

    head: tuple[str, int, int]  # the log's newest id, changes ever logged, changes held
    since: tuple[str, Change, int]  # the new position, the changes merged, how many entries
    recent: list[str]  # the engrams last linked, newest first
    working: list[tuple[str, bytes]]  # held engrams by id, least recent first


class Holding(NamedTuple):
    """What :meth:`MemoryStore.read_holding` read, in one round trip."""

    stored: dict[str, bytes | None]  # the engrams asked for and those they restate, by id
    restated: list[str]  # ids of stored engrams the ones asked for restate, in their order
    working: list[Engram]  # held engrams, least recently used first


class StoreConflictError(NeurramError):
    """Concurrent writers kept changing the same engrams; the operation may be retried."""


def content_key(memory_type: MemoryType, content: str) -> str:
    """Identity of a restatement: same type, same content up to case, spaces, punctuation."""
    digest = hashlib.blake2b(normalize_content(content).encode(), digest_size=16).hexdigest()
    return f"{memory_type.value}:{digest}"


class MemoryStore:
    """Reads and writes of one brain's state; writes are staged on a caller's pipeline so an
    actor commits its state and its emitted messages in one transaction."""

    def __init__(self, redis: aioredis.Redis, namespace: Namespace) -> None:
        self.redis = redis
        self.ns = namespace
        self.engrams_key = namespace.key("engrams")
        self.wm_key = namespace.key("wm")
        self.recent_key = namespace.key("recent")
        self.bycontent_key = namespace.key("bycontent")
        self.changes_key = namespace.key("changes")
        self.autosleep_key = namespace.key("autosleep")
        self.outcomes_key = namespace.key("outcomes")
        self._compare_and_set = redis.register_script(_COMPARE_AND_SET)
        self._working_memory = redis.register_script(_WORKING_MEMORY)
        self._holding = redis.register_script(_HOLDING)

    def pipeline(self) -> Pipeline:
        """A MULTI/EXEC pipeline: staged writes and emits commit together."""
        return self.redis.pipeline(transaction=True)

    # reads
    async def get(self, engram_id: str) -> Engram | None:
        found = await self.get_many([engram_id])
        return found[0] if found else None

    async def get_many(self, ids: Sequence[str]) -> list[Engram]:
        """The engrams of ``ids`` that exist, in order (an id asked twice comes once)."""
        return [load_engram(blob) for blob in (await self.get_blobs(ids)).values()]

    async def all(self) -> list[Engram]:
        """Every engram of the brain, whatever its layer."""
        return [engram async for chunk in self.scan() for engram in chunk]

    async def scan(self, count: int = SCAN_COUNT) -> AsyncIterator[list[Engram]]:
        """Every engram in chunks of about ``count`` (bounded memory)."""
        async for blobs in self.scan_blobs(count):
            yield [load_engram(blob) for blob in blobs.values()]

    async def scan_blobs(self, count: int = SCAN_COUNT) -> AsyncIterator[dict[str, bytes]]:
        """Every engram's msgpack by id, in chunks (HSCAN: one written meanwhile may come
        twice)."""
        cursor = 0
        while True:
            reply: tuple[int, dict[bytes, bytes]] = await self.redis.hscan(  # type: ignore[assignment]
                self.engrams_key, cursor, count=count
            )
            cursor, blobs = reply
            yield {text(i): blob for i, blob in blobs.items()}
            if cursor == 0:
                return

    async def scan_vitals(self, count: int = SCAN_COUNT) -> AsyncIterator[list[Vitals]]:
        """Every engram's :class:`Vitals`, in chunks (HSCAN: one written meanwhile may come
        twice)."""
        async for blobs in self.scan_blobs(count):
            yield [load_vitals(blob) for blob in blobs.values()]

    async def layer_counts(self) -> Counter[Layer]:
        """How many engrams rest in each layer: one pass over the store, decoding only the
        layer of each (measured: see the README's metrics section)."""
        counts: Counter[Layer] = Counter()
        async for blobs in self.scan_blobs():
            counts.update(load_layer(blob) for blob in blobs.values())
        return counts

    async def count(self) -> int:
        return int(await self.redis.hlen(self.engrams_key))  # type: ignore[misc,unused-ignore]

    async def working_memory_ids(self) -> list[str]:
        """Held engram ids, least recently used first."""
        ids: list[bytes] = await self.redis.zrange(self.wm_key, 0, -1)  # type: ignore[assignment]
        return [text(i) for i in ids]

    async def working_memory(self, watching: Pipeline | None = None) -> list[Engram]:
        """Held engrams, least recently used first (one round trip); ``watching``: as in
        :meth:`read_holding`."""
        keys = [self.wm_key, self.engrams_key]
        blobs = (
            await self._working_memory(keys=keys)
            if watching is None
            else await _watch_then(watching, self.wm_key, "EVAL", _WORKING_MEMORY, 2, *keys)
        )
        return [load_engram(blob) for blob in blobs]

    async def read_holding(
        self, engrams: Sequence[Engram], watching: Pipeline | None = None
    ) -> Holding:
        """What holding ``engrams`` needs, in one round trip: each as stored (None: not
        stored), the stored engrams they restate (same type and normalised content), and the
        working memory.

        ``watching``: a transaction pipeline, not watching yet, which then watches the working
        memory from before this read (its WATCH sent in the same round trip)."""
        ids = [e.engram_id for e in engrams]
        keys = [content_key(e.memory_type, e.content) for e in engrams]
        script_keys = [self.wm_key, self.engrams_key, self.bycontent_key]
        args: list[EncodableT] = [len(ids), *ids, *keys]
        found, blobs, restated, working = (
            await self._holding(keys=script_keys, args=args)
            if watching is None
            else await _watch_then(watching, self.wm_key, "EVAL", _HOLDING, 3, *script_keys, *args)
        )
        return Holding(
            stored={text(i): b or None for i, b in zip(found, blobs, strict=True)},
            restated=[text(i) for i in restated],
            working=[load_engram(blob) for blob in working],
        )

    async def change_log_head(self) -> tuple[str, int, int]:
        """(newest change id, changes ever logged, changes still held)."""
        return await log_head(self.redis, self.changes_key)

    async def read_changes(self, query: ChangeQuery, own: Collection[str] = ()) -> Changes:
        """What ``query`` asks (the change log's head, every change after its position, the
        ids of the engrams last linked, the engrams held), in one round trip (one more per
        ``query.page`` changes beyond the first).

        ``own``: ids of entries the reader logged with its writes (:meth:`stage_replace_all`),
        so it holds what they wrote: an engram whose last change read is one of those is left
        out of the changes merged."""
        pipe = self.redis.pipeline(transaction=False)
        self.stage_changes(pipe, query)
        return await self.changes(query, await pipe.execute(raise_on_error=False), own)

    def stage_changes(self, pipe: Pipeline, query: ChangeQuery) -> int:
        """Queue the reads of ``query`` on ``pipe`` (another's transaction, say, after its
        writes); returns how many commands: their replies make :meth:`changes`."""
        keys = (self.wm_key, self.engrams_key, self.changes_key, self.recent_key)
        args = (query.position, query.page, query.recent)
        pipe.eval(_CHANGES, len(keys), *keys, *args)  # EVAL: see stage_replace_all
        return 1

    async def changes(
        self, query: ChangeQuery, replies: Sequence[Any], own: Collection[str] = ()
    ) -> Changes:
        """The changes the replies of :meth:`stage_changes` tell (reading on past
        ``query.page`` changes); see :meth:`read_changes`."""
        (reply,) = replies
        if isinstance(reply, Exception):
            raise reply
        head, entries, recent, working = reply
        upserted: dict[str, bool] = {}  # id -> whether its last change read is the reader's
        deleted: list[str] = []
        position, read = query.position, 0
        batch: Any = [  # as redis-py gives XRANGE: (id, fields)
            (entry_id, dict(zip(fields[::2], fields[1::2], strict=True)))
            for entry_id, fields in entries
        ]
        while True:
            for entry_id, fields in batch:
                change = MESSAGES.decode(fields[FIELD])
                assert isinstance(change, Change)
                position = text(entry_id)
                mine = position in own
                for engram_id in change.upserted:
                    upserted.pop(engram_id, None)  # keeps the order of the last changes
                    upserted[engram_id] = mine
                deleted.extend(change.deleted)
            read += len(batch)
            if len(batch) < query.page:
                break
            batch = await self.redis.xrange(self.changes_key, min=f"({position}", count=query.page)
        held, blobs = working
        merged = Change(upserted=[i for i, mine in upserted.items() if not mine], deleted=deleted)
        return Changes(
            ("0-0", 0, 0) if head is None else (text(head[0]), int(head[1]), int(head[2])),
            (position, merged, read),
            [text(i) for i in recent][: query.recent],  # LRANGE 0 -1 (recent 0) reads all
            [(text(i), blob) for i, blob in zip(held, blobs, strict=True)],
        )

    async def outcome_counts(self) -> dict[str, int]:
        """How many stimuli were held, stored, gated and expired (redeliveries may recount)."""
        counts: dict[bytes, bytes] = await self.redis.hgetall(self.outcomes_key)  # type: ignore[misc,assignment,unused-ignore]
        return {text(k): int(v) for k, v in counts.items()}

    async def autosleep(self) -> bool | None:
        """Whether a client switched background sleep on (True) or off (False); None if unset."""
        value = await self.redis.get(self.autosleep_key)
        return None if value is None else value == b"1"

    # staged writes
    async def put(self, engrams: Sequence[Engram]) -> None:
        """Write engrams unconditionally, in one transaction, each as the one its content
        restates into (an import, a test's setup); concurrent writers use :meth:`update`."""
        blobs: dict[EncodableT, EncodableT] = {e.engram_id: dump_engram(e) for e in engrams}
        if blobs:
            pipe = self.pipeline()
            pipe.hset(self.engrams_key, mapping=blobs)
            self.stage_contents(pipe, engrams)
            self.stage_change(pipe, [str(i) for i in blobs])
            await pipe.execute()

    def stage_count(self, pipe: Pipeline, status: str, count: int = 1) -> None:
        pipe.hincrby(self.outcomes_key, status, count)

    def stage_contents(self, pipe: Pipeline, engrams: Iterable[Engram]) -> None:
        """Remember each engram as the one its content restates into (one command)."""
        ids: dict[EncodableT, EncodableT] = {
            content_key(e.memory_type, e.content): e.engram_id for e in engrams
        }
        if ids:
            pipe.hset(self.bycontent_key, mapping=ids)

    def stage_working_memory(self, pipe: Pipeline, held: Sequence[str], now: float) -> None:
        """Replace the slots with ``held`` (least recent first)."""
        pipe.delete(self.wm_key)
        if held:
            pipe.zadd(self.wm_key, {engram_id: now + i * 1e-6 for i, engram_id in enumerate(held)})

    def stage_release(self, pipe: Pipeline, ids: Sequence[str]) -> None:
        """Take engrams out of working memory (they stay stored)."""
        if ids:
            pipe.zrem(self.wm_key, *ids)

    def stage_recent(self, pipe: Pipeline, ids: Sequence[str], window: int) -> None:
        """Make ``ids`` the most recent engrams, the last one newest, keeping ``window``
        (only the newest ``window`` of them can stay: the others are neither moved nor pushed,
        a command each fewer)."""
        newest_last = list(reversed(dict.fromkeys(reversed(ids))))[-window:]  # each once, at
        # its last
        if not newest_last:
            return
        for engram_id in newest_last:
            pipe.lrem(self.recent_key, 0, engram_id)
        pipe.lpush(self.recent_key, *newest_last)
        pipe.ltrim(self.recent_key, 0, window - 1)

    def stage_change(self, pipe: Pipeline, upserted: Iterable[str]) -> None:
        """Log that the engrams ``upserted`` were written (if any)."""
        if ids := list(upserted):
            self._stage_change(pipe, Change(upserted=ids))

    def _stage_change(self, pipe: Pipeline, change: Change) -> None:
        stage(pipe, self.changes_key, MESSAGES.encode(change))
        stage_cap(pipe, self.changes_key, CHANGE_LOG_MAXLEN)

    # compare-and-set: writers that read, think, then write must not undo a concurrent write
    async def compare_and_set(self, updates: Sequence[tuple[str, bytes, bytes]]) -> list[str]:
        """For each (id, expected blob, new blob), write the new blob (empty: delete) only if
        the stored one is still the expected one (empty: absent). Returns the ids written."""
        if not updates:
            return []
        args = [part for update in updates for part in update]
        done = await self._compare_and_set(keys=[self.engrams_key], args=args)
        return [text(i) for i in done]

    def stage_replace_all(
        self,
        pipe: Pipeline,
        updates: Sequence[tuple[str, bytes, bytes]],
        acknowledge: tuple[str, str, Sequence[str]] | None = None,
    ) -> None:
        """Stage: write each of ``updates`` (id, blob it was read as, new blob) only if every
        one of them is still stored as read, log the change, and acknowledge ``acknowledge``
        (stream, group, entry ids) with them, atomically. Its reply is the change's id in the
        log; None when some engram was written meanwhile (then nothing is written or
        acknowledged)."""
        if not updates:
            raise ValueError("nothing to replace")
        args: list[EncodableT] = [len(updates)]
        for engram_id, old, new in updates:
            args += [engram_id, old, new]
        change = MESSAGES.encode(Change(upserted=[i for i, _, _ in updates]))
        args += [FIELD, change, CHANGE_LOG_MAXLEN]
        stream = self.changes_key
        if acknowledge is not None:
            stream, group, entry_ids = acknowledge
            args += [group, *entry_ids]
        # EVAL, not EVALSHA: a script on a pipeline costs redis-py a SCRIPT EXISTS round trip
        pipe.eval(_REPLACE_ALL, 3, self.engrams_key, self.changes_key, stream, *args)

    async def update(
        self,
        ids: Sequence[str],
        change: Callable[[Engram], object],
        missing: Mapping[str, Engram] | None = None,
        *,
        read: Mapping[str, bytes | None] | None = None,
        decoded: Mapping[str, Engram] | None = None,
        logged: bool = True,
    ) -> dict[str, Engram]:
        """Apply ``change`` to each stored engram of ``ids`` atomically: read, change,
        compare-and-set, and on a concurrent write read again and redo. An id not stored is
        inserted from ``missing`` (changed likewise), else skipped. Returns what was written.

        ``read``: what the caller read already, by id (None: not stored); the first try
        compares with it instead of reading (an id not in it is read); ``decoded``: the
        engrams some of those blobs decode to, by id, which the first try changes in place
        instead of decoding the blobs again. ``logged=False``: the
        caller logs the change (:meth:`stage_change`) on the transaction that acknowledges
        the message that caused it, so a crash before redoes the write and logs it.

        Raises :class:`StoreConflictError` when writers keep racing (the caller retries).
        """
        missing = missing or {}
        written: dict[str, Engram] = {}
        remaining = list(dict.fromkeys(ids))
        known = dict(read or {})
        given = {i: e for i, e in (decoded or {}).items() if known.get(i)}
        for _ in range(CAS_ATTEMPTS):
            blobs = {i: blob for i in remaining if (blob := known.get(i))}
            blobs.update(await self.get_blobs([i for i in remaining if i not in known]))
            known = {}  # a retry reads again
            candidates: dict[str, tuple[bytes, Engram]] = {}
            for engram_id in remaining:
                if engram_id in blobs:
                    engram = given.pop(engram_id, None) or load_engram(blobs[engram_id])
                    candidates[engram_id] = (blobs[engram_id], engram)
                elif engram_id in missing:  # a deep copy: ``change`` may run more than once
                    candidates[engram_id] = (b"", load_engram(dump_engram(missing[engram_id])))
            for _, engram in candidates.values():
                change(engram)
            done = await self.compare_and_set(
                [(i, old, dump_engram(e)) for i, (old, e) in candidates.items()]
            )
            written.update((i, candidates[i][1]) for i in done)
            given = {}  # changed already: a retry decodes what it reads
            remaining = [i for i in candidates if i not in written]
            if not remaining:
                break
        else:
            raise StoreConflictError(
                f"engrams {remaining} kept changing under {CAS_ATTEMPTS} writes"
            )
        if written and logged:
            pipe = self.pipeline()
            self.stage_change(pipe, written)
            await pipe.execute()
        return written

    async def save_unchanged(
        self, pairs: Sequence[tuple[bytes, Engram]], release: Sequence[str] = ()
    ) -> list[str]:
        """Save each (blob it was read from, changed engram) unless written meanwhile; those
        saved of ``release`` leave working memory."""
        done = await self.compare_and_set([(e.engram_id, old, dump_engram(e)) for old, e in pairs])
        if done:
            pipe = self.pipeline()
            self.stage_release(pipe, sorted(set(release).intersection(done)))
            self.stage_change(pipe, done)
            await pipe.execute()
        return done

    async def get_blobs(self, ids: Sequence[str]) -> dict[str, bytes]:
        """The stored msgpack of those ``ids`` that exist."""
        if not ids:
            return {}
        blobs: list[bytes | None] = await self.redis.hmget(self.engrams_key, list(ids))  # type: ignore[assignment]
        return {i: b for i, b in zip(ids, blobs, strict=True) if b}

    # deletion
    async def delete(
        self, ids: Sequence[str], unchanged: Mapping[str, bytes] | None = None
    ) -> list[str]:
        """Remove engrams from every store and index, and their edges from neighbours.

        With ``unchanged`` (id -> the blob the caller judged), an engram written since is
        kept: a memory recalled meanwhile is not pruned. Returns the ids removed.
        """
        if unchanged is None:
            blobs, gone = await self._delete_current(ids)
        else:
            blobs = dict(unchanged)
            gone = await self.compare_and_set([(i, blobs[i], b"") for i in ids if i in blobs])
        if not gone:
            return []
        victims = [load_engram(blobs[i]) for i in gone]
        pipe = self.pipeline()
        pipe.zrem(self.wm_key, *gone)
        for engram_id in gone:
            pipe.lrem(self.recent_key, 0, engram_id)
        for victim in victims:
            self._stage_uncontent(pipe, victim)
        self._stage_change(pipe, Change(deleted=gone))
        await pipe.execute()
        await self._unlink(victims)
        return gone

    async def _delete_current(self, ids: Sequence[str]) -> tuple[dict[str, bytes], list[str]]:
        """Delete whatever ``ids`` hold now, retrying the ones written while we looked."""
        blobs: dict[str, bytes] = {}
        gone: list[str] = []
        remaining = list(ids)
        for _ in range(CAS_ATTEMPTS):
            current = await self.get_blobs(remaining)
            blobs.update(current)
            gone += await self.compare_and_set([(i, b, b"") for i, b in current.items()])
            remaining = [i for i in current if i not in gone]
            if not remaining:
                break
        return blobs, gone

    async def _unlink(self, victims: Sequence[Engram]) -> None:
        """Drop the edges that neighbours hold to removed engrams (a conflicting neighbour
        keeps a dangling edge, which the index ignores)."""
        gone = {v.engram_id for v in victims}
        ids = sorted({n for v in victims for n, _ in v.associations} - gone)
        pairs = []
        for blob in (await self.get_blobs(ids)).values():
            neighbour = load_engram(blob)
            neighbour.associations = [(i, w) for i, w in neighbour.associations if i not in gone]
            pairs.append((blob, neighbour))
        await self.save_unchanged(pairs)

    def _stage_uncontent(self, pipe: Pipeline, engram: Engram) -> None:
        # only if the content key still points at this engram
        key = content_key(engram.memory_type, engram.content)
        pipe.eval(
            "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then "
            "return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0",
            1,
            self.bycontent_key,
            key,
            engram.engram_id,
        )

    async def clear(self) -> int:
        """Delete every key of this brain (SCAN, never KEYS). Returns how many."""
        removed = 0
        batch: list[Any] = []
        pattern = self.ns.prefix.replace("{", "\\{").replace("}", "\\}") + "*"
        async for key in self.redis.scan_iter(match=pattern, count=SCAN_COUNT):
            batch.append(key)
            if len(batch) >= SCAN_COUNT:
                removed += await self.redis.delete(*batch)
                batch = []
        if batch:
            removed += await self.redis.delete(*batch)
        return removed
