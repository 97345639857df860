"""Batch fit: the largest training batch of each model that fits in this GPU's memory at 512×512.

    .venv/bin/python benchmarks/batch_fit.py                       # the paper's four models, cap 256
    .venv/bin/python benchmarks/batch_fit.py --models deeplabv3plus --cap 1024

Writes benchmarks/results/batch-fit-<device>.csv and .json (rewritten after each model).
The logic lives in landslide_core.experiments.batch_fit; this script only reads options and prints.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from landslide_core.errors import LandslideCoreError
from landslide_core.experiments.batch_fit import run_batch_fit
from landslide_core.models import MODEL_NAMES

REPOSITORY = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODEL_NAMES),
                   help="registry names or smp:<Architecture>/<encoder> (default: the paper's four)")
    p.add_argument("--device", default="cuda", help="a CUDA device: cuda (default) or cuda:<index>")
    p.add_argument("--image-size", type=int, default=512, help="square training images in pixels (default 512)")
    p.add_argument("--cap", type=int, default=256, help="largest batch size tried (default 256)")
    p.add_argument("--steps", type=int, default=2, help="training steps per batch size tried (default 2)")
    p.add_argument("--tolerance", type=float, default=0.125,
                   help="stop bisecting within this fraction of the largest fitting batch (default 0.125; 0: exact)")
    p.add_argument("--out", type=Path, default=REPOSITORY / "benchmarks" / "results",
                   help="folder for the record (default: benchmarks/results)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        table, paths = run_batch_fit(args.models, args.device, out=args.out, image_size=args.image_size, cap=args.cap,
                                     steps=args.steps, tolerance=args.tolerance)
    except LandslideCoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(table.to_string(index=False))
    print("\nwritten:", *(str(path) for path in paths), sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
