"""Prometheus metrics of the regions this process runs, served over HTTP by the official
``prometheus-client`` (``metrics_port`` setting, ``neurram run --metrics-port P``).

Per region (labels ``brain``, ``region``; ``brain`` is "*" for a runner that serves more
than one brain, whose gauges per stream and per layer are then left out):
  neurram_messages_handled_total, _failed_total, _dead_lettered_total, _redelivered_total
      counters, read from each consumer's counts at scrape (kept across actor restarts)
  neurram_handle_seconds   histogram: time to handle one batch
  neurram_stream_lag, neurram_stream_pending   gauges per consumed ``stream``: entries not yet
      delivered to the region's group, and delivered but not acknowledged
Per brain: neurram_engrams (label ``layer``) gauge.

Counters are this process's; lag and pending belong to the group, so every process serving
a region reports the same value (aggregate them with max, not sum). Gauges are refreshed on
the event loop every heartbeat period. Counting engrams by layer reads every engram (decoding
only its layer), so it runs at most ``LAYER_COUNT_SHARE`` of the time: after a count that took
``t`` seconds, the next waits at least ``t / LAYER_COUNT_SHARE``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from wsgiref.simple_server import WSGIServer

import redis.asyncio as aioredis
import structlog
from prometheus_client import CollectorRegistry, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from neurram.bus import ConsumerStats, Delivery, Namespace
from neurram.bus.bounds import group_backlog
from neurram.bus.consumer import Acked, Handler
from neurram.engram import Layer
from neurram.errors import ConfigurationError
from neurram.runtime.actor import stopped_within
from neurram.runtime.store import MemoryStore
from neurram.settings import Settings

T = TypeVar("T")

LAYER_COUNT_SHARE = 0.02
COUNTERS = {  # ConsumerStats field -> metric name (without _total) and help
    "handled": ("neurram_messages_handled", "Messages a region handled and acknowledged."),
    "failed": ("neurram_messages_failed", "Messages whose handling failed (left to retry)."),
    "dead": ("neurram_messages_dead_lettered", "Messages moved to the dead stream."),
    "redelivered": ("neurram_messages_redelivered", "Messages handled again (retry or claim)."),
}


ANY_BRAIN = "*"


@dataclass
class _RegionCounts:
    """The counts of a region's live consumers (one per loaded brain), plus those of the
    consumers that were retired (brains unloaded)."""

    live: list[ConsumerStats] = field(default_factory=list)
    retired: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))

    def total(self, name: str) -> int:
        return self.retired[name] + sum(int(getattr(stats, name)) for stats in self.live)


class _ConsumerCounters(Collector):
    """Reads the consumers' counts when Prometheus scrapes."""

    def __init__(self, brain: str, regions: Mapping[str, _RegionCounts]) -> None:
        self.brain = brain
        self.regions = regions

    def collect(self) -> Iterator[Metric]:
        for name, (metric, documentation) in COUNTERS.items():
            family = CounterMetricFamily(metric, documentation, labels=["brain", "region"])
            for region, counts in list(self.regions.items()):
                family.add_metric([self.brain, region], counts.total(name))
            yield family


class Metrics:
    """The metrics of the regions ``consumes`` (region -> streams it consumes) of ``brain``
    (None: of every brain the runner serves)."""

    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis,
        consumes: Mapping[str, Sequence[str]],
        brain: str | None,
    ) -> None:
        self.settings = settings
        self.brain = brain or ANY_BRAIN
        self.consumes = dict(consumes)
        self.store = None if brain is None else MemoryStore(redis, Namespace(brain))
        self.registry = CollectorRegistry()
        self._counts = {region: _RegionCounts() for region in consumes}
        self.registry.register(_ConsumerCounters(self.brain, self._counts))
        labels = ["brain", "region"]
        self.latency = Histogram(
            "neurram_handle_seconds", "Time to handle a batch.", labels, registry=self.registry
        )
        self.lag = Gauge(
            "neurram_stream_lag",
            "Entries of a stream not yet delivered to the region's group.",
            [*labels, "stream"],
            registry=self.registry,
        )
        self.pending = Gauge(
            "neurram_stream_pending",
            "Entries delivered to the region's group, not yet acknowledged.",
            [*labels, "stream"],
            registry=self.registry,
        )
        self.engrams = Gauge(
            "neurram_engrams",
            "Engrams of the brain by layer.",
            ["brain", "layer"],
            registry=self.registry,
        )
        self._server: WSGIServer | None = None
        self._layers_due = 0.0  # monotonic time of the next count by layer
        self.log = structlog.get_logger("neurram").bind(brain=self.brain, component="metrics")

    def watch(self, region: str, stats: ConsumerStats) -> None:
        """Count ``stats``, of a new consumer of ``region``, until it is retired."""
        self._counts.setdefault(region, _RegionCounts()).live.append(stats)

    def retire(self, region: str, stats: ConsumerStats) -> None:
        """``stats`` will not change any more: keep its counts, stop reading it."""
        counts = self._counts[region]
        counts.live.remove(stats)
        for name in COUNTERS:
            counts.retired[name] += getattr(stats, name)

    def timed(self, region: str, handler: Handler[T]) -> Handler[T]:
        """``handler``, observed into the latency histogram of ``region``."""
        observe = self.latency.labels(self.brain, region).observe

        async def timed_handler(batch: list[Delivery[T]]) -> Acked:
            started = time.perf_counter()
            try:
                return await handler(batch)
            finally:
                observe(time.perf_counter() - started)

        return timed_handler

    def serve(self, port: int, host: str) -> int:
        """Serve the metrics over HTTP (a daemon thread); returns the port (``0``: one free)."""
        try:
            self._server, _ = start_http_server(port, host, self.registry)
        except OSError as exc:
            raise ConfigurationError(f"cannot serve metrics on {host}:{port}: {exc}") from exc
        return int(self._server.server_port)

    @property
    def port(self) -> int | None:
        return None if self._server is None else int(self._server.server_port)

    async def refresh(self) -> None:
        """Read the groups' lag and pending, and (when due) count engrams by layer."""
        if self.store is None:
            return
        ns = self.store.ns
        for region, streams in self.consumes.items():
            for stream in streams:
                lag, pending = await group_backlog(self.store.redis, ns.key(stream), region)
                self.lag.labels(self.brain, region, stream).set(lag)
                self.pending.labels(self.brain, region, stream).set(pending)
        if time.monotonic() >= self._layers_due:
            started = time.monotonic()
            counts = await self.store.layer_counts()
            for layer in Layer:
                self.engrams.labels(self.brain, layer.value).set(counts[layer])
            spent = time.monotonic() - started
            self._layers_due = time.monotonic() + spent / LAYER_COUNT_SHARE

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh the gauges every heartbeat period until ``stop``."""
        while not stop.is_set():
            try:
                await self.refresh()
            except aioredis.RedisError as exc:
                self.log.warning("metrics.refresh_failed", error=str(exc))
            except Exception as exc:  # a bug here must not stop the regions: logged, retried
                self.log.exception("metrics.refresh_failed", error=repr(exc))
            await stopped_within(stop, self.settings.heartbeat_seconds)

    def close(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
