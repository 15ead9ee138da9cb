"""Many brains, one runner: 1,000 brains of 100 memories each through one `neurram run`, then
recalls from random brains beside recalls from one brain.

    .venv/bin/python benchmarks/many_brains.py
    .venv/bin/python benchmarks/many_brains.py --brains 50 --memories 20 --model hash  # quick

Starts a private embedded server (unless --redis-url is given) and one `neurram run` with no
--brain, so it serves every brain, with the real MiniLM model (``--model hash``: the stand-in)
and default settings. Brain i's memory j is a sentence like "Nora Castillo keeps the lantern
in the attic", drawn so that no two memories of a brain share a first name, a surname, or
both their thing and place. Its cue asks "Where does Nora Castillo keep the lantern?"; the
recall answers correctly when that memory ranks first and no result belongs to another brain
(memories that expired or were gated at ingest are counted apart: they cannot be recalled).

``--clients`` brains ingest at once, each through its own client (perceive with wait=False,
then flush()). Then ``--recalls`` recalls go to random brains from ``--recallers`` concurrent
clients, one client per recall, and as many go to one brain kept hot in the runner's cache.
Reports ingest throughput; recall accuracy and p50/p99 latency, split by whether the runner
had the brain loaded (its latest heartbeat says so); the runner's peak and final RSS; Redis
memory; the runner's connections (named through its URL's client_name, sampled every half
second); errors in the runner's log; brains loaded at the end and unloads. Exits 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import redis.asyncio as aioredis
from workload import neurram_run, rss_mib

from neurram import Brain
from neurram.bus import FIELD, Namespace
from neurram.bus.messages import MESSAGES, Heartbeat
from neurram.runtime.embedded import EmbeddedServer

FIRST = """Ada Agnes Alma Anton Aria Arlo Basil Beatrix Boris Bruno Calla Carmen Cedric Clara
Cyrus Dahlia Dante Delia Dmitri Dorian Edith Elena Elio Elsa Emeric Esme Ezra Fabian Felix
Fiona Flora Frida Gemma Gideon Greta Gustav Hana Hector Helga Hiro Hugo Ida Igor Ilse Ines Ivo
Jasper Joel Jonas Juno Kai Karin Keira Kira Lars Leona Linus Lionel Lucia Magnus Mara Marta
Milo Mina Nadia Nico Nora Odile Olaf Orla Oscar Otto Pablo Petra Pia Quentin Rafael Rhea Rosa
Rufus Sabine Silas Sonja Stellan Tamsin Teodor Thea Tobias Ulla Umberto Vera Viggo Vita Wanda
Wendel Xavier Yara Yusuf Zelda Zeno""".split()  # noqa: SIM905
LAST = """Acosta Almeida Alvarez Bakker Barros Bauer Becker Berg Bianchi Brandt Caruso Castillo
Chandra Conti Costa Dahl Delgado Dietrich Duarte Dubois Eklund Ekman Engel Esposito Falk
Ferreira Fischer Fontaine Forsberg Gallo Garnier Gomez Greco Haas Hansen Hartmann Holm Horvat
Ibarra Ito Iversen Jansen Jensen Jovanovic Kaiser Keller Kovacs Kowalski Kramer Lambert Larsen
Lehmann Lindqvist Lopez Lund Marchetti Mazur Mendes Mertens Morales Moreau Nakamura Navarro
Nielsen Nolan Novak Okafor Olsen Ortega Osei Park Pereira Petrov Quinn Quiroga Ramos Richter
Romano Rossi Sandoval Santos Sato Schmidt Silva Sorensen Tanaka Thorsen Torres Ueda Urban Varga
Vasquez Vogel Wagner Weber Wolff Yilmaz Young Zhou Zimmermann""".split()  # noqa: SIM905
THINGS = """lantern violin passport umbrella telescope compass teapot chessboard notebook hammer
kite camera blanket atlas trumpet sketchbook toolbox globe clock ladder""".split()  # noqa: SIM905
PLACES = """attic cellar garage pantry greenhouse workshop hallway bedroom kitchen study basement
shed library boathouse studio closet barn loft porch office""".split()  # noqa: SIM905

RUNNER = "many-brains-runner"  # connection names, as CLIENT LIST shows them
CLIENT = "many-brains-client"
SAMPLE_SECONDS = 0.5
TOP_K = 5
SEED = 2026
RSS_TARGET_MIB = 1024
CONNECTIONS_TARGET = 64


class Fact(NamedTuple):
    """Who keeps what where."""

    person: str
    thing: str
    place: str

    def sentence(self) -> str:
        return f"{self.person} keeps the {self.thing} in the {self.place}."

    def cue(self) -> str:
        return f"Where does {self.person} keep the {self.thing}?"


def draw_facts(brains: int, memories: int, rng: random.Random) -> list[list[Fact]]:
    """``memories`` facts per brain; within a brain no two share a first name, a surname, or
    both thing and place (so none supersedes another)."""
    spots = [(thing, place) for thing in THINGS for place in PLACES]
    return [
        [
            Fact(f"{first} {last}", thing, place)
            for first, last, (thing, place) in zip(
                rng.sample(FIRST, memories),
                rng.sample(LAST, memories),
                rng.sample(spots, memories),
                strict=True,
            )
        ]
        for _ in range(brains)
    ]


def named(url: str, name: str) -> str:
    """``url`` whose connections carry the name ``name`` (redis-py's client_name)."""
    return f"{url}{'&' if '?' in url else '?'}client_name={name}"


@dataclass
class Fleet:
    """The brains of a run, their facts, and the engram id each fact was stored as."""

    url: str  # for the benchmark's clients: their connections are named CLIENT
    admin: aioredis.Redis
    brain_ids: list[str]
    facts: list[list[Fact]]
    ids: list[list[str]] = field(default_factory=list)
    owner: dict[str, str] = field(default_factory=dict)  # engram id -> brain id
    kept: set[str] = field(default_factory=set)  # engram ids in the store after ingest

    async def client(self, brain: int) -> Brain:
        return await Brain.create(
            redis_url=self.url, brain_id=self.brain_ids[brain], run_regions=False
        )


@dataclass
class Recall:
    """One recall: its latency, whether its first result was the fact asked about, how many
    results came from another brain, whether the runner had the brain loaded beforehand,
    whether the fact was kept at all (not expired or gated at ingest)."""

    seconds: float
    correct: bool
    foreign: int
    loaded: bool
    kept: bool


async def ingest(fleet: Fleet, clients: int) -> Counter[str]:
    """Every brain's facts, ``clients`` brains at a time; fills ``fleet.ids`` and
    ``fleet.kept`` and returns the summed counts of flush()."""
    fleet.ids = [[] for _ in fleet.brain_ids]
    fates: Counter[str] = Counter()
    todo = iter(range(len(fleet.brain_ids)))

    async def one_client() -> None:
        for i in todo:
            brain = await fleet.client(i)
            try:
                fleet.ids[i] = [
                    (await brain.perceive(fact.sentence(), wait=False)).engram_id
                    for fact in fleet.facts[i]
                ]
                fates.update(await brain.flush())
                fleet.kept.update(e.engram_id for e in await brain.engrams())
            finally:
                await brain.close()

    await asyncio.gather(*(one_client() for _ in range(clients)))
    fleet.owner = {
        engram: brain
        for brain, ids in zip(fleet.brain_ids, fleet.ids, strict=True)
        for engram in ids
    }
    return fates


async def loaded(admin: aioredis.Redis, brain_id: str) -> bool:
    """Whether a runner has ``brain_id`` loaded: its latest heartbeat is not a last one."""
    newest: Any = await admin.xrevrange(Namespace(brain_id).key("heartbeat"), count=1)
    beat = MESSAGES.decode(newest[0][1][FIELD]) if newest else None
    return isinstance(beat, Heartbeat) and not beat.stopped


async def unloads(admin: aioredis.Redis, brain_id: str) -> int:
    """How often a runner unloaded ``brain_id``: its Hippocampus's last heartbeats."""
    beats: Any = await admin.xrange(Namespace(brain_id).key("heartbeat"))
    decoded = (MESSAGES.decode(fields[FIELD]) for _, fields in beats)
    return sum(
        isinstance(b, Heartbeat) and b.stopped and b.region == "hippocampus" for b in decoded
    )


async def recall(fleet: Fleet, brain: int, memory: int) -> Recall:
    """Memory ``memory`` of brain ``brain``, asked for through a new client."""
    asked = fleet.ids[brain][memory]
    client = await fleet.client(brain)
    try:
        was_loaded = await loaded(fleet.admin, fleet.brain_ids[brain])
        started = time.perf_counter()
        results = await client.recall(fleet.facts[brain][memory].cue(), top_k=TOP_K)
        seconds = time.perf_counter() - started
    finally:
        await client.close()
    return Recall(
        seconds,
        bool(results) and results[0][0].engram_id == asked,
        sum(fleet.owner.get(e.engram_id) != fleet.brain_ids[brain] for e, _ in results),
        was_loaded,
        asked in fleet.kept,
    )


async def recalls(
    fleet: Fleet, pairs: Sequence[tuple[int, int]], clients: int
) -> tuple[list[Recall], float]:
    """A recall of each (brain, memory) of ``pairs``, ``clients`` at a time; and the seconds
    they took together."""
    done: list[Recall] = []
    todo = iter(pairs)

    async def one_client() -> None:
        for brain, memory in todo:
            done.append(await recall(fleet, brain, memory))

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    return done, time.perf_counter() - started


async def watch(admin: aioredis.Redis, peaks: Counter[str]) -> None:
    """Keep in ``peaks`` the most connections seen at once under each name."""
    while True:
        peaks |= await connections(admin)
        await asyncio.sleep(SAMPLE_SECONDS)


async def connections(admin: aioredis.Redis) -> Counter[str]:
    """Connections to the server by name (unnamed ones under "")."""
    return Counter(str(client["name"]) for client in await admin.client_list())


def latency(done: list[Recall]) -> str:
    if not done:
        return "-"
    p50, p99 = np.percentile([r.seconds * 1000 for r in done], [50, 99])
    return f"{p50:.1f} / {p99:.1f} ms ({len(done):,} recalls)"


def accuracy(done: list[Recall]) -> str:
    """Facts ranked first among the recalls of kept facts, results from another brain, and
    recalls of facts not kept (which cannot be answered)."""
    kept = [r for r in done if r.kept]
    lost = f"; {len(done) - len(kept):,} asked for a fact not kept" if len(kept) < len(done) else ""
    return (
        f"{sum(r.correct for r in kept):,} of {len(kept):,} first "
        f"({sum(r.foreign for r in done)} results from another brain{lost})"
    )


def all_right(done: list[Recall]) -> bool:
    """Every kept fact ranked first, and no result from another brain."""
    return all((r.correct or not r.kept) and not r.foreign for r in done)


async def run(args: argparse.Namespace, redis_url: str) -> bool:
    """The benchmark; prints its table and returns whether every target was met."""
    rng = random.Random(SEED)
    stamp = int(time.time())
    admin = aioredis.from_url(redis_url)
    fleet = Fleet(
        named(redis_url, CLIENT),
        admin,
        [f"many-{stamp}-{i:04d}" for i in range(args.brains)],
        draw_facts(args.brains, args.memories, rng),
    )
    flags = ["--redis-url", named(redis_url, RUNNER)] + (
        ["--model", args.model] if args.model else []
    )
    peaks: Counter[str] = Counter()
    async with neurram_run(*flags) as runner:
        watcher = asyncio.create_task(watch(admin, peaks))
        started = time.perf_counter()
        fates = await ingest(fleet, args.clients)
        ingest_seconds = time.perf_counter() - started

        await recall(fleet, 0, 0)  # loads brain 0 for the baseline
        one, one_seconds = await recalls(
            fleet, [(0, rng.randrange(args.memories)) for _ in range(args.recalls)], args.recallers
        )
        pairs = [
            (rng.randrange(args.brains), rng.randrange(args.memories)) for _ in range(args.recalls)
        ]
        many, many_seconds = await recalls(fleet, pairs, args.recallers)

        watcher.cancel()
        at_end = await connections(admin)  # every client of the benchmark closed
        peaks |= at_end
        rss_peak, rss_now = rss_mib(runner.process.pid), rss_mib(runner.process.pid, peak=False)
        memory = await admin.info("memory")
        still = sum([await loaded(admin, brain) for brain in fleet.brain_ids])
        unloaded = sum([await unloads(admin, brain) for brain in fleet.brain_ids])
    await admin.aclose()

    total = args.brains * args.memories
    kept = fates["held"] + fates["stored"]
    hot = [r for r in many if r.loaded]
    cold = [r for r in many if not r.loaded]
    rows: list[tuple[str, str, str, bool | None]] = [
        (
            "ingest, end to end",
            f"{total / ingest_seconds:,.0f} memories/s ({ingest_seconds:,.0f} s, "
            f"{args.clients} brains at a time)",
            "",
            None,
        ),
        (
            "memories kept",
            f"{kept:,} of {total:,} (gated {fates['gated']}, expired {fates['expired']})",
            "all",
            kept == total,
        ),
        ("recall, random brains: correct", accuracy(many), "all", all_right(many)),
        ("recall, random brains: p50 / p99", latency(many), "", None),
        ("- brain not loaded beforehand", latency(cold), "", None),
        ("- brain loaded beforehand", latency(hot), "", None),
        ("recall, one brain: correct", accuracy(one), "all", all_right(one)),
        ("recall, one brain (loaded): p50 / p99", latency(one), "", None),
        (
            "recalls/s, random brains / one brain",
            f"{len(many) / many_seconds:.1f} / {len(one) / one_seconds:.1f} "
            f"({args.recallers} clients, each connecting for every recall)",
            "",
            None,
        ),
        (
            "runner RSS, peak / at the end",
            f"{rss_peak:,.0f} / {rss_now:,.0f} MiB",
            f"< {RSS_TARGET_MIB:,} MiB",
            rss_peak < RSS_TARGET_MIB,
        ),
        (
            "runner connections, peak / at the end",
            f"{peaks[RUNNER]} / {at_end[RUNNER]}",
            f"< {CONNECTIONS_TARGET}",
            peaks[RUNNER] < CONNECTIONS_TARGET,
        ),
        ("benchmark clients' connections, peak", f"{peaks[CLIENT]}", "", None),
        (
            "Redis used_memory (peak)",
            f"{memory['used_memory'] / 2**20:,.0f} MiB "
            f"({memory['used_memory_peak'] / 2**20:,.0f} MiB)",
            "",
            None,
        ),
        ("runner log: events at level error", f"{runner.errors:,}", "", None),
        (
            "brains loaded at the end; unloads",
            f"{still:,} of {args.brains:,}; {unloaded:,}",
            "",
            None,
        ),
    ]
    model = args.model or "all-MiniLM-L6-v2"
    print(
        f"\n{args.brains:,} brains x {args.memories} memories through one `neurram run` "
        f"(model {model}, default settings)\n"
    )
    print("| measurement | value | target |")
    print("|---|---|---|")
    for name, value, target, ok in rows:
        mark = "" if ok is None else (" ok" if ok else " MISSED")
        print(f"| {name} | {value} | {target}{mark} |")
    return all(ok is not False for _, _, _, ok in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brains", type=int, default=1000)
    parser.add_argument("--memories", type=int, default=100, help="per brain")
    parser.add_argument("--recalls", type=int, default=1000, help="to random brains, and to one")
    parser.add_argument("--clients", type=int, default=50, help="brains ingesting at once")
    parser.add_argument("--recallers", type=int, default=4, help="clients recalling at once")
    parser.add_argument("--redis-url", default=None, help="default: a private embedded server")
    parser.add_argument(
        "--model", default="", help='encoder of the runner; default "": the real MiniLM model'
    )
    args = parser.parse_args()
    most = min(len(FIRST), len(LAST))
    if not 1 <= args.memories <= most:
        parser.error(f"--memories must be 1 to {most}: a brain's memories differ in names")
    if args.redis_url:
        met = asyncio.run(run(args, args.redis_url))
    else:
        with tempfile.TemporaryDirectory(prefix="nr-many-") as data:
            server = EmbeddedServer(Path(data))
            try:
                met = asyncio.run(run(args, server.start()))
            finally:
                server.stop()
    raise SystemExit(0 if met else 1)


if __name__ == "__main__":
    main()
