"""The Prometheus endpoint of regions run in process: counters move, engrams by layer show."""

from __future__ import annotations

from neurram import Layer
from neurram.bus import ConsumerStats
from neurram.runtime.metrics import Metrics
from tests.conftest import BrainFactory, eventually
from tests.scrape import free_port, scrape, value


async def test_handled_counts_rise_and_the_engram_shows_by_layer(make_brain: BrainFactory) -> None:
    port = free_port()
    brain = await make_brain(metrics_port=port, metrics_host="127.0.0.1", heartbeat_seconds=0.1)
    me = brain.settings.brain_id
    before = await scrape(port)
    for region in ("sensory_cortex", "thalamus", "amygdala", "hippocampus"):
        assert value(before, "neurram_messages_handled_total", brain=me, region=region) == 0
    assert value(before, "neurram_messages_dead_lettered_total", brain=me, region="amygdala") == 0

    await brain.perceive("The metrics test remembers the green umbrella")

    async def counted() -> bool:
        now = await scrape(port)
        handled = [
            value(now, "neurram_messages_handled_total", brain=me, region=region)
            for region in ("sensory_cortex", "thalamus", "amygdala", "prefrontal_cortex")
        ]
        return all(h == 1 for h in handled) and (
            value(now, "neurram_engrams", brain=me, layer=Layer.WORKING.value) == 1
        )

    await eventually(counted)
    now = await scrape(port)
    assert value(now, "neurram_engrams", brain=me, layer="long_term") == 0
    assert value(now, "neurram_handle_seconds_count", brain=me, region="amygdala") == 1
    for stream in ("held", "recall"):
        labels = {"brain": me, "region": "hippocampus", "stream": stream}
        assert value(now, "neurram_stream_lag", **labels) == 0
        assert value(now, "neurram_stream_pending", **labels) == 0


async def test_counts_carry_over_a_retired_consumer(make_brain: BrainFactory, redis) -> None:  # type: ignore[no-untyped-def]
    brain = await make_brain(run_regions=False)
    me = brain.settings.brain_id
    metrics = Metrics(brain.settings, redis, {"amygdala": ("attended",)}, me)
    first, second = ConsumerStats(handled=3, dead=1), ConsumerStats(handled=2)
    metrics.watch("amygdala", first)
    metrics.retire("amygdala", first)  # the brain was unloaded
    metrics.watch("amygdala", second)  # and loaded again
    port = metrics.serve(0, "127.0.0.1")
    try:
        samples = await scrape(port)
    finally:
        metrics.close()
    assert value(samples, "neurram_messages_handled_total", brain=me, region="amygdala") == 5
    assert value(samples, "neurram_messages_dead_lettered_total", brain=me, region="amygdala") == 1
