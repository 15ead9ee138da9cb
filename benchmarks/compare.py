"""neurram against the original neurram 0.1.0, side by side, with the real MiniLM model.

    .venv/bin/python benchmarks/compare.py [--small 1000] [--large 5000] [--awaited 200]
        [--runs 3]

Installs the original (no dependencies: it shares this environment's) into .bench/ on first
use, starts one embedded server for each run, runs benchmarks/workload.py ``--runs`` times
per side, the sides alternating (so a machine whose speed drifts weighs on both alike), and
prints each measurement's median with the ratio of the medians (how many times better
neurram is; > 1 is better), every run's figures beneath, and this neurram's ingest against
its own encoder encoding the same texts in batches of 64, in the same process right after
the ingest (``raw_encode_per_s``), as the median of the runs' ratios.
``NEURRAM_MODEL=torch`` or ``onnx`` picks this neurram's encoder backend (the original's is
always torch).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from neurram.runtime.embedded import EmbeddedServer

HERE = Path(__file__).resolve().parent
BASELINE = HERE.parent / ".bench" / "neurram-0.1.0"
HIGHER_IS_BETTER = ("per_s", "stored")


def install_baseline() -> None:
    if not (BASELINE / "neurram").is_dir():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--target",
                str(BASELINE),
                "neurram==0.1.0",
            ],
            check=True,
        )


def measure(pythonpath: str | None, sizes: list[str]) -> dict[str, float]:
    """One workload run in a fresh process on a fresh server."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    with tempfile.TemporaryDirectory(prefix="nr-bench-") as data:
        server = EmbeddedServer(Path(data))
        url = server.start()
        try:
            done = subprocess.run(
                [sys.executable, str(HERE / "workload.py"), url, *sizes],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
        finally:
            server.stop()
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=5000)
    parser.add_argument("--awaited", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [str(args.small), str(args.large), str(args.awaited)]
    install_baseline()
    ours: list[dict[str, float]] = []
    original: list[dict[str, float]] = []
    for _ in range(args.runs):
        ours.append(measure(None, sizes))
        original.append(measure(str(BASELINE), sizes))
    print(f"{'measurement, median':<26} {'neurram':>10} {'0.1.0':>10} {'ratio':>7}")
    for name in ours[0]:
        value = statistics.median(run[name] for run in ours)
        if name not in original[0]:  # this neurram's own baseline
            print(f"{name:<26} {value:>10.1f} {'-':>10} {'':>7}")
            continue
        before = statistics.median(run[name] for run in original)
        print(f"{name:<26} {value:>10.1f} {before:>10.1f} {ratio(name, value, before):>6.1f}x")
    for label, runs in (("neurram", ours), ("0.1.0", original)):
        for run in runs:
            print(label, " ".join(f"{k}={v:.1f}" for k, v in run.items()))
    shares = [run["ingest_per_s"] / run["raw_encode_per_s"] for run in ours]
    print(
        "ingest against the raw batch-64 encoding of the same texts: "
        f"{statistics.median(shares):.2f}x, median of {' / '.join(f'{s:.2f}' for s in shares)} "
        "(target 0.9x)"
    )


def ratio(name: str, value: float, before: float) -> float:
    """How many times better ``value`` is than ``before`` (higher or lower is better by
    the measurement's ``name``)."""
    if not before or not value:
        return float("nan")
    return value / before if any(tag in name for tag in HIGHER_IS_BETTER) else before / value


if __name__ == "__main__":
    main()
