"""Scene prediction at scale: time and peak memory of `predict_scene` on synthetic scenes up to 32768×32768.

    .venv/bin/python benchmarks/scene_scale.py            # → benchmarks/results/scene-scale-<device>.{csv,json}
    .venv/bin/python benchmarks/scene_scale.py --quick    # pointwise at 1024 and 2048, prints only
    .venv/bin/python benchmarks/scene_scale.py --device cuda --model unet --sizes 2048 8192

Writes each scene once (landslide_core.predict.scale.write_large_scene: a rendered demo texture, mirrored tile by
tile, written window by window) under --work, then predicts it with each model in a fresh process and reads that
process's peak resident set (VmHWM) at its end, beside its resident set before predicting. Defaults (for a 2-core
CPU): the pointwise model (one fixed 1×1 convolution: the pipeline's own cost) at 2048, 8192 and 32768 px, and an
untrained U-Net at 1024, 2048 and 4096 px; tiles of 512 with 128 px overlap, chunks of 2048, a cache of 64 tiles,
batches of 4. --model without --sizes takes the pointwise sizes for pointwise and the U-Net sizes for any network.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
POINTWISE_SIZES = (2048, 8192, 32768)
NETWORK_SIZES = (1024, 2048, 4096)
QUICK_SIZES = (1024, 2048)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from landslide_core.models import MODEL_NAMES
    from landslide_core.predict.scale import POINTWISE

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", help="scene sides in px, for every model (default: per model)")
    p.add_argument("--model", action="append", choices=(POINTWISE, *MODEL_NAMES),
                   help="a model to measure; repeat for several (default: pointwise and unet)")
    p.add_argument("--device", default="cpu", help="where the model runs (default: cpu)")
    p.add_argument("--tile", type=int, default=512)
    p.add_argument("--overlap", type=int, default=128)
    p.add_argument("--chunk", type=int, default=2048)
    p.add_argument("--cache-tiles", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seed", type=int, default=0, help="seed of the scenes' texture (default 0)")
    p.add_argument("--out-dir", type=Path, default=REPOSITORY / "benchmarks" / "results",
                   help="folder for the record (default: benchmarks/results)")
    p.add_argument("--work", type=Path, help="folder for the scenes and outputs (default: a temporary one in /tmp)")
    p.add_argument("--keep", action="store_true", help="keep the scenes and outputs (default: removed at the end)")
    p.add_argument("--quick", action="store_true", help="pointwise at 1024 and 2048 px; prints, writes no record")
    return p.parse_args(argv)


def plan(args: argparse.Namespace) -> list[tuple[str, int]]:
    """(model, side) pairs, smallest scenes first, each model in the order given."""
    from landslide_core.predict.scale import POINTWISE

    if args.quick:
        return [(POINTWISE, side) for side in QUICK_SIZES]
    models = args.model or [POINTWISE, "unet"]
    runs = [(m, s) for m in models for s in (args.sizes or (POINTWISE_SIZES if m == POINTWISE else NETWORK_SIZES))]
    return sorted(dict.fromkeys(runs), key=lambda run: (run[1], models.index(run[0])))


def run(args: argparse.Namespace, work: Path, written: list[Path]) -> None:
    """Measure every planned run; write the record unless --quick. Adds what it writes under ``work`` to ``written``."""
    import torch
    from tqdm import tqdm

    from landslide_core.experiments.throughput import device_slug
    from landslide_core.io.checksums import file_sha256
    from landslide_core.predict.scale import (
        RECORD_PREFIX,
        UNTRAINED_NOTE,
        marker_path,
        measure_scene,
        scene_scale_frame,
        summary,
        write_large_scene,
    )
    from landslide_core.provenance import collect_provenance, write_record

    started, load_before = time.time(), os.getloadavg()[0]
    runs = plan(args)
    scenes: dict[int, Path] = {}
    rows = []
    for model, side in tqdm(runs, desc="scene scale", unit="run"):
        if side not in scenes:
            scenes[side] = write_large_scene(work / f"scene-{side}-seed{args.seed}.tif", side, seed=args.seed)
            written += [scenes[side], marker_path(scenes[side])]
        out = work / f"out-{model}-{side}"
        written.append(out)
        row = measure_scene(scenes[side], model, out=out, device=args.device, tile=args.tile, overlap=args.overlap,
                            batch_size=args.batch_size, chunk=args.chunk, cache_tiles=args.cache_tiles)
        rows.append(row)
        tqdm.write(f"{model} {side}²: {row['seconds']} s, peak RSS {row['process_peak_rss_mib']} MiB "
                   f"(before predicting {row['baseline_rss_mib']} MiB), {row['polygons']} polygons, "
                   f"process {row['process_s']} s")
    table = scene_scale_frame(rows)
    sentence = summary(table)
    print(table.to_string(index=False))
    print(sentence)
    if args.quick:
        return
    device = torch.device(args.device)
    if device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device() if device.index is None else device.index)
    checksums = {side: file_sha256(path) for side, path in scenes.items()}
    parameters = {"runs": [f"{m} {s}" for m, s in runs], "tile": args.tile, "overlap": args.overlap,
                  "chunk": args.chunk, "cache_tiles": args.cache_tiles, "batch_size": args.batch_size,
                  "seed": args.seed, "threshold": 0.5}
    extra = {"cpu_count": os.cpu_count(), "torch_threads": sorted({int(r["torch_threads"]) for r in rows}),
             "load_average_1min": {"start": load_before, "end": os.getloadavg()[0]},
             "scene_file_mib": {side: round(path.stat().st_size / 2**20, 1) for side, path in scenes.items()},
             "scene_sha256": checksums, "process_s": {f"{r['model']} {r['width']}": r["process_s"] for r in rows},
             "peak_rss": "VmHWM of the predicting process, read by itself at its end; baseline: its VmRSS after "
                         "the imports and building the model",
             "notes": [UNTRAINED_NOTE, "seconds: predict and blend, write the two COGs, vectorize the mask; "
                       "the scene itself is written before and not timed"],
             "summary": sentence}
    combined = hashlib.sha256("".join(checksums[s] for s in sorted(checksums)).encode()).hexdigest()
    provenance = replace(
        collect_provenance(parameters=parameters, data_root=work, device=args.device, started=started,
                           section=RECORD_PREFIX, extra=extra),
        data_kind="synthetic scenes: a rendered demo texture repeated, not CAS imagery", data_checksum=combined)
    stem = args.out_dir / f"{RECORD_PREFIX}-{device_slug(device)}"
    sizes = ", ".join(f"{m} {s}²" for m, s in runs)
    write_record(table, stem, provenance, caption=f"Scene prediction time and peak memory on {args.device}: {sizes}")
    print(f"record written: {stem}.csv and {stem}.json")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.work is None:
        work = Path(tempfile.mkdtemp(prefix="scene-scale-", dir="/tmp"))
        written = [work]
    else:
        work = args.work
        work.mkdir(parents=True, exist_ok=True)
        written = []
    try:
        run(args, work, written)
    finally:
        if args.keep:
            print(f"scenes and outputs kept in {work}")
        for path in [] if args.keep else written:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
