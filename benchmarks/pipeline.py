"""Data pipeline rate: tiles/s on one core of decoding image and mask, and of making a training item, in one run.

    .venv/bin/python benchmarks/pipeline.py                                        # the demo data
    .venv/bin/python benchmarks/pipeline.py --data-root ../shared/data/cas-sample  # the real Hokkaido tiles

See benchmarks/README.md ("Data pipeline rate"). The logic lives in
landslide_core.experiments.pipeline_rate; this script only reads options and prints.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from landslide_core.errors import LandslideCoreError
from landslide_core.experiments.pipeline_rate import TARGET_RATIO, run_pipeline_rate
from landslide_core.experiments.throughput import pipeline_data

REPOSITORY = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", type=Path,
                   help="tiles in the CAS layout (default: the demo data in data/demo, made on first use)")
    p.add_argument("--rounds", type=int, default=7, help="timed rounds, each one pass of every measurement (default 7)")
    p.add_argument("--batch-size", type=int, default=16, help="tiles per normalised batch (default 16)")
    p.add_argument("--min-tiles", type=int, default=200,
                   help="tiles each measurement makes at least per round; a small sample is passed over again "
                        "(default 200)")
    p.add_argument("--out", type=Path, default=REPOSITORY / "benchmarks" / "results",
                   help="folder for the record (default: benchmarks/results)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        data_root, records = pipeline_data(args.data_root, REPOSITORY / "data" / "demo")
        result = run_pipeline_rate(data_root, records, rounds=args.rounds, batch_size=args.batch_size,
                                   min_tiles=args.min_tiles, out=args.out,
                                   progress=not args.quiet)
    except LandslideCoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.max_colwidth", 80):
        print(result.table.to_string(index=False))
    print(f"\ntraining item ÷ PIL decode: {result.ratio:.2f} (target ≥ {TARGET_RATIO}: "
          f"{'reached' if result.reached else 'not reached'}) on {len(records)} tiles of {data_root}")
    print("written:", *(str(path) for path in result.paths), sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
