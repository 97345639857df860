"""Every stage a user's run makes before training, at paper scale: time and peak memory per stage, quarter and full.

    .venv/bin/python benchmarks/rehearsal.py                    # /work/replica → benchmarks/results/rehearsal-<device>.*
    .venv/bin/python benchmarks/rehearsal.py --stages qc,statistics --root /data/replica
    .venv/bin/python benchmarks/rehearsal.py --quarter-only     # the quarter alone, to estimate the full run; prints
    .venv/bin/python benchmarks/rehearsal.py --quick            # a tiny replica in /tmp; prints, writes no record

Runs each stage on a quarter of the replica's tiles and then on all of them, in one run, each (stage, size) in a
fresh process that reads its own peak resident set (VmHWM) at its end and, where the stage started processes of its
own (QC and statistics pools, data-loader workers), their largest peak (RUSAGE_CHILDREN): the memory the stage
needs is at most its own peak plus that times its processes (``rss_bound_mib``). Seconds are the stage's calls
only, after the imports. The stages call the package as a user's run does, nothing re-implemented:

- ``scan + validate``: ``validate_root`` (the CAS scan, then every image and mask read and checked);
- ``statistics``: the CAS scan and ``tile_statistics`` (every mask);
- ``QC scores``: ``score_root`` (every image and mask, the four scores);
- ``leakage audit + grouped split``: ``grouped_split`` (``audit_records``, map blocks, ``make_grouped_split``) and
  ``write_manifest``;
- ``baselines``: ``baseline_scores`` on the grouped split, all tiles (UAV&SAT): the threshold rule fitted on every
  training tile, the three baselines scored on every validation tile;
- ``data loading``: one pass of ``TileDataset`` over the training tiles through a DataLoader as the trainer builds
  it (paper profile: batch 16, augmentation, shuffled, workers as ``auto`` gives on a GPU node), no model;
- ``Table 7 reading``: ``training_sets`` (each public stand-in's scan and split manifest, and the CAS one) and one
  pass of ``TileDataset`` over every public sample, read and standardised to 512×512;
- ``intervals``: ``judge`` (block bootstrap, 10,000 resamples, leakage groups as blocks) on the baselines' counts
  of every validation tile, per group and per sub-dataset;
- ``status board``: ``section_statuses`` and ``status_markdown`` over a results folder (see below);
- ``pack + unpack``: ``pack`` of that folder and ``unpack`` of the archive into another root, verified.

The results folder (ours, to give the board and the archive a paper build's size): per section 10 records on the
replica's tiles (two sections' records name no tiles, so the board scans the root for them, as for pages that read
no tiles), and the paper's Table 5 grid (4 models × 3 groups × 3 seeds = 36 runs), each run folder holding its
configuration, scores and per-tile counts of its group's validation tiles, with the seeds' split manifests.

The model is timed once (``model (CPU)``): the paper's untrained U-Net evaluated on 16 validation tiles on the CPU,
tiles/s only; on every validation tile that is GPU work.

The quarter: a root beside ``--root`` (``<root>-quarter`` unless ``--quarter-root``) holding the first quarter (by
name, so whole runs of neighbouring windows) of each sub-dataset's tiles and of each public stand-in's samples as
hard links into the replica: no pixel is copied (HR-GLDD's six arrays, which cannot be linked in part, are written
as their first quarter, about 110 MB). It is made once and kept.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = Path("/work/replica")
QUICK_FRACTION = 0.01
SEED, VAL_FRACTION = 0, 0.3
LOADER_BATCH = 16
"""The paper profile's batch size."""
MODEL, MODEL_TILES, MODEL_BATCH = "unet", 16, 4
RECORDS_PER_SECTION = 10
NO_TILE_SECTIONS = ("study_areas", "inferred")
"""Sections whose records name no tiles (their pages read none), so the board scans the data root for them."""
GRID_MODELS, GRID_GROUPS, GRID_SEEDS = ("fcn", "unet", "deeplabv3plus", "mffenet"), ("UAV", "SAT", "UAV&SAT"), (0, 1, 2)
MANIFEST, GROUPS, BASELINE_TILES = "split-grouped-seed0.csv", "groups.csv", "baseline-tiles.csv"
FOLDER = "results-folder.json"
"""What the results folder holds: the tiles its records cover, its files and MiB."""


# --------------------------------------------------------------------------- the measured process


def _peak_rss_mib() -> float:
    from landslide_core.runtime.memory import process_status_mib

    return process_status_mib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _split_sides(root: Path, work: Path) -> tuple[list, list]:
    from landslide_core.data.splits import read_manifest

    manifest = work / MANIFEST
    if not manifest.is_file():
        raise SystemExit(f"{manifest} is missing: run the 'audit' stage first, with the same --work")
    records = read_manifest(manifest, root)
    return [r for r in records if r.split == "train"], [r for r in records if r.split == "val"]


def _started(processes: int) -> int:
    """Processes a pool started: none where it works in the stage's own process (a pool of one)."""
    return processes if processes > 1 else 0


def stage_validate(root: Path, work: Path) -> tuple[int, int, dict]:
    from landslide_core.data.validate import validate_root

    report = validate_root(root)
    if not report.ok:
        raise SystemExit("\n".join(report.lines()[:20]))
    return report.tiles_checked, 0, {}


def stage_statistics(root: Path, work: Path) -> tuple[int, int, dict]:
    from landslide_core.data.statistics import pool_size, tile_statistics
    from landslide_core.sources import get_source

    records = get_source("cas").list_tiles(root)
    stats = tile_statistics(records)
    return len(stats), _started(pool_size(None, len(records))), {
        "landslide_share": float(stats["landslide_share"].mean())}


def stage_qc(root: Path, work: Path) -> tuple[int, int, dict]:
    from landslide_core.building.qc import QCThresholds, flag, score_root
    from landslide_core.data.statistics import pool_size

    scores = score_root(root)
    flags = flag(scores, QCThresholds())
    return len(scores), _started(pool_size(None, len(scores))), {"flagged": int(flags["flagged"].sum())}


def stage_audit(root: Path, work: Path) -> tuple[int, int, dict]:
    import pandas as pd

    from landslide_core.building.leakage_split import grouped_split
    from landslide_core.data.splits import write_manifest
    from landslide_core.sources import get_source

    records = get_source("cas").list_tiles(root)
    start = time.perf_counter()
    split, audit = grouped_split(records, val_fraction=VAL_FRACTION, seed=SEED)
    split_seconds = time.perf_counter() - start - audit.seconds
    write_manifest(split, work / MANIFEST, root=root, seed=SEED, val_fraction=VAL_FRACTION)
    pd.DataFrame(audit.groups().items(), columns=["tile", "block"]).to_csv(work / GROUPS, index=False)
    sides = {side: sum(r.split == side for r in split) for side in ("train", "val", "buffer")}
    return len(records), 0, {"pairs": len(audit.pairs), "linked_tiles": int((audit.tiles["group_size"] > 1).sum()),
                             "audit_seconds": round(audit.seconds, 1), "blocks_and_split_seconds": round(split_seconds, 1),
                             **sides}


def stage_baselines(root: Path, work: Path) -> tuple[int, int, dict]:
    import torch

    from landslide_core.eval.baselines import baseline_scores
    from landslide_core.runtime.workers import default_num_workers

    train, val = _split_sides(root, work)
    _, tiles, rule = baseline_scores(train, val, device="cpu", progress=True)
    tiles.to_csv(work / BASELINE_TILES, index=False)
    return len(train) + len(val), default_num_workers(torch.device("cpu")), {
        "train_tiles": len(train), "val_tiles": len(val), "rule": rule.describe()}


def stage_loading(root: Path, work: Path) -> tuple[int, int, dict]:
    import torch
    from torch.utils.data import DataLoader, DistributedSampler
    from tqdm import tqdm

    from landslide_core.data.torch_dataset import TileDataset
    from landslide_core.runtime.workers import default_num_workers

    train, _ = _split_sides(root, work)
    dataset = TileDataset(train, augment=True, seed=SEED)
    sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=SEED, drop_last=True)
    workers = default_num_workers(torch.device("cuda"))
    loader = DataLoader(dataset, batch_size=LOADER_BATCH, sampler=sampler, num_workers=workers, drop_last=True)
    items = 0
    for batch in tqdm(loader, desc="data loading", unit="batch"):
        items += len(batch["image"])
    return items, workers, {"batch_size": LOADER_BATCH}


def stage_table7(root: Path, work: Path) -> tuple[int, int, dict]:
    from tqdm import tqdm

    from landslide_core.data.torch_dataset import TileDataset
    from landslide_core.experiments.table7 import PAPER_LABELS, training_sets
    from landslide_core.sources.cas.replica import STAND_INS_FOLDER

    public = {name: root / STAND_INS_FOLDER / name for name in PAPER_LABELS
              if (root / STAND_INS_FOLDER / name).is_dir()}
    sets = training_sets(root, public, work / "table7-splits", seed=SEED, val_fraction=VAL_FRACTION)
    samples = {}
    for training_set in sets[:len(public)]:
        dataset = TileDataset(training_set.listed(), source=training_set.source)
        for index in tqdm(range(len(dataset)), desc=f"Table 7: {training_set.key}", unit="sample"):
            dataset[index]
        samples[training_set.key] = len(dataset)
    return sum(samples.values()), 0, samples


def stage_intervals(root: Path, work: Path) -> tuple[int, int, dict]:
    import pandas as pd

    from landslide_core.scoring.intervals import judge

    tiles = pd.read_csv(work / BASELINE_TILES, keep_default_na=False)
    blocks = dict(pd.read_csv(work / GROUPS, keep_default_na=False).itertuples(index=False, name=None))
    pooled = judge(tiles.assign(group="UAV&SAT"), within=("group",), blocks=blocks)
    cells = judge(tiles, within=("group", "subdataset"), blocks=blocks)
    return int(tiles["tile"].nunique()), 0, {"estimates": len(pooled.estimates) + len(cells.estimates)}


def stage_status(root: Path, work: Path) -> tuple[int, int, dict]:
    from landslide_core.book.status import section_statuses, status_markdown

    book = work / "book"
    names = sorted(p.stem for p in (REPOSITORY / "notebooks").glob("[0-9]*.py"))
    board = status_markdown(section_statuses(book, names, profile="paper", results_dir=Path("results"),
                                             sections_dir=Path("book") / "sections"))
    return _tiles_in(work), 0, {"sections": len(names), "board_chars": len(board)}


def stage_pack(root: Path, work: Path) -> tuple[int, int, dict]:
    from landslide_core.book.archive import archive_sha256, pack, unpack
    from landslide_core.book.runner import ROOT_VARIABLE

    os.environ[ROOT_VARIABLE] = str(work / "book")
    archive = pack("paper", work / "results-paper.tar.gz")
    os.environ[ROOT_VARIABLE] = str(work / "book-unpacked")
    installed = unpack(archive, sha256=archive_sha256(archive))
    return _tiles_in(work), 0, {"files": len(installed.written), "archive_mib": round(archive.stat().st_size / 2**20, 1)}


def stage_model(root: Path, work: Path) -> tuple[int, int, dict]:
    import torch

    from landslide_core.eval.evaluation import evaluate_tiles
    from landslide_core.models import build_model
    from landslide_core.runtime.workers import default_num_workers

    _, val = _split_sides(root, work)
    torch.manual_seed(SEED)
    model = build_model(MODEL, pretrained=False)
    evaluate_tiles(model, val[:MODEL_TILES], batch_size=MODEL_BATCH, device="cpu", progress=True)
    return min(MODEL_TILES, len(val)), default_num_workers(torch.device("cpu")), {
        "model": MODEL, "batch_size": MODEL_BATCH, "torch_threads": torch.get_num_threads()}


def _tiles_in(work: Path) -> int:
    """The tiles the results folder's records cover (counted when it was made, not timed)."""
    return int(json.loads((work / FOLDER).read_text())["tiles"])


STAGES: dict[str, tuple[str, Callable[[Path, Path], tuple[int, int, dict]]]] = {
    "validate": ("scan + validate", stage_validate),
    "statistics": ("statistics", stage_statistics),
    "qc": ("QC scores", stage_qc),
    "audit": ("leakage audit + grouped split", stage_audit),
    "baselines": ("baselines", stage_baselines),
    "loading": ("data loading", stage_loading),
    "table7": ("Table 7 reading", stage_table7),
    "intervals": ("intervals", stage_intervals),
    "status": ("status board", stage_status),
    "pack": ("pack + unpack", stage_pack),
    "model": ("model (CPU)", stage_model),
}
"""Key (for --stages) → the stage's name in the record and its function, in the order they run."""
FIXED_STAGES = {"model"}
"""Stages timed once, on a fixed number of tiles."""
MADE_BY = {"audit": (MANIFEST, GROUPS), "baselines": (BASELINE_TILES,)}
"""The files a stage leaves in its size's work folder for the stages after it."""
NEEDS = {"baselines": ("audit",), "loading": ("audit",), "intervals": ("audit", "baselines"),
         "status": ("audit", "baselines"), "pack": ("audit", "baselines")}
"""Stage → the earlier stages whose files (:data:`MADE_BY`) it reads."""


def check_inputs(stages: list[str], places: list[Path]) -> None:
    """Stop before anything is timed where a stage would read files that no stage asked for makes.

    Files an earlier run with this ``--work`` left in every size's folder (``places``) are enough.

    Raises:
        SystemExit: Naming each such stage, the file it lacks, and the ``--stages`` that makes them.
    """
    asked = set(stages)
    missing = {}
    for stage in stages:
        for earlier in NEEDS.get(stage, ()):
            absent = [place / name for place in places for name in MADE_BY[earlier] if not (place / name).is_file()]
            if earlier not in asked and absent:
                missing.setdefault(stage, []).append((earlier, absent[0]))
    if missing:
        lines = [f"  {stage}: needs the '{earlier}' stage's {path.name} (no {path})"
                 for stage, needs in missing.items() for earlier, path in needs]
        wanted = sorted({earlier for needs in missing.values() for earlier, _ in needs} | asked, key=list(STAGES).index)
        raise SystemExit("these stages read files of stages not asked for:\n" + "\n".join(lines) + "\nadd them, "
                         f"--stages {','.join(wanted)}, or give the --work folder of a run that made them")


IMPORTS = {
    "validate": ("landslide_core.data.validate",), "statistics": ("landslide_core.data.statistics",),
    "qc": ("landslide_core.building.qc",), "audit": ("landslide_core.building.leakage_split",),
    "baselines": ("landslide_core.eval.baselines",), "loading": ("landslide_core.data.torch_dataset",),
    "table7": ("landslide_core.experiments.table7",), "intervals": ("landslide_core.scoring.intervals",),
    "status": ("landslide_core.book.status",), "pack": ("landslide_core.book.archive",),
    "model": ("landslide_core.eval.evaluation", "landslide_core.models"),
}
"""What each stage's process imports before it is timed: what a run has imported before it gets there."""


def child(stage: str, root: Path, work: Path) -> None:
    """Run one stage in this fresh process; print its measurements as one JSON line."""
    for module in ("landslide_core.sources", *IMPORTS[stage]):
        importlib.import_module(module)
    start = time.perf_counter()
    tiles, workers, extra = STAGES[stage][1](root, work)
    seconds = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"tiles": tiles, "seconds": seconds, "peak_rss_mib": _peak_rss_mib(), "workers": workers,
                      "workers_peak_rss_mib": children if workers else 0.0, "extra": extra}))


# --------------------------------------------------------------------------- the quarter


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.link(source, target)


def _quarter_of(count: int) -> int:
    return max(1, round(count / 4))


def make_quarter(root: Path, quarter: Path) -> None:
    """A quarter of the replica as hard links (see the module); a finished one is left as it is."""
    import numpy as np

    from landslide_core.io.atomic import write_text_atomic
    from landslide_core.sources import get_source
    from landslide_core.sources.cas.replica import STAND_INS_FOLDER
    from landslide_core.sources.cas.synthetic import SYNTHETIC_MARKER, synthetic_info
    from landslide_core.sources.hrgldd import HRGLDDSource
    from landslide_core.sources.stand_in_marker import STAND_IN_MARKER

    done = quarter / ".quarter-complete"
    if done.is_file():
        return
    cas = get_source("cas")
    records = sorted(cas.list_tiles(root), key=lambda r: (r.subdataset, r.name))
    for key in dict.fromkeys(r.subdataset for r in records):
        mine = [r for r in records if r.subdataset == key]
        for record in mine[:_quarter_of(len(mine))]:
            for path in (record.image, record.mask, record.label):
                if path is not None:
                    _link(path, quarter / path.relative_to(root))
    for folder in sorted((root / STAND_INS_FOLDER).iterdir()) if (root / STAND_INS_FOLDER).is_dir() else []:
        source, target = get_source(folder.name), quarter / STAND_INS_FOLDER / folder.name
        target.mkdir(parents=True, exist_ok=True)
        if isinstance(source, HRGLDDSource):
            for array in sorted(folder.glob("*.npy")):
                values = np.load(array, mmap_mode="r")
                np.save(target / array.name, np.ascontiguousarray(values[:_quarter_of(len(values))]))
        else:
            listed = source.list_tiles(folder)
            for record in listed[:_quarter_of(len(listed))]:
                for path in (record.image, record.mask):
                    if path is not None:
                        _link(path, target / path.relative_to(folder))
        marker = json.loads((folder / STAND_IN_MARKER).read_text(encoding="utf-8"))
        write_text_atomic(target / STAND_IN_MARKER, json.dumps({**marker, "quarter_of": str(folder)}, indent=2) + "\n")
    info = synthetic_info(root)
    write_text_atomic(quarter / SYNTHETIC_MARKER, json.dumps(
        {**info, "quarter_of": str(root), "note": f"A quarter of the replica at {root} (hard links). {info['note']}"},
        indent=2, ensure_ascii=False) + "\n")
    done.write_text("")


# --------------------------------------------------------------------------- the results folder


def make_results_folder(root: Path, work: Path) -> dict:
    """The results folder the status board and the archive work on (see the module), under ``work/book``."""
    import pandas as pd

    from landslide_core.book.fingerprint import package_digest
    from landslide_core.book.profiles import section_key
    from landslide_core.provenance import collect_provenance, write_record
    from landslide_core.sources import get_source
    from landslide_core.train.config import TrainConfig

    book = work / "book"
    shutil.rmtree(book, ignore_errors=True)
    shutil.rmtree(work / "book-unpacked", ignore_errors=True)
    for folder in (book, work / "book-unpacked"):
        folder.mkdir(parents=True)
        (folder / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    records = get_source("cas").list_tiles(root)
    with_tiles = collect_provenance(parameters={"data_root": str(root)}, data_root=root, records=records,
                                    device="cpu", profile="paper")
    without = collect_provenance(parameters={"data_root": str(root)}, data_root=root, device="cpu", profile="paper")
    counts = pd.Series([r.subdataset for r in records]).value_counts().rename_axis("subdataset").reset_index()
    results = book / "results" / "paper"
    for name in sorted(p.stem for p in (REPOSITORY / "notebooks").glob("[0-9]*.py")):
        key = section_key(name)
        provenance = replace(without if key in NO_TILE_SECTIONS else with_tiles, section=key)
        for index in range(RECORDS_PER_SECTION):
            write_record(counts, results / key / f"record_{index:02d}", provenance)
    tiles = pd.read_csv(work / BASELINE_TILES, keep_default_na=False)
    rule = tiles[tiles["model"] == "threshold rule"]
    runs = results / "benchmarks" / "runs" / package_digest()[:12] / "random-split"
    runs.mkdir(parents=True)
    for seed in GRID_SEEDS:
        shutil.copyfile(work / MANIFEST, runs / f"split-seed{seed}.csv")
        for model in GRID_MODELS:
            for group in GRID_GROUPS:
                run = runs / f"{model}_{group.replace('&', '+')}_seed{seed}"
                run.mkdir()
                config = TrainConfig(model=model, group=group, seed=seed, epochs=50, batch_size=16)
                (run / "config.json").write_text(json.dumps(config.to_dict(), indent=1, default=str))
                scored = rule if group == "UAV&SAT" else rule[rule["group"] == group]
                scored.assign(model=model).to_csv(run / "tile_counts.csv", index=False)
                scored.assign(model=model).groupby("subdataset")[["tp", "fp", "fn", "tn"]].sum().to_csv(
                    run / "scores.csv")
    files = [p for p in results.rglob("*") if p.is_file()]
    folder = {"tiles": len(records), "files": len(files), "mib": round(sum(p.stat().st_size for p in files) / 2**20, 1)}
    (work / FOLDER).write_text(json.dumps(folder))
    return folder


# --------------------------------------------------------------------------- the run


def evict(*roots: Path) -> int:
    """Drop every file under ``roots`` from the page cache (``posix_fadvise`` DONTNEED); return how many files.

    Each stage then reads its tiles from disk, as a first run does. The full replica does not fit this machine's
    memory while a quarter does, so without this a stage would read the quarter from memory and most of the full
    replica from disk, and the disk would pass for superlinear time. Only these files are touched: nothing else's
    cache is dropped.
    """
    files = 0
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in names:
                descriptor = os.open(os.path.join(folder, name), os.O_RDONLY)
                try:
                    os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(descriptor)
                files += 1
    return files


def measure(stage: str, root: Path, work: Path, timeout: float) -> dict:
    """Run one stage in a fresh process (its progress bars shown), and return what it measured.

    Raises:
        SystemExit: The stage's process failed.
    """
    work.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, __file__, "--child", stage, str(root), str(work)]
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False, timeout=timeout,
                          cwd=REPOSITORY)
    if done.returncode != 0:
        raise SystemExit(f"stage {stage!r} on {root} failed (exit {done.returncode}); its output is above")
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    measured["process_seconds"] = time.perf_counter() - started
    return measured


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=DEFAULT_ROOT, help=f"the full replica (default {DEFAULT_ROOT})")
    p.add_argument("--quarter-root", type=Path, help="where the quarter is made, or found (default <root>-quarter)")
    p.add_argument("--stages", help=f"comma-separated, of: {', '.join(STAGES)} (default: all)")
    p.add_argument("--work", type=Path, help="folder for manifests, counts and the results folder (default: a "
                   "temporary one, removed)")
    p.add_argument("--out", type=Path, default=REPOSITORY / "benchmarks" / "results",
                   help="folder for the record (default: benchmarks/results)")
    p.add_argument("--timeout", type=float, default=1200, help="seconds one stage's process may take (default 1200)")
    p.add_argument("--quarter-only", action="store_true",
                   help="measure the quarter only, to estimate the full run; prints, writes no record")
    p.add_argument("--quick", action="store_true", help="a tiny replica in /tmp (1 %% of the tiles); prints only")
    args = p.parse_args(argv)
    args.stages = args.stages.split(",") if args.stages else list(STAGES)
    unknown = sorted(set(args.stages) - set(STAGES))
    if unknown:
        p.error(f"unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}")
    return args


def _check_replica(root: Path) -> None:
    from landslide_core.sources.cas.synthetic import is_replica, synthetic_info

    if not is_replica(root):
        raise SystemExit(f"{root} holds no replica: write one with `landslide-core replica {root}`")
    if not synthetic_info(root).get("complete"):
        raise SystemExit(f"{root}: the replica is not finished; resume it with `landslide-core replica {root}`")


def run(args: argparse.Namespace, root: Path, quarter: Path, work: Path) -> None:
    import pandas as pd
    import torch

    from landslide_core.experiments.throughput import device_slug
    from landslide_core.io.checksums import file_sha256
    from landslide_core.provenance import collect_provenance, write_record
    from landslide_core.sections.rehearsal import (
        FIXED,
        FULL,
        QUARTER,
        RECORD_PREFIX,
        TARGET_RATIO,
        TARGET_RSS_MIB,
        judged_rows,
    )
    from landslide_core.sources.cas.synthetic import SYNTHETIC_MARKER

    started, load_before = time.time(), os.getloadavg()[0]
    check_inputs(args.stages, [work / size for size in ((QUARTER,) if args.quarter_only else (QUARTER, FULL))])
    _check_replica(root)
    print(f"quarter: {quarter}", flush=True)
    make_quarter(root, quarter)
    rows, folders = [], {}
    sizes = {QUARTER: quarter} if args.quarter_only else {QUARTER: quarter, FULL: root}
    for stage in args.stages:
        name = STAGES[stage][0]
        for size, data in ((FIXED, quarter if args.quarter_only else root),) if stage in FIXED_STAGES \
                else sizes.items():
            place = work / (QUARTER if args.quarter_only else FULL) if size == FIXED else work / size
            if stage in ("status", "pack") and size not in folders:
                folders[size] = make_results_folder(data, place)
            print(f"{name}, {size}: {data}", flush=True)
            evict(root, quarter)
            measured = measure(stage, data, place, args.timeout)
            bound = measured["peak_rss_mib"] + measured["workers"] * measured["workers_peak_rss_mib"]
            rows.append({"stage": name, "size": size, "tiles": measured["tiles"],
                         "seconds": round(measured["seconds"], 2),
                         "tiles_per_s": round(measured["tiles"] / measured["seconds"], 2),
                         "peak_rss_mib": round(measured["peak_rss_mib"], 1), "workers": measured["workers"],
                         "workers_peak_rss_mib": round(measured["workers_peak_rss_mib"], 1),
                         "rss_bound_mib": round(bound, 1), "process_seconds": round(measured["process_seconds"], 1),
                         "detail": json.dumps(measured["extra"], sort_keys=True)})
            print(f"  {measured['tiles']} tiles in {measured['seconds']:.1f} s, peak RSS {bound:.0f} MiB; "
                  f"{json.dumps(measured['extra'], sort_keys=True)}", flush=True)
    table = judged_rows(pd.DataFrame(rows))
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.max_colwidth", 40):
        print(table.drop(columns=["detail"]).to_string(index=False))
    if args.quick or args.quarter_only or set(args.stages) != set(STAGES):
        print("(--quick, --quarter-only or a part of the stages: no record written)")
        return
    parameters = {"stages": args.stages, "seed": SEED, "val_fraction": VAL_FRACTION, "loader_batch": LOADER_BATCH,
                  "model": MODEL, "model_tiles": MODEL_TILES, "model_batch": MODEL_BATCH}
    extra = {"cpu_count": os.cpu_count(), "load_average_1min": {"start": load_before, "end": os.getloadavg()[0]},
             "target_ratio": TARGET_RATIO, "target_rss_mib": TARGET_RSS_MIB, "quarter_root": str(quarter),
             "results_folder": folders,
             "seconds": "the stage's calls in its fresh process, after the imports",
             "page_cache": "every file of the replica and the quarter dropped from the page cache before each "
                           "stage (posix_fadvise DONTNEED): each stage reads its tiles from disk",
             "peak_rss": "VmHWM of the stage's process at its end; rss_bound_mib adds workers × the largest peak of "
                         "the processes it started (RUSAGE_CHILDREN)"}
    provenance = replace(
        collect_provenance(parameters=parameters, data_root=root, device="cpu", started=started, section="rehearsal",
                           extra=extra),
        data_kind="a synthetic replica of the CAS layout at full size (landslide-core replica), not CAS imagery",
        data_checksum=file_sha256(root / SYNTHETIC_MARKER))
    stem = args.out / f"{RECORD_PREFIX}-{device_slug(torch.device('cpu'))}"
    write_record(table, stem, provenance, caption="Every stage before training at a quarter and at full size of "
                 "a synthetic replica: seconds and peak resident memory")
    print(f"record written: {stem}.csv and {stem}.json")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        stage, root, work = argv[1:4]
        child(stage, Path(root), Path(work))
        return 0
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rehearsal-") as temporary:
        work = args.work or Path(temporary)
        if args.quick:
            from landslide_core.sources.cas.replica import write_replica
            from landslide_core.sources.replica_stand_ins import replica_stand_ins

            root = Path(temporary) / "replica"
            write_replica(root, fraction=QUICK_FRACTION, stand_ins=replica_stand_ins(), progress=False)
            quarter = Path(temporary) / "replica-quarter"
        else:
            root = args.root.resolve()
            quarter = (args.quarter_root or root.with_name(root.name + "-quarter")).resolve()
        run(args, root, quarter, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
