"""Writing the SYNTHETIC full-size replica of the CAS layout: time, rate, disk and memory, per part.

    .venv/bin/python benchmarks/replica.py                  # → /work/replica and benchmarks/results/replica-<host>.*
    .venv/bin/python benchmarks/replica.py --root /data/replica --workers 2
    .venv/bin/python benchmarks/replica.py --quick          # fraction 0.01 in a temporary folder, prints only

Runs what `landslide-core replica ROOT` runs (landslide_core.sources.cas.replica.write_replica with the four
public datasets' stand-ins at their real sizes) in a fresh process, into a root outside the repository that is kept
afterwards (the rehearsal stages read it). One row per part: the CAS tiles and each stand-in, with what it wrote,
its bytes on disk (allocated blocks, as du counts them) and apparent bytes, its busy seconds (the sum of its jobs'
times, in whichever process ran each), its CPU seconds (which leave out waiting for a core that other work on the
machine holds) and the largest peak resident set of one of its jobs; then a row for the
whole run: wall seconds, CAS tiles per wall second, all bytes, the peak resident set of the main process and of the
largest worker, and two checks: a CAS scan of the root (tiles, recognised folders, problems) and a second run,
which must find everything written and write nothing. The issue's targets are 15 minutes on 2 cores and 25 GB.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

from landslide_core.runtime.memory import process_status_mib

REPOSITORY = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 15 * 60
TARGET_BYTES = 25e9
QUICK_FRACTION = 0.01


def run_core(root: str, *, seed: int, fraction: float, workers: int, progress: bool) -> list[dict[str, object]]:
    """Write the replica, measure it, scan it and run it again; the rows of the record (in the fresh process)."""
    from landslide_core.sources import get_source
    from landslide_core.sources.cas.replica import CAS_PART, replica_usage, write_replica
    from landslide_core.sources.replica_stand_ins import replica_stand_ins

    report = write_replica(root, seed=seed, fraction=fraction, workers=workers, progress=progress,
                           stand_ins=replica_stand_ins())
    main_peak = process_status_mib("VmHWM")
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kB on Linux; workers have exited
    usage = replica_usage(root)
    start = time.perf_counter()
    cas = get_source("cas")
    scan = cas.scan(root)
    scan_seconds = time.perf_counter() - start
    again = write_replica(root, seed=seed, fraction=fraction, workers=workers, progress=False,
                          stand_ins=replica_stand_ins())
    rows: list[dict[str, object]] = []
    for part in report.parts:
        files, on_disk, apparent = usage[part.name]
        rows.append({
            "part": part.name,
            "samples_written": part.samples,
            "samples_already_there": part.skipped,
            "files": files,
            "bytes_on_disk": on_disk,
            "apparent_bytes": apparent,
            "busy_seconds": part.seconds,
            "cpu_seconds": part.cpu_seconds,
            "samples_per_busy_s": round(part.samples / part.seconds, 2) if part.seconds else None,
            "peak_rss_mib_job": None if part.peak_rss_mib is None else round(part.peak_rss_mib, 1),
        })
    cas_part = next(part for part in report.parts if part.name == CAS_PART)
    total_bytes = sum(on_disk for _, on_disk, _ in usage.values())
    rows.append({
        "part": "total",
        "samples_written": sum(part.samples for part in report.parts),
        "files": sum(files for files, _, _ in usage.values()),
        "bytes_on_disk": total_bytes,
        "apparent_bytes": sum(apparent for _, _, apparent in usage.values()),
        "busy_seconds": round(sum(part.seconds for part in report.parts), 2),
        "cpu_seconds": round(sum(part.cpu_seconds for part in report.parts), 2),
        "wall_seconds": report.seconds,
        "workers": report.workers,
        "cas_tiles_per_wall_s": round(cas_part.samples / report.seconds, 2),
        "peak_rss_mib_main": None if main_peak is None else round(main_peak, 1),
        "peak_rss_mib_largest_worker": round(worker_peak, 1),
        "within_15_min": "yes" if report.seconds <= TARGET_SECONDS else "no",
        "within_25_gb": "yes" if total_bytes <= TARGET_BYTES else "no",
        "scan_tiles": len(scan.records),
        "scan_folders_recognised": sum(folder.subdataset is not None for folder in scan.folders),
        "scan_problems": len(scan.problems),
        "scan_seconds": round(scan_seconds, 2),
        "data_label": cas.data_label(root),
        "rerun_seconds": again.seconds,
        "rerun_samples_written": sum(part.samples for part in again.parts),
    })
    return rows


def main(argv: list[str] | None = None) -> int:
    from landslide_core.runtime.workers import available_cores

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=REPOSITORY.parent / "replica",
                   help="where the replica goes and stays (default: %(default)s; not inside the repository)")
    p.add_argument("--fraction", type=float, default=1.0, help="share of the full size (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the replica (default: %(default)s)")
    p.add_argument("--workers", type=int, default=available_cores(), help="processes (default: the usable cores)")
    p.add_argument("--quick", action="store_true",
                   help=f"fraction {QUICK_FRACTION} in a temporary folder, print the rows, write no record")
    p.add_argument("--out", type=Path, default=REPOSITORY / "benchmarks" / "results", help="folder for the record")
    args = p.parse_args(argv)
    if not args.quick and args.root.resolve().is_relative_to(REPOSITORY):
        p.error(f"--root {args.root} is inside the repository; the replica is tens of GB, put it elsewhere")
    started = time.time()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="replica-") as scratch:
        root = Path(scratch) / "replica" if args.quick else args.root
        fraction = QUICK_FRACTION if args.quick else args.fraction
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:  # a fresh process: its own peak RSS
            rows = pool.submit(run_core, str(root), seed=args.seed, fraction=fraction, workers=args.workers,
                               progress=sys.stderr.isatty()).result()
    import torch

    from landslide_core.experiments.throughput import device_slug

    host = device_slug(torch.device("cpu"))
    table = pd.DataFrame(rows).assign(host=host)
    with pd.option_context("display.width", 250, "display.max_columns", None):
        print(table.T.to_string(header=False))
    print("load average (1, 5, 15 min) before:", load_before, "after:", os.getloadavg())
    total = rows[-1]
    ok = total["scan_problems"] == 0 and total["rerun_samples_written"] == 0
    if args.quick:
        return 0 if ok else 1
    from landslide_core.provenance import collect_provenance, write_record

    provenance = dataclasses.replace(
        collect_provenance(parameters={"seed": args.seed, "fraction": fraction, "workers": args.workers},
                           data_root=str(root), started=started,
                           extra={"load_average_1_5_15_min_before": load_before,
                                  "load_average_1_5_15_min_at_end": os.getloadavg(),
                                  "target_seconds": TARGET_SECONDS, "target_bytes": TARGET_BYTES}),
        data_kind="SYNTHETIC full-size replica of the CAS layout and of four public datasets' formats "
                  "(landslide_core.sources.cas.replica), not CAS imagery",
    )
    paths = write_record(table, args.out / f"replica-{host}", provenance,
                         caption="Writing the synthetic full-size replica: per part what was written, bytes on disk, "
                                 "busy seconds and peak memory; wall time, scan and rerun of the whole")
    print("written:", *(str(path) for path in paths), sep="\n  ")
    print(f"the replica stays at {root}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
