"""neurram against the original neurram 0.1.0, side by side, with the real MiniLM model.

    .venv/bin/python benchmarks/compare.py [--small 1000] [--large 5000] [--awaited 200]

Installs the original (no dependencies: it shares this environment's) into .bench/ on first
use, starts one embedded server for each side, runs benchmarks/workload.py once per side and
prints each measurement with the ratio (how many times better neurram is; > 1 is better),
and this neurram's ingest against its own encoder encoding the same texts in batches of 64,
in the same process right after the ingest (``raw_encode_per_s``).
``NEURRAM_MODEL=torch`` or ``onnx`` picks this neurram's encoder backend (the original's is
always torch).
"""

from __future__ import annotations

import argparse
import json
import os
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
    args = parser.parse_args()
    sizes = [str(args.small), str(args.large), str(args.awaited)]
    install_baseline()
    ours = measure(None, sizes)
    original = measure(str(BASELINE), sizes)
    print(f"{'measurement':<26} {'neurram':>10} {'0.1.0':>10} {'ratio':>7}")
    for name, value in ours.items():
        if name not in original:  # this neurram's own baseline
            print(f"{name:<26} {value:>10.1f} {'-':>10} {'':>7}")
            continue
        before = original[name]
        better = any(tag in name for tag in HIGHER_IS_BETTER)
        ratio = (value / before if better else before / value) if before and value else float("nan")
        print(f"{name:<26} {value:>10.1f} {before:>10.1f} {ratio:>6.1f}x")
    share = ours["ingest_per_s"] / ours["raw_encode_per_s"]
    print(f"ingest against the raw batch-64 encoding of the same texts: {share:.2f}x (target 0.9x)")


if __name__ == "__main__":
    main()
