"""Supersession's candidate search at scale: ANN libraries against exact search on the same data.

    .venv/bin/python benchmarks/ann_candidates.py [--engrams 100000] [--data DIR]

Needs the ``ann-bench`` extra (``pip install -e ".[ann-bench]"``: usearch, faiss-cpu). Two
data sets: the texts of ``benchmarks/load.py``'s stimuli in 384-dim hash-encoder embeddings
(``--engrams`` indexed, 300 more as the new engrams), and the real MiniLM (int8 ONNX)
embeddings of LoCoMo's turns, read at run time from ``--data`` (300 held out as the new
engrams). Baseline, same run, same data: the exact search ``EngramIndex.similar`` does (half
rows; SimSIMD's cdist for one vector, NumKong's packed product for a batch of 64).

Each ANN runs in a process of its own, so the resident memory it adds (library and index) is
its own. Per ANN: that memory, build time, CPU per query (batch 1 and 64), recall@10 against
exact search (ties counted: a returned row as close as the exact 10th counts), and
supersession's recall: of the exact 8 closest rows at a cosine of at least 0.7, the share
found when the ANN's 32 candidates are re-ranked exactly from the half rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from recall_quality import DATA, load

from neurram.encoder import resolve_encoder
from neurram.index import SIMILAR_LIMIT, half_cosines, packed_cosines
from neurram.settings import Settings

QUERIES = 300
K = 10
CANDIDATES = 32  # an ANN's candidates re-ranked exactly for supersession
THRESHOLD = Settings().supersede_similarity
# name -> (library, parameters)
ANNS: dict[str, tuple[str, dict[str, int | str]]] = {
    "usearch HNSW i8, M=8": ("usearch", {"dtype": "i8", "connectivity": 8}),
    "usearch HNSW f16, M=16": ("usearch", {"dtype": "f16", "connectivity": 16}),
    "faiss IVF-PQ 48 B, nprobe 16": ("faiss", {"m": 48, "nprobe": 16}),
}
Search = Callable[[np.ndarray, int], np.ndarray]  # (queries, k) -> row numbers, -1 for none


def rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGESIZE") / 2**20


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def build(library: str, params: dict[str, int | str], rows: np.ndarray) -> Search:
    n, dim = rows.shape
    if library == "usearch":
        from usearch.index import Index

        index = Index(
            ndim=dim, metric="ip", dtype=params["dtype"], connectivity=params["connectivity"]
        )
        index.add(np.arange(n), rows, threads=1)
        return lambda q, k: np.asarray(index.search(q, k, threads=1).keys, dtype=np.int64).reshape(
            len(q), -1
        )
    import faiss

    faiss.omp_set_num_threads(1)
    lists = max(16, min(1024, n // 64))
    ivf = faiss.IndexIVFPQ(
        faiss.IndexFlatIP(dim), dim, lists, int(params["m"]), 8, faiss.METRIC_INNER_PRODUCT
    )
    sample = np.random.default_rng(0).choice(n, min(n, 64 * lists), replace=False)
    ivf.train(rows[sample])
    ivf.add(rows)
    ivf.nprobe = int(params["nprobe"])
    return lambda q, k: ivf.search(q, k)[1]


def ann_side(name: str, folder: Path) -> dict[str, float]:
    """One ANN on the data in ``folder``: memory, build, speed and its raw answers."""
    library, params = ANNS[name]
    rows = np.load(folder / "rows.npy").astype(np.float32)
    queries = np.load(folder / "queries.npy").astype(np.float32)
    before, started, spent = rss_mib(), time.perf_counter(), cpu()
    search = build(library, params, rows)
    built, built_cpu = time.perf_counter() - started, cpu() - spent
    added = rss_mib() - before
    spent = cpu()
    found = np.concatenate([search(q[None, :], CANDIDATES) for q in queries])
    single = (cpu() - spent) / len(queries)
    spent = cpu()
    for start in range(0, len(queries), 64):
        search(queries[start : start + 64], CANDIDATES)
    batched = (cpu() - spent) / len(queries)
    np.save(folder / "found.npy", found)
    return {
        "rss_mib": added,
        "build_s": built,
        "build_cpu_s": built_cpu,
        "q1_ms": 1e3 * single,
        "q64_ms": 1e3 * batched,
    }


def exact_cpu(rows: np.ndarray, queries: np.ndarray) -> tuple[float, float]:
    """CPU per query of the exact search, one at a time and in batches of 64 (ms)."""
    half = rows.astype(np.float16)
    spent = cpu()
    for q in queries[:50]:
        half_cosines(half, q[None, :])
    single = (cpu() - spent) / 50
    spent = cpu()
    for start in range(0, len(queries), 64):
        packed_cosines(half, queries[start : start + 64])
    return 1e3 * single, 1e3 * (cpu() - spent) / len(queries)


def recalls(rows: np.ndarray, queries: np.ndarray, found: np.ndarray) -> tuple[float, float, int]:
    """Recall@10 (ties counted) and supersession's recall over the queries that have a row at
    ``THRESHOLD`` or closer (and how many have)."""
    half = rows.astype(np.float16)
    exact = packed_cosines(half, queries).T
    at_k, supersession = [], []
    for cosines, candidates in zip(exact, found, strict=True):
        candidates = candidates[candidates >= 0]
        tenth = np.partition(cosines, cosines.size - K)[cosines.size - K]
        at_k.append(np.count_nonzero(cosines[candidates[:K]] >= tenth - 1e-6) / K)
        closest = np.argsort(-cosines)[:SIMILAR_LIMIT]
        wanted = set(closest[cosines[closest] >= THRESHOLD].tolist())
        if wanted:
            reranked = candidates[np.argsort(-cosines[candidates])][:SIMILAR_LIMIT]
            supersession.append(len(wanted & set(reranked.tolist())) / len(wanted))
    return float(np.mean(at_k)), float(np.mean(supersession or [np.nan])), len(supersession)


def hash_data(engrams: int) -> tuple[np.ndarray, np.ndarray]:
    encoder = resolve_encoder("hash")
    texts = [f"load fact {i}: item {i} weighs {i % 97} kg" for i in range(engrams + QUERIES)]
    vectors = np.concatenate(
        [encoder.encode(texts[s : s + 5000]) for s in range(0, len(texts), 5000)]
    )
    return vectors[:engrams], vectors[engrams:]


def locomo_data(folder: Path) -> tuple[np.ndarray, np.ndarray] | None:
    files = sorted(folder.glob("*.json"))
    if not files:
        return None
    texts = [turn.content for path in files for turn in load(path).turns]
    vectors = np.asarray(resolve_encoder().encode(texts), dtype=np.float32)
    held = np.random.default_rng(0).choice(len(texts), QUERIES, replace=False)
    kept = np.setdiff1d(np.arange(len(texts)), held)
    return vectors[kept], vectors[held]


def compare(label: str, rows: np.ndarray, queries: np.ndarray) -> None:
    one, batch = exact_cpu(rows, queries)
    print(f"\n{label}: {len(rows):,} rows, {len(queries)} new engrams")
    print(
        "| search | added RSS | build | CPU/query, batch 1 | batch 64 | recall@10 | supersession |"
    )
    print("|---|---|---|---|---|---|---|")
    print(f"| exact (baseline) | 0 MiB | 0 s | {one:.3f} ms | {batch:.3f} ms | 1.000 | 1.000 |")
    with tempfile.TemporaryDirectory(prefix="nr-ann-") as folder:
        np.save(Path(folder) / "rows.npy", rows)
        np.save(Path(folder) / "queries.npy", queries)
        for name in ANNS:
            out = subprocess.run(
                [sys.executable, __file__, "--side", name, "--folder", folder],
                capture_output=True,
                text=True,
                check=True,
            )
            side = json.loads(out.stdout.splitlines()[-1])
            at_k, supersession, counted = recalls(
                rows, queries, np.load(Path(folder) / "found.npy")
            )
            print(
                f"| {name} | {side['rss_mib']:.1f} MiB | {side['build_s']:.1f} s "
                f"| {side['q1_ms']:.3f} ms | {side['q64_ms']:.3f} ms | {at_k:.3f} "
                f"| {supersession:.3f} (of {counted}) |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engrams", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=DATA, help="folder of LoCoMo JSON files")
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(ann_side(args.side, args.folder)))
        return
    compare("hash-encoder load texts", *hash_data(args.engrams))
    real = locomo_data(args.data)
    if real is None:
        print(f"\nno LoCoMo files in {args.data}: the MiniLM comparison is skipped")
    else:
        compare("LoCoMo turns, MiniLM", *real)


if __name__ == "__main__":
    main()
