"""Every tunable of neurram in one object.

Precedence, rising: the defaults below, ``NEURRAM_<NAME>`` environment variables, keyword
arguments (``Brain.create``), command-line flags (``neurram run --name``). The SPEC's numbers
live here and nowhere else.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Literal

import msgspec

from neurram.errors import ConfigurationError

ENV_PREFIX = "NEURRAM_"

ForgettingLaw = Literal["power", "exponential"]  # see neurram.dynamics
LogFormat = Literal["auto", "json", "console"]  # auto: console on a terminal, else JSON


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    """Configuration of one brain and the regions that serve it."""

    # where and who
    redis_url: str | None = None  # None: start the embedded server
    redis_cluster: bool = False  # redis_url is a node of a Redis Cluster (a brain: one slot)
    brain_id: str = "default"
    data_dir: str | None = None  # embedded server's data; default: the user's data directory
    model: str | None = None  # path or model name; "hash" = deterministic stand-in
    encoder_threads: int | None = None  # the model's threads per operation; None: onnx one
    # core fewer than the machine has for batches (a core for the event loop) and every core
    # for a few texts encoded alone, torch 1 (README: Settings); set: that many for every encode
    regions: dict[str, str] = msgspec.field(default_factory=dict)  # name -> "module:Class"
    # SensoryCortex and Thalamus
    sensory_ttl_seconds: float = 3.0
    attention_threshold: float = 0.2
    context_hint_weight: float = 0.3
    max_content_bytes: int = 64 * 1024
    # Amygdala
    fragment_above_words: int = 64  # longer content is also indexed sentence by sentence
    salience_boost_threshold: float = 0.75
    salience_stability_boost: float = 2.0
    # PrefrontalCortex
    working_memory_capacity: int = 7
    # Hippocampus
    association_window: int = 5
    association_threshold: float = 0.35
    spread_decay: float = 0.6
    spread_hops: int = 2
    activation_floor: float = 0.08
    supersede_similarity: float = 0.7  # a later memory this close, with another fact, counts
    superseded_weight: float = 0.5  # what a superseded engram's activation is multiplied by
    # Hippocampus: a cue matched by meaning and by words (SPEC 9); tuned on LoCoMo's dev split
    semantic_weight: float = 0.6  # cosine, min-max scaled over the brain
    lexical_weight: float = 0.4  # BM25 of the cue's stemmed terms, scaled by the brain's best
    temporal_weight: float = 0.2  # lift from a neighbour in time that is a strong match
    temporal_reach: int = 20  # only the cue's this many strongest matches lift neighbours
    context_weight: float = 0.3  # BM25 of the cue against an engram's context in its episode
    context_reach: int = 5  # engrams each side of an engram that make its context
    salience_weight: float = 0.25  # activation x (1 - w + w x salience); the original: 0.5
    retention_weight: float = 0.1  # activation x (1 - w + w x retention); the original: 1
    bm25_k1: float = 1.2
    bm25_b: float = 0.5
    episode_gap_seconds: float = 1800.0  # a longer gap in occurred_at starts a new episode
    temporal_link_weight: float = 0.7  # association between neighbours in time (spread)
    # long-term regions
    procedural_min_stability: float = 5.0
    reward_shortcut: float = 0.3
    # forgetting: the law, and how many hours one unit of the SPEC's stability grants is
    # (1 at encoding, 2 when salient, the Cerebellum's 5, the BasalGanglia's 1 + 4r, LTP gains)
    forgetting_law: ForgettingLaw = "power"
    stability_unit_hours: float = 72.0
    # SleepCycle
    forgetting_threshold: float = 0.05
    silent_retention_days: float | None = None  # None: silent engrams are kept for ever
    consolidation_access_count: int = 3
    consolidation_salience: float = 0.8
    sleep_interval_seconds: float = 60.0
    idle_seconds: float = 10.0
    auto_sleep: bool = False
    # runtime
    batch_size: int = 64
    block_ms: int = 1000
    heartbeat_seconds: float = 2.0
    max_deliveries: int = 5
    claim_idle_ms: int = 60_000
    lanes: int = 4  # brains each region of a runner serves at once
    index_cache_engrams: int = 60_000  # a runner unloads idle brains past this many engrams
    # (each loaded brain counts its indexed engrams plus 160): under 1 GiB with the model
    request_timeout_seconds: float = 30.0
    max_backlog: int = 10_000  # perceive(wait=False) waits while more are in flight
    backpressure_ttl_share: float = 0.3  # ... or while the oldest unattended stimulus has
    # waited longer than this share of sensory_ttl_seconds
    # observability
    metrics_port: int | None = None  # serve Prometheus metrics of the regions run here (0: any)
    metrics_host: str = "0.0.0.0"  # the address the metrics endpoint listens on
    log_format: LogFormat = "auto"

    def __post_init__(self) -> None:
        for name in (
            "working_memory_capacity",
            "batch_size",
            "max_content_bytes",
            "max_deliveries",
            "lanes",
            "index_cache_engrams",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("attention_threshold", "forgetting_threshold", "consolidation_salience"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
        if self.encoder_threads is not None and self.encoder_threads < 1:
            raise ValueError("encoder_threads must be at least 1 (or None: the backend's default)")
        if not self.stability_unit_hours > 0:
            raise ValueError("stability_unit_hours must be positive")
        if self.silent_retention_days is not None and not self.silent_retention_days >= 0:
            raise ValueError("silent_retention_days must be >= 0 (or None: keep for ever)")
        if not 0.0 < self.backpressure_ttl_share <= 1.0:
            raise ValueError("backpressure_ttl_share must be in (0, 1]")

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Defaults, then environment variables, then ``overrides`` whose value is not None."""
        values: dict[str, Any] = {}
        for name in cls.__struct_fields__:
            raw = os.environ.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = parse_setting(name, raw)
        unknown = set(overrides) - set(cls.__struct_fields__)
        if unknown:
            raise ConfigurationError(
                f"unknown setting(s) {sorted(unknown)}; known: {sorted(cls.__struct_fields__)}"
            )
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return msgspec.convert(values, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigurationError(f"invalid setting: {exc}") from exc

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied."""
        return msgspec.structs.replace(self, **changes)

    @property
    def data_path(self) -> Path:
        """Directory of the embedded server's data (AOF) and socket."""
        if self.data_dir:
            return Path(self.data_dir)
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(base) / "neurram"


def parse_setting(name: str, raw: str) -> Any:
    """A setting given as text (environment, command line); ``regions`` is JSON."""
    if name == "regions":
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(
                f'NEURRAM_REGIONS must be a JSON object like {{"amygdala": "pkg.mod:Class"}}: {exc}'
            ) from exc
        return parsed
    if name in _FLOAT_FIELDS and raw.strip().lower() in {"inf", "infinity"}:
        return math.inf
    return raw


_FLOAT_FIELDS = {f.name for f in msgspec.structs.fields(Settings) if f.type is float}
