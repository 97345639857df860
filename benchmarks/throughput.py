"""Throughput and memory benchmark: images/s and peak memory per model and mode, and the data pipeline's tiles/s.

    .venv/bin/python benchmarks/throughput.py                      # CPU: batch 2, all four models, demo data
    .venv/bin/python benchmarks/throughput.py --device cuda --data-root /data/CAS   # GPU: batch 32

See benchmarks/README.md for what is measured and the targets. The logic lives in
landslide_core.experiments.throughput; this script only reads options and prints.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import pandas as pd

from landslide_core.errors import LandslideCoreError
from landslide_core.experiments.throughput import ThroughputConfig, pipeline_data, run_throughput
from landslide_core.models import MODEL_NAMES

REPOSITORY = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODEL_NAMES),
                   help="registry names or smp:<Architecture>/<encoder> (default: the paper's four)")
    p.add_argument("--batch-size", type=int, help="images per step (default: 32 on CUDA, 2 on CPU)")
    p.add_argument("--image-size", type=int, default=512, help="square input size in pixels (default 512)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:<index>")
    p.add_argument("--warmup", type=int, help="untimed steps first (default: 5 on CUDA, 1 on CPU)")
    p.add_argument("--steps", type=int, help="at least this many timed steps (default: 20 on CUDA, 1 on CPU)")
    p.add_argument("--seconds", type=float, help="and time steps for at least this long (default 10)")
    p.add_argument("--compile", action="store_true", help="torch.compile the project's (Runtime) path")
    p.add_argument("--threads", type=int,
                   help="CPU threads per measuring process (default: torch's); 1 on a CPU shared with other jobs")
    p.add_argument("--data-root", type=Path,
                   help="tiles in the CAS layout for the pipeline (default: the demo data in data/demo, made on first use)")
    p.add_argument("--workers", type=int, nargs="+", help="DataLoader worker counts (default: 0, 2 and the CPU count)")
    p.add_argument("--passes", type=int, default=3, help="timed passes over the tiles per worker count (default 3)")
    p.add_argument("--out", type=Path, default=REPOSITORY / "benchmarks" / "results",
                   help="folder for the records (default: benchmarks/results)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        config = ThroughputConfig(models=tuple(args.models), device=args.device, batch_size=args.batch_size,
                                 image_size=args.image_size, warmup=args.warmup, min_steps=args.steps,
                                 seconds=args.seconds, compile=args.compile, threads=args.threads,
                                 workers=tuple(args.workers) if args.workers else None, passes=args.passes)
        data_root, records = pipeline_data(args.data_root, REPOSITORY / "data" / "demo")
        result = run_throughput(config, data_root, records, out=args.out)
    except LandslideCoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.max_colwidth", 90):
        for title, table in (("Throughput", result.throughput), ("Data pipeline", result.pipeline),
                             ("Targets", result.targets)):
            print(f"\n{title}\n{table.to_string(index=False)}")
    print("\nwritten:", *(str(path) for path in result.paths), sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
