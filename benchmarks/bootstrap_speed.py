"""Speed, memory and coverage of the block bootstrap over per-tile confusion counts at the scale of paper Table 5.

    .venv/bin/python benchmarks/bootstrap_speed.py            # → benchmarks/results/bootstrap-speed-<device>.{csv,json}
    .venv/bin/python benchmarks/bootstrap_speed.py --quick    # 1,000 resamples, 100 coverage repetitions, prints only

Speed: the Table 5 grid as 12 configurations × 3 seeds = 36 runs, all scored on the same 6,260 validation tiles
(30 % of CAS's 20,865) of 512×512 pixels, with counts simulated by the grouped model of
tests/scoring/test_bootstrap.py (group-level landslide share, detection and false-alarm rates). The tiles fall in
leakage-like groups whose sizes are log-uniform from 1 to 256 tiles (many small groups, a few whole scenes), in a
shuffled tile order. landslide_core.scoring.bootstrap.bootstrap_many resamples all 36 runs 10,000 times with one set
of block draws, twice, each in a fresh process: with the groups as blocks, and with every tile alone (the most
blocks, so the slowest). Wall time covers the call; peak memory is the process's VmHWM, reset just before the call,
against its VmRSS then, with chunks of resamples sized to 256 MiB of working memory. The target: at most 30 s per
grid.

Coverage: the coverage simulation of tests/scoring/test_bootstrap.py with more repetitions (60 groups of 8 tiles,
1,000 resamples, nominal 95 %): how often the IoU interval covers the known pooled IoU with the groups as blocks
(target 90-99 %) and with each tile alone (target: below 85 %).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))  # the coverage simulation lives with its test

from landslide_core.runtime.memory import process_status_mib  # noqa: E402
from landslide_core.scoring.bootstrap import Blocks, bootstrap_many  # noqa: E402
from tests.scoring.test_bootstrap import GROUPS, TILES_PER_GROUP, TRUE_IOU, coverage, simulate  # noqa: E402

TILE_PIXELS = 512 * 512
SECONDS_TARGET = 30.0
MEMORY_MIB = 256.0
COVERAGE_TARGET = (0.90, 0.99)
IGNORED_BELOW = 0.85


def leakage_like_labels(rng: np.random.Generator, tiles: int, largest: int = 256) -> np.ndarray:
    """Group numbers of ``tiles`` tiles in groups of log-uniform size 1 to ``largest``, in a shuffled tile order."""
    sizes = np.floor(np.exp(rng.uniform(0, np.log(largest + 1), tiles))).astype(np.int64)
    ends = np.cumsum(sizes)
    sizes = sizes[: int(np.searchsorted(ends, tiles)) + 1]
    sizes[-1] -= int(ends[len(sizes) - 1]) - tiles
    return rng.permutation(np.repeat(np.arange(len(sizes)), sizes))


def speed(structure: str, *, tiles: int, configurations: int, seeds: int, resamples: int, seed: int) -> dict:
    """Simulate the grid and resample it once, in this (fresh) process; one row of measurements."""
    rng = np.random.default_rng(seed)
    label = leakage_like_labels(rng, tiles)
    counts = {f"config{k:02d}": simulate(rng, label, seeds=seeds, pixels=TILE_PIXELS) for k in range(configurations)}
    blocks = Blocks.from_labels(label) if structure == "groups as blocks" else Blocks.singletons(tiles)
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM back to VmRSS: the peak of what follows
    rss_before = process_status_mib("VmRSS")
    start = time.perf_counter()
    replicates = bootstrap_many(counts, blocks, resamples=resamples, seed=seed, memory_mib=MEMORY_MIB)
    seconds = time.perf_counter() - start
    peak = process_status_mib("VmHWM")
    iou = replicates.table().query("metric == 'iou'")
    sizes = np.bincount(blocks.index)
    return {
        "measurement": f"speed: {structure}", "tiles": tiles, "blocks": blocks.n_blocks,
        "largest_block": int(sizes.max()), "tiles_alone": int((sizes == 1).sum()),
        "runs": configurations * seeds, "configurations": configurations, "resamples": resamples,
        "seconds": round(seconds, 2), "target": f"≤ {SECONDS_TARGET:g} s", "met": seconds <= SECONDS_TARGET,
        "rss_before_mib": round(rss_before, 1), "peak_rss_mib": round(peak, 1),
        "peak_growth_mib": round(peak - rss_before, 1),
        "mean_iou_interval_width_points": round(100 * float((iou["high"] - iou["low"]).mean()), 3),
    }


def coverage_rows(repetitions: int, resamples: int) -> list[dict]:
    """The test's coverage simulation, with the groups as blocks and with each tile alone."""
    start = time.perf_counter()
    grouped, ignored = coverage(repetitions, resamples)
    seconds = round(time.perf_counter() - start, 2)
    common = {"tiles": GROUPS * TILES_PER_GROUP, "runs": 1, "resamples": resamples,
              "repetitions": repetitions, "level": 0.95, "true_iou": round(TRUE_IOU, 4), "seconds": seconds}
    low, high = COVERAGE_TARGET
    return [
        {"measurement": "coverage: groups as blocks", **common, "blocks": GROUPS, "coverage": grouped,
         "target": f"{low:.0%} to {high:.0%}", "met": low <= grouped <= high},
        {"measurement": "coverage: each tile alone", **common, "blocks": GROUPS * TILES_PER_GROUP, "coverage": ignored,
         "target": f"< {IGNORED_BELOW:.0%}", "met": ignored < IGNORED_BELOW},
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiles", type=int, default=6260, help="validation tiles (default 6,260)")
    p.add_argument("--configurations", type=int, default=12, help="configurations of the grid (default 12)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per configuration (default 3)")
    p.add_argument("--resamples", type=int, default=10_000, help="resamples of the grid (default 10,000)")
    p.add_argument("--repetitions", type=int, default=1000, help="repetitions of the coverage simulation")
    p.add_argument("--coverage-resamples", type=int, default=1000, help="resamples per coverage repetition")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated counts and of the draws (default 0)")
    p.add_argument("--quick", action="store_true", help="1,000 resamples, 100 repetitions, print, write nothing")
    p.add_argument("--out", type=Path, default=REPOSITORY / "benchmarks" / "results", help="folder for the record")
    args = p.parse_args(argv)
    resamples, repetitions = (1000, 100) if args.quick else (args.resamples, args.repetitions)
    started = time.time()
    load_before = os.getloadavg()
    rows = []
    for structure in ("groups as blocks", "each tile alone"):
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:  # a fresh process: its own memory
            rows.append(pool.submit(speed, structure, tiles=args.tiles, configurations=args.configurations,
                                    seeds=args.seeds, resamples=resamples, seed=args.seed).result())
        print(f"{structure}: {rows[-1]['seconds']} s, peak +{rows[-1]['peak_growth_mib']} MiB", flush=True)
    rows += coverage_rows(repetitions, args.coverage_resamples)
    import torch

    from landslide_core.experiments.throughput import device_slug

    host = device_slug(torch.device("cpu"))
    table = pd.DataFrame(rows).astype({"largest_block": "Int64", "tiles_alone": "Int64", "configurations": "Int64",
                                        "repetitions": "Int64"})
    print(table.T.to_string(header=False))
    print("load average (1, 5, 15 min) before:", load_before, "after:", os.getloadavg())
    if args.quick:
        return 0
    from landslide_core.provenance import collect_provenance, write_record

    parameters = {"tiles": args.tiles, "configurations": args.configurations, "seeds": args.seeds,
                  "resamples": resamples, "repetitions": repetitions, "coverage_resamples": args.coverage_resamples,
                  "seed": args.seed, "memory_mib": MEMORY_MIB, "tile_pixels": TILE_PIXELS}
    extra = {"cpu_count": os.cpu_count(), "load_average_1_5_15_min_before": load_before,
             "load_average_1_5_15_min_at_end": os.getloadavg(),
             "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "OpenBLAS default (all cores)"),
             "peak_rss": "VmHWM of the measuring process, reset just before the call, against its VmRSS then"}
    provenance = dataclasses.replace(
        collect_provenance(parameters=parameters, data_root="(generated in memory)", device="cpu", started=started,
                           extra=extra),
        data_kind="simulated per-tile confusion counts with group effects (not CAS results)",
    )
    paths = write_record(table, args.out / f"bootstrap-speed-{host}", provenance,
                         caption=f"Block bootstrap of a Table 5 grid ({args.configurations * args.seeds} runs × "
                                 f"{args.tiles:,} tiles, {resamples:,} resamples): time and peak memory; coverage of "
                                 "its intervals with groups as blocks or ignored")
    print("written:", *(str(path) for path in paths), sep="\n  ")
    return 0 if table["met"].all() else 1


if __name__ == "__main__":
    sys.exit(main())
