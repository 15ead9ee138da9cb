"""Which regions serve, and which a stimulus goes through."""

from __future__ import annotations

from neurram.runtime import topology
from neurram.settings import Settings

LONG_TERM = ("neocortex", "cerebellum", "basal_ganglia")  # they consume what is consolidated


def test_a_stimulus_goes_through_every_region_but_the_sleep_cycle() -> None:
    assert topology.downstream(topology.select(Settings()), "sensory") == {
        "sensory_cortex",
        "thalamus",
        "amygdala",
        "prefrontal_cortex",
        "hippocampus",
        *LONG_TERM,
    }


def test_a_region_added_by_settings_is_downstream_of_what_it_consumes() -> None:
    settings = Settings(regions={"auditor": "neurram.regions.thalamus:ThalamusActor"})
    every = topology.select(settings)
    assert "auditor" in topology.downstream(every, "sensory")  # consumes sensed
    assert topology.downstream(every, "sleep") == {"sleep_cycle", *LONG_TERM}
