"""Brain: the client facade. It publishes stimuli and requests on the brain's streams, awaits
the regions' replies, and by default runs every region in this process."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Self, get_args, overload

import msgspec
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoPermissionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from neurram import stimuli, validation
from neurram.bus import Namespace, ReplyInbox
from neurram.bus.doorbell import deliver, register
from neurram.bus.flow import Load, Throttle, Watchdog, measure
from neurram.bus.messages import (
    MESSAGES,
    REPLIES,
    Message,
    Outcome,
    RecallReply,
    RecallRequest,
    Reply,
    SleepReply,
    SleepRequest,
    Status,
    Stimulus,
    request_id_of,
)
from neurram.bus.refusals import credentials_refused
from neurram.bus.tally import read_tally, tally_key
from neurram.bus.timing import Backoff
from neurram.encoder import Encoder, encoder_for
from neurram.engram import Engram, Explanation, MemoryType, load_engram, new_id
from neurram.errors import (
    BrainAccessDeniedError,
    BrainClosedError,
    BrainUnavailableError,
    NeurramError,
    UnknownEngramError,
)
from neurram.regions.basal_ganglia import BasalGanglia
from neurram.runtime import access, transfer
from neurram.runtime.connection import Connection
from neurram.runtime.host import RegionHost
from neurram.runtime.logs import configure_logging
from neurram.runtime.store import MemoryStore
from neurram.settings import Settings
from neurram.stimuli import Moment

PIPELINE = ("sensory", "sensed", "attended", "tagged", "held")  # streams a stimulus crosses
THROTTLE_PAUSE = 0.05  # a held producer measures again after this, then twice as long...
THROTTLE_PAUSE_CAP = 0.4  # ... up to this: many held producers cost the server little
log = structlog.get_logger("neurram")
FLUSH_PAUSE = 0.05


class Brain:
    """Memory for one agent (``brain_id``); create it with :meth:`Brain.create`."""

    def __init__(
        self,
        settings: Settings,
        connection: Connection,
        host: RegionHost | None,
        encoder: Encoder | None = None,
    ) -> None:
        self.settings = settings
        self._connection = connection
        self._host = host
        self._encoder = encoder
        self._store = MemoryStore(connection.redis, Namespace(settings.brain_id))
        client = new_id()
        self._inbox: ReplyInbox[Reply] = ReplyInbox(
            connection.redis, self._store.ns.key("reply", client), REPLIES, request_id_of
        )
        self._tally = tally_key(self._store.ns, client)  # outcomes of perceive(wait=False)
        self._unawaited = 0  # stimuli perceived with wait=False
        self._flow = Throttle(
            max_wait=settings.backpressure_ttl_share * settings.sensory_ttl_seconds,
            max_backlog=settings.max_backlog,
            stall_seconds=settings.request_timeout_seconds,
        )
        self._pressure_refused = False  # the ACL refused reading runner pressure (logged once)
        self._working_memory: list[Engram] = []
        self._working_blobs: Sequence[msgspec.Raw] | None = None  # a reply's working memory,
        # decoded when asked for: most calls never read it
        self._ganglia = BasalGanglia(settings.reward_shortcut, settings.stability_unit_hours)
        self._closed = False

    @classmethod
    async def create(
        cls,
        redis_url: str | None = None,
        brain_id: str | None = None,
        sleep_interval_seconds: float | None = None,
        *,
        run_regions: bool = True,
        encoder: Encoder | str | None = None,
        **settings: Any,
    ) -> Brain:
        """Connect (starting the embedded server when no ``redis_url`` is given), run the
        regions in this process unless ``run_regions=False``, and return the brain.

        ``encoder`` is an :class:`Encoder` or a model name/path ("hash" for the stand-in);
        every other setting of :class:`Settings` can be passed by keyword.
        """
        if isinstance(encoder, str):
            settings["model"] = encoder
            encoder = None
        config = Settings.load(
            redis_url=redis_url,
            brain_id=brain_id,
            sleep_interval_seconds=sleep_interval_seconds,
            **settings,
        )
        return await cls.from_settings(config, run_regions=run_regions, encoder=encoder)

    @classmethod
    async def from_settings(
        cls, settings: Settings, *, run_regions: bool = True, encoder: Encoder | None = None
    ) -> Brain:
        """:meth:`create` with a complete :class:`Settings`."""
        configure_logging(log_format=settings.log_format)
        if run_regions:
            access.check_may_run_regions(settings.redis_url)
        connection = await Connection.open(settings)
        serving = host = None
        try:
            if run_regions:  # on a connection of their own (see Connection.open's serving)
                serving = await Connection.open(settings, serving=True)
                host = RegionHost(settings, serving, encoder=encoder, brains=[settings.brain_id])
                await host.start()
            brain = cls(settings, connection, host, encoder)
        except BaseException:
            if host is not None:
                await host.stop()
            for opened in (serving, connection):
                if opened is not None:
                    await opened.close()
            raise
        try:
            await brain._refresh()  # credentials for another brain fail here, fast
            async with brain._redis_errors():
                await register(connection.doorbell, brain._store.ns)
            await brain._inbox.start()
        except BaseException:
            await brain.close()
            raise
        return brain

    # the API of SPEC 1
    async def perceive(
        self,
        content: str,
        memory_type: MemoryType | str = MemoryType.EPISODIC,
        salience: float | None = None,
        reward: float = 0.0,
        modality: str = "text",
        context: Mapping[str, Any] | None = None,
        context_hint: str | None = None,
        occurred_at: Moment | None = None,
        *,
        wait: bool = True,
    ) -> Engram:
        """Perceive ``content``, which happened at ``occurred_at`` (unix seconds or a datetime;
        default now). Waits until the pipeline decided its fate and returns the encoded engram
        (``context["outcome"]`` says "gated" or "expired" when it was not kept); with
        ``wait=False`` returns the unencoded engram at once (after backpressure, see
        :meth:`_throttle`), and :meth:`flush` tells what became of it."""
        stimulus = stimuli.stimulus(
            self.settings.max_content_bytes,
            time.time(),
            self._reply_to(wait),
            content,
            memory_type,
            salience,
            reward,
            modality,
            context,
            context_hint,
            occurred_at,
        )
        if not wait:
            (sent,) = await self._publish([stimulus], wait=False)
            return stimuli.unencoded(sent)
        outcome = await self._request("sensory", stimulus, stimulus.stimulus_id)
        assert isinstance(outcome, Outcome)
        await self._refresh(outcome.working_memory)
        return stimuli.perceived(stimulus, outcome)

    async def perceive_many(
        self, items: Iterable[stimuli.Item], *, wait: bool = True
    ) -> list[Engram]:
        """Perceive every item in order, in pipelines of many stimuli (far fewer round trips
        than one :meth:`perceive` each): an item is a content, or a mapping of perceive's
        arguments (``content`` required; ``memory_type``, ``salience``, ``reward``,
        ``modality``, ``context``, ``context_hint``, ``occurred_at``).

        Every item is checked before anything is sent: a bad one raises
        :class:`InvalidItemError` naming its index, and nothing is sent. Backpressure holds
        the batch as it holds ``perceive(wait=False)``, between pipelines. Returns one engram
        per item, in order: with ``wait=True`` (default) once every stimulus has its fate, as
        :meth:`perceive` returns them (the working memory refreshed once, at the end); with
        ``wait=False`` the unencoded engrams as soon as all are sent, and :meth:`flush`
        counts them."""
        batch = stimuli.batch(
            items, self.settings.max_content_bytes, time.time(), self._reply_to(wait)
        )
        if not wait:
            return [stimuli.unencoded(s) for s in await self._publish(batch, wait=False)]
        ids = [s.stimulus_id for s in batch]
        for stimulus_id in ids:
            self._inbox.expect(stimulus_id)
        try:
            sent = await self._publish(batch, wait=True)
            outcomes = await self._replies(ids)
        finally:
            self._inbox.forget(ids)
        if outcomes:
            last = outcomes[-1]
            await self._refresh(last.working_memory if isinstance(last, Outcome) else None)
        engrams = []
        for stimulus, outcome in zip(sent, outcomes, strict=True):
            assert isinstance(outcome, Outcome)
            engrams.append(stimuli.perceived(stimulus, outcome))
        return engrams

    @overload
    async def recall(
        self,
        query: str,
        top_k: int = 5,
        memory_type: MemoryType | str | None = None,
        since: Moment | None = None,
        until: Moment | None = None,
        explain: Literal[False] = False,
        *,
        include_silent: bool = False,
    ) -> list[tuple[Engram, float]]: ...

    @overload
    async def recall(
        self,
        query: str,
        top_k: int = 5,
        memory_type: MemoryType | str | None = None,
        since: Moment | None = None,
        until: Moment | None = None,
        *,
        explain: Literal[True],
        include_silent: bool = False,
    ) -> list[tuple[Engram, float, Explanation]]: ...

    async def recall(
        self,
        query: str,
        top_k: int = 5,
        memory_type: MemoryType | str | None = None,
        since: Moment | None = None,
        until: Moment | None = None,
        explain: bool = False,
        *,
        include_silent: bool = False,
    ) -> list[tuple[Engram, float]] | list[tuple[Engram, float, Explanation]]:
        """Engrams most activated by ``query``, across every layer, best first; only those
        that occurred within ``since``..``until`` (unix seconds or datetimes, bounds included)
        when given. Silent engrams fill only the places active ones leave empty, unless
        ``include_silent=True`` ranks them with the active ones. With ``explain=True`` each
        comes with why it scored (the semantic, lexical, temporal and context parts of the
        match, retention, salience, spread)."""
        start, end = validation.window(since, until)
        request = RecallRequest(
            request_id=new_id(),
            query=validation.content(query, self.settings.max_content_bytes),
            top_k=validation.positive_int("top_k", top_k),
            memory_type=None if memory_type is None else validation.memory_type(memory_type),
            since=start,
            until=end,
            reply_to=self._inbox.stream,
            include_silent=bool(include_silent),
            explain=bool(explain),
        )
        reply = await self._ask("recall", request)
        assert isinstance(reply, RecallReply)
        if explain:
            return [(e, s, w) for (e, s), w in zip(reply.results, reply.explanations, strict=True)]
        return reply.results

    @property
    def working_memory(self) -> list[Engram]:
        """The engrams held in working memory, least recent first (as of the last call)."""
        if self._working_blobs is not None:
            self._working_memory = [load_engram(blob) for blob in self._working_blobs]
            self._working_blobs = None
        return list(self._working_memory)

    async def sleep(self) -> dict[str, int]:
        """Run one sleep cycle now; returns its counts."""
        request = SleepRequest(request_id=new_id(), reply_to=self._inbox.stream)
        reply = await self._ask("sleep", request)
        assert isinstance(reply, SleepReply)
        return reply.stats

    async def start_sleep_cycle(self) -> None:
        """Let the SleepCycle run whenever the brain is idle (and every sleep interval)."""
        async with self._redis_errors():
            await self._connection.redis.set(self._store.autosleep_key, "1")

    async def stop_sleep_cycle(self) -> None:
        """No more background sleep; :meth:`sleep` still runs a cycle on demand."""
        async with self._redis_errors():
            await self._connection.redis.set(self._store.autosleep_key, "0")

    async def reinforce(self, engram_id: str, reward: float) -> Engram:
        """Feedback on a memory, ``reward`` in [-1, 1]: above 0 it helped (LTP; a habit or a
        procedure also gets the BasalGanglia's dopamine rule), below 0 it misled (LTD).
        Written with compare-and-set, as recall's LTP is; returns the engram as stored."""
        engram_id = validation.engram_id(engram_id)
        reward = validation.unit_interval("reward", reward, low=-1.0)
        now = time.time()
        async with self._redis_errors():
            written = await self._store.update(
                [engram_id], lambda e: self._ganglia.reinforce(e, reward, now)
            )
        if engram_id not in written:
            raise UnknownEngramError(
                f"brain {self.settings.brain_id!r} has no engram {engram_id!r}; pass the "
                "engram_id of an engram that perceive or recall returned"
            )
        await self._refresh()
        return written[engram_id]

    async def forget(self, engram_id: str) -> bool:
        """Remove an engram from every store and index; False if there was none."""
        engram_id = validation.engram_id(engram_id)
        async with self._redis_errors():
            removed = await self._store.delete([engram_id])
        await self._refresh()
        return bool(removed)

    async def flush(self, timeout: float | None = None) -> dict[str, int]:  # noqa: ASYNC109
        """Wait until every stimulus this Brain perceived with ``wait=False`` (by
        :meth:`perceive` or :meth:`perceive_many`) has its outcome; returns how many were
        held, stored, gated and expired.

        Raises :class:`BrainUnavailableError` when no outcome arrives for ``timeout`` seconds
        (default ``request_timeout_seconds``): the regions are not running, or stalled. After
        a region crashed mid-batch, a redelivered stimulus may be counted twice.
        """
        patience = self.settings.request_timeout_seconds if timeout is None else timeout
        watchdog = Watchdog()
        while True:
            async with self._redis_errors():
                counts = await read_tally(self._connection.redis, self._tally)
            through = sum(counts.values())
            if through >= self._unawaited:
                return {status: counts.get(status, 0) for status in get_args(Status)}
            if watchdog.idle(through, time.monotonic()) > patience:
                raise BrainUnavailableError(
                    f"{self._unawaited - through} of {self._unawaited} stimuli perceived with "
                    f"wait=False have no outcome, and none came for {patience:g} s: are the "
                    f"regions of brain {self.settings.brain_id!r} running "
                    "(Brain.create(run_regions=True) or `neurram run`)?"
                )
            await asyncio.sleep(FLUSH_PAUSE)

    async def engrams(self) -> list[Engram]:
        """Every engram of this brain, whatever its layer."""
        async with self._redis_errors():
            return await self._store.all()

    async def outcome_counts(self) -> dict[str, int]:
        """How many stimuli were held, stored, gated and expired since the brain began; like
        every call, it also brings :attr:`working_memory` up to date."""
        async with self._redis_errors():
            counts = await self._store.outcome_counts()
        await self._refresh()
        return counts

    async def export(self) -> AsyncIterator[str]:
        """This brain as JSON lines (each with its newline): a header, then every engram with
        every field (see :mod:`neurram.portable`). Streams in chunks; needs no region."""
        model = transfer.model_name(self.settings.model, self._encoder)
        async with self._redis_errors():
            async for line in transfer.export_lines(self._store, model):
                yield line

    async def import_(
        self,
        source: transfer.Source,
        *,
        reencode: bool = False,
        progress: transfer.Progress | None = None,
    ) -> transfer.ImportReport:
        """Read engrams exported by :meth:`export` (a path, or an iterable or async iterable
        of lines) into this brain; an engram it holds already (same id) is replaced.

        Every line is checked before anything is written (:class:`ImportFormatError` names
        the bad line); embeddings of another dimension than this brain's model are refused
        (:class:`ModelMismatchError`) unless ``reencode`` embeds the contents anew. Needs no
        region: running ones index the engrams before their next recall.
        """
        async with self._redis_errors():
            report = await transfer.import_lines(
                self._store,
                source,
                self._encoder or encoder_for(self.settings),
                reencode=reencode,
                fragment_above_words=self.settings.fragment_above_words,
                progress=progress,
            )
        await self._refresh()
        return report

    async def close(self) -> None:
        """Stop the in-process regions (gracefully) and release the connection."""
        if self._closed:
            return
        self._closed = True
        await self._inbox.close()
        if self._unawaited:
            with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
                await self._connection.redis.delete(self._tally)  # else it expires on its own
        if self._host is not None:
            await self._host.stop()
            await self._host.connection.close()
        await self._connection.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # plumbing
    async def _send(self, stream: str, *messages: Message) -> None:
        """Append ``messages`` to ``stream`` in one pipeline, with one ring; with regions in
        this process, they are woken as they wake each other, an idle one with its batch read
        in the same round trip (and the doorbell rung only for a stream that a runner
        elsewhere consumes)."""
        brain, host = self.settings.brain_id, self._host
        async with self._redis_errors():
            await deliver(
                self._connection.redis,
                self._connection.doorbell,
                self._store.ns,
                stream,
                *(MESSAGES.encode(m) for m in messages),
                ring=host is None,
                hand_offs=[] if host is None else host.hand_offs(brain, [stream]),
            )
            if host is not None:
                await host.ring(brain, [stream])

    async def _request(self, stream: str, message: Message, request_id: str) -> Reply:
        self._inbox.expect(request_id)
        try:
            await self._send(stream, message)
        except BaseException:
            self._inbox.forget([request_id])
            raise
        (reply,) = await self._replies([request_id])
        return reply

    async def _replies(self, request_ids: Sequence[str]) -> list[Reply]:
        """The replies to ``request_ids`` (expected, and sent), in order."""
        timeout = self.settings.request_timeout_seconds
        async with self._redis_errors():  # the reply reader's own failure
            try:
                return await self._inbox.wait_all(request_ids, timeout)
            except TimeoutError:
                raise BrainUnavailableError(
                    f"no answer from the regions of brain {self.settings.brain_id!r} within "
                    f"{timeout:g} s: are they running (Brain.create(run_regions=True) or "
                    "`neurram run`)?"
                ) from None

    def _reply_to(self, wait: bool) -> str:
        """Where a stimulus's outcome goes: this client's inbox, or its tally for flush()."""
        return self._inbox.stream if wait else self._tally

    async def _publish(self, batch: Sequence[Stimulus], *, wait: bool) -> list[Stimulus]:
        """Send ``batch`` to the sensory stream in pipelines, each at most the throttle's
        credit (:meth:`_throttle`) and one ring; each enters the sensory buffer when it is
        sent (``perceived_at`` stamped then), however long backpressure held it. Stimuli
        sent with ``wait=False`` are counted for :meth:`flush` as they go. Returns them as
        sent."""
        sent: list[Stimulus] = []
        while len(sent) < len(batch):
            await self._throttle(len(sent), len(batch))
            now = time.time()
            chunk = [
                msgspec.structs.replace(s, perceived_at=now)
                for s in batch[len(sent) : len(sent) + max(1, self._flow.credit())]
            ]
            await self._send("sensory", *chunk)
            self._flow.sent(len(chunk))
            sent.extend(chunk)
            if not wait:
                self._unawaited += len(chunk)
        return sent

    async def _ask(self, stream: str, request: RecallRequest | SleepRequest) -> Reply:
        """Send a request, await its reply, raise the error it reports, refresh the view
        (from the reply when it carries working memory)."""
        reply = await self._request(stream, request, request.request_id)
        if isinstance(reply, RecallReply | SleepReply) and reply.error:
            raise NeurramError(f"{stream} failed: {reply.error}")
        await self._refresh(reply.working_memory if isinstance(reply, RecallReply) else None)
        return reply

    async def _throttle(self, sent: int, total: int) -> None:
        """Backpressure for stimuli sent without awaiting each (``perceive(wait=False)``,
        :meth:`perceive_many`): hold the caller while a stimulus sent now would wait for the
        SensoryCortex longer than ``backpressure_ttl_share`` of the sensory TTL (the stimuli
        ahead of it over the rate it reads them), or the oldest one waiting already has, or a
        runner keeps brains waiting that long (:mod:`neurram.bus.pressure`), or more than
        ``max_backlog`` stimuli are in flight (see :class:`~neurram.bus.flow.Throttle`).
        Raises :class:`BrainUnavailableError`, the rest unsent (``sent`` of the call's
        ``total`` were), when, held back, the regions made no progress for
        ``request_timeout_seconds``."""
        if not self._flow.due():
            return
        pause = Backoff(THROTTLE_PAUSE, THROTTLE_PAUSE_CAP)
        while (verdict := self._flow.verdict(load := await self._load(), time.monotonic())) != "go":
            if verdict == "stalled":
                raise BrainUnavailableError(
                    f"perceive held back: the regions of brain {self.settings.brain_id!r} made "
                    f"no progress for {self._flow.stall_seconds:g} s ({load.backlog} stimuli in "
                    f"flight, the oldest unattended for {load.age:.1f} s; {sent} of the "
                    f"{total} of this call sent); are they running "
                    "(Brain.create(run_regions=True) or `neurram run`)?"
                )
            await asyncio.sleep(pause.delay())

    async def backlog(self) -> int:
        """Stimuli perceived but not yet through the pipeline's streams."""
        return (await self._load()).backlog

    async def _load(self) -> Load:
        async with self._redis_errors():
            streams = [self._store.ns.key(s) for s in PIPELINE]
            load = await measure(
                self._connection.redis, streams[0], streams, self._connection.doorbell
            )
        if load.pressure is None and not self._pressure_refused:
            self._pressure_refused = True
            log.warning(
                "backpressure.runner_pressure_refused",
                brain=self.settings.brain_id,
                hint="grant this brain's user again (neurram grant --brain) so its "
                "backpressure counts the runners' load",
            )
        return load

    async def _refresh(self, working: Sequence[msgspec.Raw] | None = None) -> None:
        """Bring :attr:`working_memory` up to date: from ``working`` when a reply carried it
        (each engram as stored, decoded when :attr:`working_memory` is next read), else
        read."""
        if working is not None:
            self._working_blobs = working
            return
        async with self._redis_errors():
            self._working_memory = await self._store.working_memory()
        self._working_blobs = None

    @contextlib.asynccontextmanager
    async def _redis_errors(self) -> AsyncIterator[None]:
        if self._closed:
            raise BrainClosedError(f"brain {self.settings.brain_id!r} is closed; create a new one")
        try:
            yield
        except NeurramError:  # typed already (a ConnectionError, so an OSError, too)
            raise
        except NoPermissionError as exc:
            user = self._connection.user
            raise BrainAccessDeniedError(access.denial(user, self.settings.brain_id)) from exc
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            if credentials_refused(exc):  # revoked or rotated since
                user, url = self._connection.user, self._connection.url
                raise BrainAccessDeniedError(access.refused(user, url)) from exc
            raise BrainUnavailableError(
                f"Redis at {access.redact(self._connection.url)} is unreachable: {exc}"
            ) from exc
