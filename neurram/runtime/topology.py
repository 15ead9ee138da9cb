"""Which regions run and which actor class serves each.

The table is, in rising precedence: the built-in regions, entry points of the group
``neurram.regions`` installed by other packages, and the ``regions`` setting
(``NEURRAM_REGIONS='{"amygdala": "mypkg.llm:LLMAmygdala"}'``). A name that is already in the
table replaces that region (same consumer group); a new name adds a region beside the
built-ins, with its own consumer group, so it sees every message of the streams it consumes.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from importlib.metadata import entry_points

from neurram.errors import ConfigurationError
from neurram.runtime.actor import Actor
from neurram.settings import Settings

ENTRY_POINT_GROUP = "neurram.regions"

BUILTIN_REGIONS: dict[str, str] = {
    "sensory_cortex": "neurram.regions.sensory_cortex:SensoryCortexActor",
    "thalamus": "neurram.regions.thalamus:ThalamusActor",
    "amygdala": "neurram.regions.amygdala:AmygdalaActor",
    "prefrontal_cortex": "neurram.regions.prefrontal_cortex:PrefrontalCortexActor",
    "hippocampus": "neurram.regions.hippocampus:HippocampusActor",
    "neocortex": "neurram.regions.neocortex:NeocortexActor",
    "cerebellum": "neurram.regions.cerebellum:CerebellumActor",
    "basal_ganglia": "neurram.regions.basal_ganglia:BasalGangliaActor",
    "sleep_cycle": "neurram.regions.sleep_cycle:SleepCycleActor",
}


def region_table(settings: Settings) -> dict[str, str]:
    """Region name -> "module:Class" of the actor that serves it."""
    table = dict(BUILTIN_REGIONS)
    table.update({ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)})
    table.update(settings.regions)
    return table


def load_actor(path: str) -> type[Actor]:
    """Import "module:Class" and check it is an :class:`Actor` that consumes something."""
    module_name, _, class_name = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(
            f"cannot load region actor {path!r} (want 'module:Class'): {exc}"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Actor) and cls.consumes):
        raise ConfigurationError(f"{path!r} is not an Actor subclass with streams in `consumes`")
    return cls


def select(settings: Settings, names: Sequence[str] = ()) -> dict[str, type[Actor]]:
    """The actor classes of ``names`` (every region in the table when empty)."""
    table = region_table(settings)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ConfigurationError(f"unknown region(s) {unknown}; known: {sorted(table)}")
    return {name: load_actor(table[name]) for name in (names or table)}


def downstream(actors: Mapping[str, type[Actor]], stream: str) -> set[str]:
    """The regions of ``actors`` a message of ``stream`` goes through: those that consume
    it, and those that consume what they emit, and so on."""
    found: set[str] = set()
    streams, seen = [stream], {stream}
    while streams:
        current = streams.pop()
        for name, cls in actors.items():
            if current in cls.consumes and name not in found:
                found.add(name)
                fresh = set(cls.emits) - seen
                seen |= fresh
                streams.extend(fresh)
    return found
