"""Settings precedence (default < NEURRAM_* env < keyword) and the engram's stored form."""

from __future__ import annotations

import math
import os

import msgspec
import numpy as np
import pytest

from neurram.engram import Engram, Layer, MemoryType, dump_engram, load_engram
from neurram.errors import ConfigurationError
from neurram.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No NEURRAM_* variable of the developer's shell leaks into these tests."""
    for name in os.environ:
        if name.startswith("NEURRAM_"):
            monkeypatch.delenv(name)


def test_defaults_are_the_spec_numbers() -> None:
    s = Settings.load()
    assert s == Settings()
    assert (s.sensory_ttl_seconds, s.attention_threshold, s.context_hint_weight) == (3.0, 0.2, 0.3)
    assert (s.salience_boost_threshold, s.salience_stability_boost) == (0.75, 2.0)
    assert s.working_memory_capacity == 7
    assert (s.association_window, s.association_threshold) == (5, 0.35)
    assert (s.spread_decay, s.spread_hops, s.activation_floor) == (0.6, 2, 0.08)
    assert (s.procedural_min_stability, s.reward_shortcut) == (5.0, 0.3)
    assert (s.forgetting_threshold, s.consolidation_access_count) == (0.05, 3)
    assert s.consolidation_salience == 0.8
    assert s.max_content_bytes == 65536
    assert s.redis_url is None and s.brain_id == "default" and s.model is None
    assert s.redis_cluster is False


def test_env_overrides_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEURRAM_WORKING_MEMORY_CAPACITY", "9")
    monkeypatch.setenv("NEURRAM_ATTENTION_THRESHOLD", "0.25")
    monkeypatch.setenv("NEURRAM_REDIS_URL", "redis://cache:6379/2")
    monkeypatch.setenv("NEURRAM_AUTO_SLEEP", "true")
    monkeypatch.setenv("NEURRAM_REDIS_CLUSTER", "1")
    s = Settings.load()
    assert s.working_memory_capacity == 9
    assert s.attention_threshold == 0.25
    assert s.redis_url == "redis://cache:6379/2"
    assert s.auto_sleep is True
    assert s.redis_cluster is True


def test_keyword_overrides_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEURRAM_WORKING_MEMORY_CAPACITY", "9")
    monkeypatch.setenv("NEURRAM_BRAIN_ID", "from-env")
    s = Settings.load(working_memory_capacity=5, brain_id="agent-7")
    assert (s.working_memory_capacity, s.brain_id) == (5, "agent-7")


def test_keyword_none_leaves_env_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEURRAM_REDIS_URL", "redis://env:6379")
    assert Settings.load(redis_url=None).redis_url == "redis://env:6379"


@pytest.mark.parametrize("raw", ["inf", "INF", "Infinity", " inf "])
def test_sensory_ttl_inf_from_env(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("NEURRAM_SENSORY_TTL_SECONDS", raw)
    assert Settings.load().sensory_ttl_seconds == math.inf


def test_inf_spelled_string_is_a_valid_brain_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only numeric settings take "inf" as infinity; a brain may well be called "infinity"."""
    monkeypatch.setenv("NEURRAM_BRAIN_ID", "infinity")
    assert Settings.load().brain_id == "infinity"


def test_regions_from_env_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEURRAM_REGIONS", '{"amygdala": "mypkg.llm:LLMAmygdala"}')
    assert Settings.load().regions == {"amygdala": "mypkg.llm:LLMAmygdala"}


@pytest.mark.parametrize("raw", ["amygdala=mypkg:X", "{not json"])
def test_regions_bad_json(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("NEURRAM_REGIONS", raw)
    with pytest.raises(ConfigurationError, match="NEURRAM_REGIONS must be a JSON object"):
        Settings.load()


def test_regions_json_of_the_wrong_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEURRAM_REGIONS", '["amygdala"]')
    with pytest.raises(ConfigurationError, match="invalid setting"):
        Settings.load()


def test_unknown_keyword() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown setting\(s\) \['capacity'\]"):
        Settings.load(capacity=7)


def test_unparsable_env_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEURRAM_WORKING_MEMORY_CAPACITY", "seven")
    with pytest.raises(ConfigurationError, match="working_memory_capacity"):
        Settings.load()


def test_encoder_threads_from_the_environment_and_at_least_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings.load().encoder_threads is None  # the backend's default
    monkeypatch.setenv("NEURRAM_ENCODER_THREADS", "2")
    assert Settings.load().encoder_threads == 2
    with pytest.raises(ConfigurationError, match="encoder_threads must be at least 1"):
        Settings.load(encoder_threads=0)


def test_replace_and_frozen() -> None:
    s = Settings.load()
    assert s.replace(brain_id="x").brain_id == "x" and s.brain_id == "default"
    with pytest.raises(AttributeError):
        s.brain_id = "y"  # type: ignore[misc]


# --- the engram's stored form (msgpack) ---------------------------------------------------


def test_engram_round_trip_keeps_every_field_and_the_embeddings_as_float16() -> None:
    embedding = np.random.default_rng(3).normal(size=384).astype(np.float32)
    embedding[0] = np.float32(1 / 3)  # rounded to 11 bits
    engram = Engram(
        content="PIN is 1234",
        memory_type=MemoryType.SEMANTIC,
        salience=0.85,
        embedding=embedding,
        synaptic_strength=0.4,
        stability=2.5,
        encoded_at=1_700_000_000.123,
        last_accessed=1_700_000_100.456,
        access_count=3,
        associations=[("b", 0.6)],
        fragments=["f1", "f2"],
        fragment_embeddings=np.concatenate([embedding, -embedding]),
        context={"reward": 0.5, "modality": "text"},
        layer=Layer.WORKING,
    )
    loaded = load_engram(dump_engram(engram))
    assert loaded.embedding.dtype == np.float32
    assert loaded.embedding.tobytes() == as_float16(embedding).tobytes()
    assert loaded.fragment_embeddings.tobytes() == as_float16(engram.fragment_embeddings).tobytes()
    vectors = {"embedding": None, "fragment_embeddings": None}
    every_other_field = {**msgspec.structs.asdict(engram), **vectors}
    assert {**msgspec.structs.asdict(loaded), **vectors} == every_other_field
    assert loaded.memory_type is MemoryType.SEMANTIC and loaded.layer is Layer.WORKING


def test_engram_round_trip_of_an_unencoded_engram() -> None:
    loaded = load_engram(dump_engram(Engram(content="x")))
    assert loaded.embedding.dtype == np.float32 and loaded.embedding.size == 0


def test_float64_embedding_is_read_back_as_float32() -> None:
    embedding = np.array([0.1, 0.2, 0.3])
    loaded = load_engram(dump_engram(Engram(content="x", embedding=embedding)))  # type: ignore[arg-type]
    assert loaded.embedding.tobytes() == as_float16(embedding).tobytes()


def as_float16(vector: np.ndarray) -> np.ndarray:
    """``vector`` as it rests in the store: rounded to float16, read back as float32."""
    return vector.astype(np.float16).astype(np.float32)


def test_forgetting_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert (defaults.forgetting_law, defaults.stability_unit_hours) == ("power", 72.0)
    assert defaults.silent_retention_days is None
    monkeypatch.setenv("NEURRAM_FORGETTING_LAW", "exponential")
    monkeypatch.setenv("NEURRAM_SILENT_RETENTION_DAYS", "30")
    loaded = Settings.load()
    assert (loaded.forgetting_law, loaded.silent_retention_days) == ("exponential", 30.0)
    with pytest.raises(ConfigurationError):
        Settings.load(forgetting_law="hyperbolic")
    with pytest.raises(ConfigurationError):
        Settings.load(stability_unit_hours=0)
