"""``landslide-core``: thin commands over the package (parse, call, print).

Errors of our own print as one ``error:`` line naming the file and the fix, with
exit status 1; a traceback means a bug in landslide-core.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from . import __version__
from .errors import LandslideCoreError
from .paper import quote, says
from .sources.cas import ZENODO_RECORD

__all__ = ["build_parser", "main"]


_FOLDER_FLAGS = ("masks", "mask_colour", "mask_value", "image_pattern", "mask_pattern", "fit")


def _add_source_arguments(p: argparse.ArgumentParser, default: str | None) -> None:
    """``--source`` and its settings; the image-folder source's settings have flags of their own."""
    from .sources import available_sources
    from .sources.standardize import FITS

    g = p.add_argument_group("data source", "which dataset ROOT holds and how to read it (see README: Other datasets)")
    shown = f"default: {default}" if default else "default: the data the checkpoint was trained on"
    g.add_argument("--source", default=None, help=f"{', '.join(available_sources())} ({shown}; folder with --images)")
    g.add_argument("--source-option", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="a setting of the source (VALUE read as YAML), e.g. --source-option held_out test")
    g.add_argument("--images", type=Path, help="folder source: the image folder (ROOT may then be left out)")
    g.add_argument("--masks", type=Path, help="folder source: the mask folder")
    g.add_argument("--mask-colour", help="folder source: landslide colour of RGB masks, e.g. '#ffff00' or yellow")
    g.add_argument("--mask-value", type=int, help="folder source: landslide value of single-band masks")
    g.add_argument("--image-pattern", help="folder source: image stem with an {id} field, e.g. 'Landslide{id}'")
    g.add_argument("--mask-pattern", help="folder source: mask stem with an {id} field, e.g. 'LandslideLabel{id}'")
    g.add_argument("--fit", choices=FITS, help="folder source: resize each image to 512 (default; ours, as we read "
                                               "paper Table 7's counts) or cut it into 512 tiles")
    p.set_defaults(source_default=default)


def _source_and_root(args: argparse.Namespace) -> tuple[str | None, dict[str, object], Path]:
    """The source name (``None``: the command's default data), its options, and the data root.

    Raises:
        LandslideCoreError: Folder flags given for another source, one of --images/--masks missing, or no root.
    """
    options: dict[str, object] = {key: yaml.safe_load(value) for key, value in args.source_option}
    folder = {flag: getattr(args, flag) for flag in _FOLDER_FLAGS if getattr(args, flag) is not None}
    name = args.source or ("folder" if args.images is not None else args.source_default)
    root = Path(args.root) if args.root is not None else None
    if args.images is not None or folder:
        if name != "folder":
            raise LandslideCoreError(f"--images, --masks, --mask-colour, … set the folder source, not {name!r}: "
                                     "pass --source folder, or name the source's settings with --source-option")
        if args.images is None or args.masks is None:
            raise LandslideCoreError("the folder source needs both --images DIR and --masks DIR")
        options |= {"images": str(args.images.resolve()), "masks": str(args.masks.resolve())}
        options |= {k: (str(v) if isinstance(v, Path) else v) for k, v in folder.items() if k != "masks"}
        root = root or args.images
    if root is None:
        raise LandslideCoreError("this command needs the data root (ROOT), or --images and --masks for a folder of images")
    return name, options, root


def _validate(args: argparse.Namespace) -> int:
    from .data.validate import validate_root
    from .sources import get_source

    name, options, root = _source_and_root(args)
    source = get_source(name or "cas", **options).with_tile_size(args.tile_size or None)
    report = validate_root(root, args.subdatasets or None, source=source, progress=not args.quiet)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def _download(args: argparse.Namespace) -> int:
    if args.source != "cas":
        return _download_other(args)
    from .sources.cas import download

    record = args.record or ZENODO_RECORD
    if args.list:
        files = download.fetch_record(record, args.api_url)
        print(download.format_listing(download.select_files(files, args.subdatasets) if args.subdatasets else files))
        return 0
    if args.root is None:
        raise LandslideCoreError("download needs --root DIR (where the sub-dataset folders go); --list needs none")
    download.download(args.subdatasets, args.root, record=record, api_url=args.api_url,
                      progress=not args.quiet, keep_archives=not args.delete_archives)
    return 0


def _download_other(args: argparse.Namespace) -> int:
    """Another dataset's download: HR-GLDD from Zenodo; the others say where to get them.

    Raises:
        LandslideCoreError: No --root for HR-GLDD; any other source (it has no direct download).
    """
    from .sources import get_source, hrgldd, zenodo

    source = get_source(args.source)
    if source.name == hrgldd.HRGLDDSource.name:
        record = args.record or hrgldd.ZENODO_RECORD
        if args.list:
            print(zenodo.format_listing(zenodo.fetch_record(record, args.api_url)))
            return 0
        if args.root is None:
            raise LandslideCoreError("download needs --root DIR (where the dataset goes); --list needs none")
        hrgldd.download(args.subdatasets, args.root, record=record, api_url=args.api_url, progress=not args.quiet)
        return 0
    source.download(args.subdatasets, args.root or ".")
    return 0


def _demo_data(args: argparse.Namespace) -> int:
    from .sources.cas.demo import write_demo_data

    kwargs = {"tiles_per_subdataset": args.tiles} if args.tiles else {}
    out = write_demo_data(args.out, seed=args.seed, progress=not args.quiet, **kwargs)
    print(f"synthetic demo data written to {out} (seed {args.seed}); it is not CAS imagery")
    return 0


def _split(args: argparse.Namespace) -> int:
    from .data.splits import load_or_make_split

    if args.grouped:
        return _grouped_split(args)
    manifest = args.out or Path(args.root) / "splits" / f"split-seed{args.seed}.csv"
    existed = Path(manifest).exists()
    records = load_or_make_split(args.root, manifest, seed=args.seed, val_fraction=args.val_fraction,
                                 subdataset_names=args.subdatasets or None)
    n_val = sum(r.split == "val" for r in records)
    print(f"{'read' if existed else 'wrote'} {manifest}: {len(records) - n_val} train, {n_val} val tiles")
    return 0


def _grouped_split(args: argparse.Namespace) -> int:
    from .building.leakage import leakage_report
    from .building.leakage_split import grouped_split, save_grouped_split
    from .sources import get_source

    manifest = args.out or Path(args.root) / "splits" / f"split-grouped-seed{args.seed}.csv"
    records = get_source("cas").list_tiles(args.root, args.subdatasets or None)
    split, audit = grouped_split(records, val_fraction=args.val_fraction, seed=args.seed, workers=args.workers,
                                 progress=not args.quiet)
    written = save_grouped_split(split, manifest, root=args.root, seed=args.seed, val_fraction=args.val_fraction)
    total = leakage_report(audit, split).iloc[-1]
    n_val = sum(r.split == "val" for r in split)
    print(f"{'wrote' if written else 'checked'} {manifest}: {len(split) - n_val} train, {n_val} val tiles "
          f"(groups of tiles sharing pixels or map blocks on one side, or cut with a buffer)")
    print(f"{total['val_pixels_in_train']} validation pixels seen in training")
    return 0


def _leakage(args: argparse.Namespace) -> int:
    import pandas as pd

    from .building.leakage import audit_records, leakage_report, write_leakage_files
    from .data.splits import make_split, read_manifest
    from .sources import get_source

    records = get_source(args.source).list_tiles(args.root, args.subdatasets or None)
    audit = audit_records(records, source=args.source, progress=not args.quiet, workers=args.workers)
    if args.manifest:
        audited = set(audit.tiles["uid"])
        split = [r for r in read_manifest(args.manifest, args.root) if r.uid in audited]
        how = f"split {args.manifest}"
    else:
        split = make_split(records, val_fraction=args.val_fraction, seed=args.seed)
        how = f"random split, seed {args.seed}, val fraction {args.val_fraction}"
    report = leakage_report(audit, split)
    paths = write_leakage_files(audit, report, args.out or Path(args.root) / "leakage")
    print(audit.summary())
    print(f"validation tiles and pixels that training has seen ({how}):")
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(report.to_string(index=False, float_format="%.3f"))
    print("written:", *(str(path) for path in paths), sep="\n  ")
    return 0


def _book(args: argparse.Namespace) -> int:
    from .book.runner import build_book

    parameters = {key: yaml.safe_load(value) for key, value in args.parameter}
    build_book(profile=args.profile, parameters=parameters, only=args.section or None,
               execute_only=args.execute_only, force=args.force, jobs=args.jobs)
    return 0


def _scheduler(args: argparse.Namespace) -> object:
    """The :class:`~landslide_core.experiments.jobs.Scheduler` the scheduler flags describe."""
    import torch

    from .experiments.jobs import Scheduler

    gpus = args.gpus_per_job
    if gpus is None:
        gpus = 1 if args.executor == "slurm" or torch.cuda.is_available() else 0
    return Scheduler(executor=args.executor, partition=args.partition, account=args.account, gpus_per_job=gpus,
                     time_min=args.time, cpus_per_job=args.cpus_per_job, parallel=args.parallel,
                     threads=args.threads,
                     slurm_options={key: yaml.safe_load(value) for key, value in args.slurm_option})


def _add_scheduler_arguments(p: argparse.ArgumentParser, unit: str, gpus_help: str) -> None:
    """The flags that say where ``--submit`` sends each ``unit`` (a cell, a scene) as a job."""
    g = p.add_argument_group("jobs", f"with --submit: where each {unit} runs as a job (through submitit)")
    g.add_argument("--executor", choices=("slurm", "local"), default="slurm",
                   help=f"slurm (default), or local: processes on this machine, one {unit} per visible GPU at a time")
    g.add_argument("--partition", help="Slurm partition")
    g.add_argument("--account", help="Slurm account")
    g.add_argument("--gpus-per-job", type=int, help=gpus_help)
    g.add_argument("--time", type=int, default=24 * 60,
                   help="time limit per job in minutes (default: %(default)s); a job that reaches it is requeued "
                        "and resumes")
    g.add_argument("--cpus-per-job", type=int, help="Slurm: CPUs per task (data-loading workers follow them)")
    g.add_argument("--parallel", type=int,
                   help=f"local: {unit}s at once (default: visible GPUs ÷ GPUs per job, or 1)")
    g.add_argument("--threads", type=int, help="CPU threads per job (default: the cores shared between jobs)")
    g.add_argument("--slurm-option", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                   help="another sbatch option, e.g. --slurm-option qos high")
    g.add_argument("--wait", action="store_true", help=f"Slurm: wait until every submitted {unit} has ended")


def _grid(args: argparse.Namespace) -> int:
    import pandas as pd

    from .experiments.grid import grid_table, run_cell, submit
    from .sections.grid import plan_grid

    plan = plan_grid(args.profile, {key: yaml.safe_load(value) for key, value in args.parameter})
    if args.cell is not None:
        cell = plan.cell(args.cell)
        run_cell(cell, progress=not args.quiet and _is_main_process())
        if _is_main_process():
            print(f"cell {cell.index} ({cell.label}) done: {cell.folder}")
        return 0
    if args.submit:
        plan.fetch_weights()
        submit(plan.cells, plan.runs_dir / "jobs", _scheduler(args), wait=args.wait)
    table = grid_table(plan.cells)
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.max_colwidth", 80):
        print(table.drop(columns="folder").to_string())
    counts = table["state"].str.split("?").str[0].value_counts()
    print(f"\n{len(table)} cells in {plan.runs_dir} (data: {plan.data_root}): "
          + ", ".join(f"{n} {state}" for state, n in counts.items()))
    return 0


def _new_event(args: argparse.Namespace) -> int:
    import pandas as pd

    from .errors import GridError
    from .experiments.new_event import chain_table, chains, run_event, submit_events
    from .sections.new_event import plan_event

    plan = plan_event(args.profile, {key: yaml.safe_load(value) for key, value in args.parameter})
    works = chains(plan.runs)
    if args.chain is not None:
        if not 0 <= args.chain < len(works):
            raise GridError(f"no chain {args.chain}: this plan has chains 0 to {len(works) - 1} (list them with "
                            f"`landslide-core new-event --profile {args.profile}` and the same -p options)")
        for run in works[args.chain].runs:
            run_event(run, progress=not args.quiet)
        print(f"chain {args.chain} ({works[args.chain].label}) done")
        return 0
    if args.submit:
        submit_events(plan.runs, plan.runs_dir / "jobs", _scheduler(args), wait=args.wait)
    table = chain_table(works)
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.max_rows", None):
        print(table.to_string())
    print(f"\n{len(table)} runs in {len(works)} chains in {plan.runs_dir} (data: {plan.data_root}): "
          + ", ".join(f"{n} {state}" for state, n in table["state"].value_counts().items()))
    return 0


def _prune(args: argparse.Namespace) -> int:
    from .book.prune import prunable, remove
    from .book.runner import shown_path
    from .errors import LandslideCoreError
    from .sections.grid import plan_grid
    from .sections.new_event import plan_event

    cells: list[Path] = []
    planned = (("the benchmarks grid", lambda: [cell.folder for cell in plan_grid(args.profile, {}).cells]),
               ("the new-event runs", lambda: [run.folder for run in plan_event(args.profile, {}).runs]))
    for what, folders in planned:
        try:
            cells += folders()
        except LandslideCoreError as error:  # e.g. the paper profile needs data_root: nothing can be planned here
            print(f"note: {what} of profile '{args.profile}' could not be planned ({error}); only the run folders "
                  "its page read in its last build are kept", file=sys.stderr)
    found = prunable(args.profile, kept=cells)
    for folder in found:
        print(f"{folder.bytes / 2**20:9.1f} MiB  {shown_path(folder.path)}  ({folder.reason})")
    if not found:
        print(f"nothing to prune: every run folder of profile '{args.profile}' is read by a page of this checkout")
    elif args.yes:
        print(f"removed {len(found)} folder(s), {remove(found) / 2**20:.1f} MiB")
    else:
        print(f"{len(found)} folder(s), {sum(f.bytes for f in found) / 2**20:.1f} MiB, that no page of this checkout reads; remove them with "
              f"`landslide-core results prune --profile {args.profile} --yes`")
    return 0


def _results(args: argparse.Namespace) -> int:
    from .book.archive import archive_sha256, pack, unpack

    if args.action == "prune":
        return _prune(args)
    if args.action == "pack":
        out = pack(args.profile, args.out)
        print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB); SHA-256 {archive_sha256(out)}\n"
              f"install it elsewhere with: landslide-core results unpack {out.name} --sha256 {archive_sha256(out)}")
        return 0
    installed = unpack(args.archive, force=args.force, sha256=args.sha256)
    print(f"verified {len(installed.manifest['files'])} file(s) of profile '{installed.profile}' (commit "
          f"{installed.manifest['commit']}); installed {len(installed.written)}, {len(installed.unchanged)} already "
          f"here.\nBuild the book from them: landslide-core book --profile {installed.profile} (finished runs are "
          "read back, not trained)")
    print("It is the archive with the SHA-256 given." if args.sha256 else
          "The archive agrees with its own manifest, but was not checked against a published SHA-256: anyone can "
          "write such an archive. Pass --sha256 taken from where it was published to know it is that one.")
    return 0


def _tile(args: argparse.Namespace) -> int:
    from .building.qc import score_tile
    from .building.tiling import TilingOptions, tile_scene

    options = TilingOptions(size=args.size, stride=args.stride, edge=args.edge, fill=args.fill)
    result = tile_scene(args.scene, args.out, labels=args.labels, subdataset=args.subdataset, prefix=args.prefix,
                        start=args.start, options=options, scorer=score_tile, progress=not args.quiet)
    rate = result.written / result.seconds if result.seconds > 0 else 0.0
    print(f"{result.written} tiles written to {result.folder} ({result.tiles} in the index {result.index}) in "
          f"{result.seconds:.1f} s, {rate:.1f} tiles/s")
    return 0


def _qc(args: argparse.Namespace) -> int:
    import pandas as pd

    from .building.qc import KEPT_FILE, QCThresholds, run_qc

    thresholds = QCThresholds(fill=args.fill, label=args.label, cloud=args.cloud, seam=args.seam)
    result = run_qc(args.root, args.out, source=args.source, subdatasets=args.subdatasets, thresholds=thresholds,
                    decisions=args.decisions, progress=not args.quiet)
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(result.summary.to_string(float_format="%.3f"))
    tiles = len(result.flags)
    print(f"{tiles} tiles scored, {int(result.flags['flagged'].sum())} flagged: {result.scores_csv}")
    print(f"review gallery: {result.gallery_index}")
    if result.kept_csv is None:
        print(f"decisions template: {result.decisions}; write keep or reject per tile, then run again for {KEPT_FILE}")
    else:
        print(f"decisions read from {result.decisions}: {result.kept} of {tiles} tiles kept, listed in {result.kept_csv}")
    return 0


def _replica(args: argparse.Namespace) -> int:
    from .runtime.workers import available_cores
    from .sources.cas.replica import replica_usage, write_replica
    from .sources.replica_stand_ins import replica_stand_ins

    report = write_replica(args.root, seed=args.seed, fraction=args.fraction, workers=args.workers or available_cores(),
                           progress=not args.quiet, stand_ins=() if args.no_stand_ins else replica_stand_ins())
    usage = replica_usage(report.root)
    for part in report.parts:
        files, on_disk, _ = usage.get(part.name, (0, 0, 0))
        peak = "" if part.peak_rss_mib is None else f", peak {part.peak_rss_mib:.0f} MiB per job"
        print(f"{part.name}: {part.samples} written, {part.skipped} already there, {part.seconds:.1f} busy s "
              f"({part.cpu_seconds:.1f} CPU s){peak}; "
              f"{files} files, {on_disk / 1e9:.2f} GB on disk")
    total = sum(on_disk for _, on_disk, _ in usage.values())
    print(f"SYNTHETIC replica (seed {args.seed}, fraction {args.fraction}) at {report.root}: {total / 1e9:.2f} GB on "
          f"disk, {report.seconds:.1f} s with {report.workers} process(es); it is not CAS imagery")
    return 0


def _add_replica_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("replica", help="write a SYNTHETIC replica of the dataset's layout at full size",
                            description="Write the CAS layout at full size, synthetic: the 16 sub-dataset folders "
                                        "with their Table 2 tile counts, real-style names with numbering gaps, "
                                        "512×512 uncompressed tiles cut from scenes every 256 px, and the public "
                                        "datasets' stand-ins at their real sizes in ROOT/_stand_ins. Running the "
                                        "same command again resumes.")
    p.add_argument("root", type=Path, help="output folder (new, empty, or a replica of the same seed and fraction)")
    p.add_argument("--fraction", type=float, default=1.0,
                   help="share of each count to write, e.g. 0.01 for a quick one (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--workers", type=int, help="processes painting and writing (default: the usable cores)")
    p.add_argument("--no-stand-ins", action="store_true", help="write only the CAS tiles")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_replica)


def _add_results_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("results", help="pack a profile's records and run scores (no checkpoints) into one "
                                            "archive, or verify and install one",
                            description="pack: write results/<profile>/ without checkpoints, job folders and "
                                        "regenerable working data into one .tar.gz with a SHA-256 per file and the "
                                        "provenance of the code. unpack: check every file's size and SHA-256 "
                                        "against the archive's manifest (at most 256 MiB of files, a 16 MiB "
                                        "manifest), then install them, so that `landslide-core book` builds from "
                                        "them without training. Only --sha256 taken from where the archive was "
                                        "published shows it is that archive.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    packing = actions.add_parser("pack", help="write one archive of a profile's results")
    packing.add_argument("--profile", default="demo", help="profile whose results to pack (default: %(default)s)")
    packing.add_argument("--out", type=Path,
                         help="archive path (default: results-<profile>-<code version>.tar.gz in the repository)")
    unpacking = actions.add_parser("unpack", help="verify an archive and install its results")
    unpacking.add_argument("archive", type=Path, help="a .tar.gz written by `landslide-core results pack`")
    unpacking.add_argument("--sha256", help="the archive's SHA-256 as published, checked first; without it unpack "
                                              "shows only that the archive agrees with its own manifest")
    unpacking.add_argument("--force", action="store_true", help="replace results on disk that differ from the archive's")
    pruning = actions.add_parser("prune", help="list (and with --yes remove) run folders no page of this checkout reads",
                                 description="Run folders pile up, one per code version and configuration. List "
                                             "those under results/<profile>/ that no page of this checkout reads: "
                                             "other code versions' folders, and runs the pages' last builds did not "
                                             "read (the benchmarks grid's cells and locked runs are kept).")
    pruning.add_argument("--profile", default="demo", help="profile whose runs to look at (default: %(default)s)")
    pruning.add_argument("--yes", action="store_true", help="remove the listed folders")
    p.set_defaults(func=_results)


def _add_grid_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "grid", help="the benchmarks page's grid (model × group × seed) as jobs: list, submit, or run one cell",
        description="List the cells of the benchmarks page's training grid for a profile and their state (done, "
                    "running, queued, missing); --submit sends the unfinished ones to Slurm or runs them on this "
                    "machine through submitit; --cell N runs one in the foreground (also under torchrun). Cells "
                    "train in the folders the page reads, so `landslide-core book` afterwards collects them.",
        epilog="examples: landslide-core grid --profile paper -p data_root /data/CAS --submit --partition gpu "
               "--time 720 | landslide-core grid --profile paper -p data_root /data/CAS --submit --executor local "
               "(one cell per visible GPU)")
    _add_planned_page_arguments(p, "benchmarks", "cell", "GPUs per cell; more than one runs the cell as DDP with one "
                                                         "task per GPU (default: 1; local without CUDA: 0)")
    p.set_defaults(func=_grid)


def _add_new_event_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "new-event", help="the new-event page's runs (each region held out, in-region, k tiles) as jobs",
        description="List the runs of the new-event page for a profile and whether each is done; --submit sends the "
                    "unfinished ones to Slurm or runs them on this machine through submitit, one job per chain (a "
                    "region and seed's held-out model then its k-tile runs, or its in-region run); --chain N runs "
                    "one chain in the foreground. Runs train in the folders the page reads, so `landslide-core "
                    "book` afterwards collects them.",
        epilog="examples: landslide-core new-event --profile paper -p data_root /data/CAS --submit --partition gpu "
               "| landslide-core new-event --profile paper -p data_root /data/CAS -p shots '[0, 10]' --submit "
               "--executor local")
    _add_planned_page_arguments(p, "new-event", "chain", "GPUs per chain: 1 (default; local without CUDA: 0)")
    p.set_defaults(func=_new_event)


def _add_planned_page_arguments(p: argparse.ArgumentParser, page: str, unit: str, gpus_help: str) -> None:
    """The flags of a command that plans a page's runs as ``unit``s: profile, overrides, submit or run one, jobs."""
    p.add_argument("--profile", default="demo", help="parameter profile (as for `book`): demo (default), paper or rehearsal")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help=f"override a {page}-page parameter (VALUE is read as YAML), e.g. -p data_root /data/CAS")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--submit", action="store_true", help=f"submit every {unit} that is not done")
    what.add_argument(f"--{unit}", type=int, metavar="N", help=f"run {unit} N here, in the foreground")
    _add_scheduler_arguments(p, unit, gpus_help)
    p.add_argument("-q", "--quiet", action="store_true", help=f"no progress bar (--{unit})")


def _predict(args: argparse.Namespace) -> int:
    from .predict.jobs import find_scenes, scene_works, submit_scenes
    from .predict.scene import Predictor, predict_scene

    scenes = find_scenes(args.scenes)
    options = {"tile": args.tile, "overlap": args.overlap, "batch_size": args.batch, "threshold": args.threshold,
               "min_area": args.min_area, "fill": args.fill, "bands": tuple(args.bands), "chunk": args.chunk,
               "cache_tiles": args.cache_tiles}
    if args.reference is not None and len(scenes) != 1:
        raise LandslideCoreError(f"--reference judges one scene, but {len(scenes)} were given: predict them one by "
                                 "one to judge each against its own inventory")
    if args.submit:
        works = scene_works(scenes, args.checkpoint, args.out, device=args.device, **options)
        submit_scenes(works, _scheduler(args), wait=args.wait)
        return 0
    predictor = Predictor.from_checkpoint(args.checkpoint, device=args.device, precision=args.precision)
    for scene in scenes:
        report = predict_scene(scene, predictor, args.out, progress=not args.quiet, **options)
        print(f"{scene.name}: {report.polygons} landslide polygon(s), {report.landslide_pixels:,} landslide pixels "
              f"of {report.valid_pixels:,} with data; {report.megapixels_per_second:.2f} Mpx/s, peak "
              f"{report.peak_rss_mib:.0f} MiB resident; {', '.join(report.outputs.values())}")
    if args.reference is not None:
        _print_assessment(report.outputs, args)
    return 0


def _print_assessment(outputs: dict[str, str], args: argparse.Namespace) -> None:
    from .predict.assess import object_scores, object_table, pixel_scores

    scores, counts = pixel_scores(outputs["mask"], args.reference, layer=args.reference_layer,
                                  progress=not args.quiet)
    print("pixels (the metrics of paper Table 5, in %): " + ", ".join(f"{k} {v:.2f}" for k, v in scores.as_percent().items())
          + f" over {counts['pixels']:,} pixels")
    if args.reference.suffix.lower() in (".tif", ".tiff"):
        print("objects: the reference is a raster; give a vector inventory (.gpkg, .shp, …) for object counts")
        return
    table = object_table([object_scores(outputs["polygons"], args.reference, rule=rule, iou_threshold=args.iou,
                                        reference_layer=args.reference_layer) for rule in ("iou", "centroid")])
    print(table.drop(columns="description").to_string(index=False))
    for line in table["description"]:
        print(f"  {line}")


def _add_predict_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "predict", help="run a trained model over whole scenes: probability and mask COGs and landslide polygons",
        description="Read each scene window by window, predict overlapping tiles in batches and blend them with a "
                    "smooth weight window, then write OUT/<scene>.probability.tif (landslide probability in percent, "
                    "uint8, 255 = no data) and OUT/<scene>.mask.tif (1 landslide, 0 background, 255 = no data) as "
                    "Cloud-Optimized GeoTIFFs with the scene's CRS and transform, OUT/<scene>.landslides.gpkg "
                    "(polygons with area, perimeter and mean probability) and OUT/<scene>.prediction.json. "
                    "Memory stays bounded whatever the scene's size; running the same command again resumes an "
                    "interrupted scene and skips finished ones.",
        epilog="examples: landslide-core predict scene.tif --checkpoint runs/unet/best.pt --out maps | "
               "landslide-core predict scenes/ --checkpoint best.pt --out maps --submit --partition gpu")
    p.add_argument("scenes", nargs="+", type=Path, metavar="SCENE", help="scene rasters, or folders of them")
    p.add_argument("--checkpoint", type=Path, required=True, help="best.pt or last.pt of a training run")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--tile", type=int, default=512, help="tile side fed to the model, a multiple of 32 "
                                                         "(default: %(default)s)")
    p.add_argument("--overlap", type=int, default=128, help="pixels neighbouring tiles share (default: %(default)s)")
    p.add_argument("--batch", type=int, default=8, help="tiles per forward pass (default: %(default)s)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1, …")
    p.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp16", "fp32"),
                   help="autocast precision (default: bf16 or fp16 on a GPU, fp32 on the CPU)")
    p.add_argument("--threshold", type=float, default=0.5, help="landslide where the probability is at least "
                                                                "this (default: %(default)s)")
    p.add_argument("--min-area", type=float, default=0.0,
                   help="drop polygons smaller than this, in m² (pixels without georeferencing; default: keep all)")
    p.add_argument("--fill", type=int, help="a value that marks no data where every band holds it (e.g. 255 for "
                                            "a white collar), besides the scene's own nodata")
    p.add_argument("--bands", type=int, nargs=3, default=[1, 2, 3], metavar=("R", "G", "B"),
                   help="the scene's red, green and blue bands (default: 1 2 3)")
    p.add_argument("--chunk", type=int, default=2048, help="side of the chunks the scene is walked in "
                                                           "(default: %(default)s)")
    p.add_argument("--cache-tiles", type=int, default=64,
                   help="tile predictions kept for neighbouring chunks (default: %(default)s)")
    p.add_argument("--reference", type=Path,
                   help="judge the map against this inventory: polygons (.gpkg, .shp, …) or a raster on the "
                        "scene's grid (1 = landslide)")
    p.add_argument("--reference-layer", help="the reference's layer, when its file holds several")
    p.add_argument("--iou", type=float, default=0.5, help="IoU a predicted polygon needs to detect a reference "
                                                          "landslide, for the iou rule (default: %(default)s)")
    p.add_argument("--submit", action="store_true", help="predict each scene as a job (see the jobs flags)")
    _add_scheduler_arguments(p, "scene", "GPUs per scene (default: 1; local without CUDA: 0)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_predict)


def _add_qc_command(commands: argparse._SubParsersAction) -> None:
    from .building.qc import QCThresholds

    default = QCThresholds()
    p = commands.add_parser("qc", help="score every tile against the quality-control rules of paper Methods "
                                       "(Building the dataset); review, decide",
                            description="Score every tile (boundary fill, landslide share, cloud, seam), flag those "
                                        "past the thresholds, and write OUT/qc-scores.csv, a review gallery "
                                        "OUT/gallery/index.html and a decisions template OUT/decisions.csv (never "
                                        "overwritten). When decisions exist (--decisions or an earlier "
                                        "OUT/decisions.csv), read them back and write OUT/kept.csv.")
    p.add_argument("root", help="data root, or a folder of image files (no masks: the label rule is not scored)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--source", default="cas", help="tile source the data root is laid out for (default: %(default)s)")
    p.add_argument("--subdatasets", nargs="+", help="only these sub-datasets (default: all found)")
    p.add_argument("--fill", type=float, default=default.fill, help="flag fill share above (default: %(default)s)")
    p.add_argument("--label", type=float, default=default.label,
                   help="flag landslide share below (default: %(default)s)")
    p.add_argument("--cloud", type=float, default=default.cloud,
                   help="flag cloud share above, not for UAV tiles (default: %(default)s)")
    p.add_argument("--seam", type=float, default=default.seam, help="flag seam score above (default: %(default)s)")
    p.add_argument("--decisions", type=Path, help="decisions CSV to read (default: OUT/decisions.csv if it existed)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_qc)


def _switch(value: str) -> bool | str:
    return {"on": True, "off": False}.get(value, value)


def _num_workers(value: str) -> int | str:
    """``auto`` or a count of 0 or more (``--num-workers``).

    Raises:
        argparse.ArgumentTypeError: Anything else; argparse prints it as a usage error.
    """
    if value == "auto":
        return value
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected auto or a count of 0 or more, got {value!r}")
    return int(value)


def _is_main_process() -> bool:
    """Rank 0 under torchrun (or the only process): the one that prints results."""
    import os

    return int(os.environ.get("RANK", "0")) == 0


def _train(args: argparse.Namespace) -> int:
    import logging

    import pandas as pd

    from .scoring import PAPER_COLUMNS
    from .sources import get_source
    from .train import TrainConfig, train

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    name, options, root = _source_and_root(args)
    group = args.group or get_source(name or "cas", **options).widest_group
    pretrained: bool | str = str(args.pretrained_weights) if args.pretrained_weights else not args.no_pretrained
    config = TrainConfig(
        model=args.model, model_options={k: yaml.safe_load(v) for k, v in args.model_option}, pretrained=pretrained,
        loss=args.loss, epochs=args.epochs, batch_size=args.batch_size, crop_size=args.crop_size,
        val_crop_size=args.val_crop_size, lr=args.lr,
        seed=args.seed, num_workers=args.num_workers, device=args.device, precision=args.precision,
        channels_last=_switch(args.channels_last), compile=args.compile, augment=not args.no_augment,
        source=name or "cas", source_options=options, group=group, subdatasets=args.subdatasets,
        val_every=args.val_every,
    )
    result = train(config, root, args.out, manifest=args.manifest, restart=args.restart, progress=not args.quiet)
    if _is_main_process():
        print(f"{result.out_dir}: {len(result.history)} of {config.epochs} epochs done ({result.epochs_run} now); "
              f"best validation mIoU at epoch {result.best_epoch} → {result.best_checkpoint}")
        best = {PAPER_COLUMNS.get(k, k): v for k, v in result.best_scores.items()}
        print(pd.DataFrame([best], index=[f"{config.model} {config.group}"]).to_string(float_format="%.3f"))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .eval import evaluate_checkpoint, tiles_path
    from .scoring import SCORE_COLUMNS

    name, options, root = _source_and_root(args)
    source = {"name": name, **options} if name is not None else None
    table = evaluate_checkpoint(args.checkpoint, root, split=args.split, group=args.group, source=source,
                                subdatasets=args.subdatasets, manifest=args.manifest, batch_size=args.batch_size,
                                device=args.device, num_workers=args.num_workers, progress=not args.quiet,
                                record=args.out)
    if _is_main_process():
        print(table[["group", "subdataset", "tiles", *SCORE_COLUMNS]].to_string(index=False, float_format="%.3f"))
        if args.out:
            print(f"record written: {args.out}.csv and {args.out}.json (with provenance); counts per tile: "
                  f"{tiles_path(args.out)}")
    return 0


def _add_training_commands(commands: argparse._SubParsersAction) -> None:
    from .train.config import TrainConfig

    switch = ("auto", "on", "off")
    p = commands.add_parser("train", help="train a model with SGD, poly decay (ours) and Dice loss; run again to "
                                          "resume",
                            description="Train on a sensor group's training split (seeded 7:3 per sub-dataset) "
                                        f"with SGD and Dice loss, {says('optimiser', lead='as the paper says')} and "
                                        f"“{quote('dice_loss').text}”, and with poly decay of the learning rate "
                                        "(ours, as are the epochs and batch size), validating with the six scores of "
                                        "paper Table 5 every epoch. Writes OUT/last.pt, best.pt, history.csv and split.csv; "
                                        "running the same command again resumes. Under `torchrun --nproc_per_node "
                                        "N` it trains on N processes (GPUs) with the same global batches as one "
                                        "(see README: Models and training).")
    p.add_argument("root", nargs="?", help="data root (a folder source may give --images and --masks instead)")
    p.add_argument("--out", type=Path, required=True, help="run directory (checkpoints, history, split)")
    p.add_argument("--model", default=TrainConfig.model,
                   help="fcn, unet, deeplabv3plus, mffenet or smp:<Architecture>/<encoder> (default: %(default)s)")
    p.add_argument("--model-option", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="extra model argument (VALUE read as YAML), e.g. --model-option encoder_depth 3")
    p.add_argument("--group", help="a group of the source: CAS UAV, SAT or UAV&SAT; others: all (default: the "
                                   "source's widest, CAS UAV&SAT)")
    p.add_argument("--subdatasets", nargs="+", help="only these sub-datasets (default: all found)")
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs, help="(default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size,
                   help="images per step over all processes (default: %(default)s)")
    p.add_argument("--crop-size", type=int, help="random square training crops (default: full 512×512 tiles)")
    p.add_argument("--val-crop-size", type=int,
                   help="validate on central crops of this size, for quick CPU runs (default: full 512×512 tiles)")
    p.add_argument("--lr", type=float, default=TrainConfig.lr, help="SGD learning rate (default: %(default)s)")
    p.add_argument("--loss", default=TrainConfig.loss,
                   help=f"dice (default; the paper: “{quote('dice_loss').text}”), ce or dice+ce")
    p.add_argument("--seed", type=int, default=TrainConfig.seed, help="split, initialisation and data order "
                                                                        "(default: %(default)s)")
    p.add_argument("--no-pretrained", action="store_true", help="random initialisation instead of ImageNet weights")
    p.add_argument("--pretrained-weights", type=Path, help="local backbone weights file (no download)")
    p.add_argument("--no-augment", action="store_true", help="no random flips and rotations")
    p.add_argument("--val-every", type=int, default=TrainConfig.val_every, help="validate every N epochs")
    p.add_argument("--device", default=TrainConfig.device, help="auto (default), cpu, cuda, cuda:1, …")
    p.add_argument("--precision", choices=("auto", "bf16", "fp16", "fp32"), default=TrainConfig.precision,
                   help="autocast precision (auto: bf16 on a GPU with native bf16, fp16 with a gradient scaler on "
                        "other GPUs, fp32 on the CPU)")
    p.add_argument("--channels-last", choices=switch, default="auto", help="NHWC memory format (auto: on CUDA)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--num-workers", type=_num_workers, default=TrainConfig.num_workers,
                   help="data loader processes, or auto: follow the cores (default: %(default)s)")
    p.add_argument("--manifest", type=Path, help="split manifest to read or write (default: OUT/split.csv)")
    p.add_argument("--restart", action="store_true", help="discard an earlier run in OUT and train from scratch")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    _add_source_arguments(p, "cas")
    p.set_defaults(func=_train)

    p = commands.add_parser("evaluate", help="score a checkpoint with the six metrics of paper Table 5, per group and "
                                             "sub-dataset",
                            description="Evaluate a checkpoint on 512×512 tiles and print the six scores of paper "
                                        "Table 5 (precision, recall, F1, IoU, mIoU, OA) per "
                                        "group and sub-dataset: by default on the validation tiles of its own split; "
                                        "with --source (or --images/--masks) on every tile of other data, without a "
                                        "split manifest. When no image of --images finds its mask but other stem "
                                        "patterns pair them all, the error names the --image-pattern and "
                                        "--mask-pattern to pass.")
    p.add_argument("checkpoint", type=Path, help="last.pt or best.pt of a training run")
    p.add_argument("root", nargs="?", help="data root (a folder source may give --images and --masks instead)")
    p.add_argument("--split", choices=("train", "val", "all"),
                   help="default: val on the checkpoint's own data, all on other data")
    p.add_argument("--group", help="group of the source (default: the checkpoint's; all groups on other data)")
    p.add_argument("--subdatasets", nargs="+", help="only these sub-datasets (default: the checkpoint's)")
    p.add_argument("--manifest", type=Path,
                   help="split manifest (default: the one the checkpoint was trained on; none on other data)")
    p.add_argument("--batch-size", type=int, default=4, help="(default: %(default)s)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, …")
    p.add_argument("--num-workers", type=_num_workers, default="auto",
                   help="data loader processes, or auto: follow the cores (default: %(default)s)")
    p.add_argument("--out", type=Path, help="record stem: writes OUT.csv and OUT.json with provenance, and "
                                            "OUT-tiles.csv: each tile's landslide TP, FP, FN and TN, whose sums "
                                            "are the record's counts")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_source_arguments(p, None)
    p.set_defaults(func=_evaluate)


def build_parser() -> argparse.ArgumentParser:
    """The ``landslide-core`` argument parser: one subcommand per task, each set to call its handler."""
    parser = argparse.ArgumentParser(
        prog="landslide-core",
        description="Tools for the CAS Landslide Dataset (Xu et al., Scientific Data 11, 12, 2024) and its companion book.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("validate", help="check every tile under a data root; one line per problem",
                            description="Check layout, readability, band count and type, size and mask values of "
                                        "every tile. Exit status 0 when clean, 1 when problems were found.")
    p.add_argument("root", nargs="?", help="data root (CAS: holding <sub-dataset>/{img,label,mask}/)")
    p.add_argument("subdatasets", nargs="*", help="only these sub-datasets (any spelling; default: all found)")
    p.add_argument("--tile-size", type=int, default=512, help="expected tile size in pixels; 0 skips the check")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_source_arguments(p, "cas")
    p.set_defaults(func=_validate)

    p = commands.add_parser("download", help="fetch sub-datasets from Zenodo record 10294997 (or HR-GLDD, 7189381)",
                            description="Download, md5-verify (against the Zenodo API) and unpack sub-datasets and "
                                        "the study-areas shapefile. Interrupted downloads resume when run again. "
                                        "--source hr-gldd fetches HR-GLDD from its Zenodo record; the other public "
                                        "datasets have no direct download, and the command says where to get them.")
    p.add_argument("subdatasets", nargs="*",
                   help="sub-dataset names (any spelling) or 'study-areas'; default: all 16 and the study areas")
    p.add_argument("--root", type=Path, help="where to unpack (created if missing)")
    p.add_argument("--list", action="store_true",
                   help="print the record's files (or the named ones) with their sizes and exit")
    p.add_argument("--source", default="cas", help="dataset: cas (default), hr-gldd, or another source's name")
    p.add_argument("--record", type=int,
                   help=f"Zenodo record id (default: the dataset's, {ZENODO_RECORD} for CAS, 7189381 for HR-GLDD)")
    p.add_argument("--api-url", help="Zenodo API base URL (default: $LANDSLIDE_CORE_ZENODO_API or https://zenodo.org/api)")
    p.add_argument("--delete-archives", action="store_true", help="delete each zip once it is unpacked")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_download)

    p = commands.add_parser("demo-data", help="write the small synthetic demo dataset in the real layout",
                            description="Write a deterministic miniature SYNTHETIC dataset in the layout of the real "
                                        "one; every result computed on it says it is synthetic.")
    p.add_argument("out", type=Path, help="output folder (must be empty or an earlier demo root)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--tiles", type=int, help="tiles per sub-dataset (default: the generator's)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_demo_data)

    p = commands.add_parser("split", help="make (or read back) the seeded 7:3 train/val split manifest",
                            description="Split each sub-dataset 7:3 into train/val from a seed and write a CSV "
                                        "manifest; when the manifest exists it is read back and checked instead.")
    p.add_argument("root", help="data root")
    p.add_argument("subdatasets", nargs="*", help="only these sub-datasets (default: all found)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--val-fraction", type=float, default=0.3, help="validation share (default: %(default)s)")
    p.add_argument("--out", type=Path, help="manifest path (default: ROOT/splits/split-seed<SEED>.csv, "
                                            "with --grouped ROOT/splits/split-grouped-seed<SEED>.csv)")
    p.add_argument("--grouped", action="store_true",
                   help="keep tiles that share pixels (leakage audit) or map blocks together on one side")
    p.add_argument("--workers", type=int, default=1, help="with --grouped: tiles read at once (default: %(default)s)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_split)

    p = commands.add_parser("leakage", help="find tiles that share pixels and how much validation data training sees",
                            description="Find tiles that share pixels at any offset and in any of the eight "
                                        "flips and turns (content-chosen 8×8 anchors, checked against the pixels; "
                                        "footprints of georeferenced tiles), and report per sub-dataset how many "
                                        "validation tiles and pixels of a split also occur in training. Writes "
                                        "leakage-groups.csv, leakage-pairs.csv and leakage-report.csv.")
    p.add_argument("root", help="data root")
    p.add_argument("--source", default="cas", help="tile source the data root is laid out for (default: %(default)s)")
    p.add_argument("--subdatasets", nargs="+", help="only these sub-datasets (default: all found)")
    p.add_argument("--manifest", type=Path, help="split to measure (default: a random split from --seed)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random split (default: %(default)s)")
    p.add_argument("--val-fraction", type=float, default=0.3, help="validation share (default: %(default)s)")
    p.add_argument("--out", type=Path, help="folder for the CSV files (default: ROOT/leakage)")
    p.add_argument("--workers", type=int, default=1, help="tiles read at once, in threads (default: %(default)s)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_leakage)

    p = commands.add_parser("book", help="execute the book's sections with papermill and build the HTML",
                            description="Pair each section's jupytext source to a notebook, execute it with "
                                        "papermill with the profile's parameters (skipping sections whose source, "
                                        "parameters, code and data did not change) and build the HTML with "
                                        "Jupyter Book 1 (warnings are errors).")
    p.add_argument("--profile", default="demo",
                   help="parameter profile from landslide_core/book/profiles.yaml: demo (default), paper or rehearsal")
    p.add_argument("--section", action="append",
                   help="run only this section (repeatable), e.g. study-areas or benchmarks")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="override a notebook parameter (VALUE is read as YAML), e.g. -p data_root /data/CAS")
    p.add_argument("--execute-only", action="store_true", help="execute the notebooks but do not build HTML")
    p.add_argument("--force", action="store_true", help="execute sections even when nothing they depend on changed")
    p.add_argument("--jobs", type=int, help="sections executed at once (0: one per core; default: one per core, each "
                   "kernel on 2 CPU threads, where no section runs on a GPU; one at a time where one does)")
    p.set_defaults(func=_book)

    p = commands.add_parser("tile", help="cut a georeferenced scene into tiles in the CAS layout, with a tile index",
                            description="Cut SCENE into SIZE×SIZE tiles every STRIDE pixels (as the CAS production "
                                        "code: 512/256, last row and column flush with the edge) into "
                                        "OUT/<sub-dataset>/{img,mask,label}/, keeping each tile's CRS and "
                                        "transform, and write OUT/<sub-dataset>/tiles.gpkg. Running the same "
                                        "command again resumes.")
    p.add_argument("scene", type=Path, help="GeoTIFF with a CRS and at least 3 uint8 bands")
    p.add_argument("--labels", type=Path,
                   help="landslide labels: a raster on the scene's grid (.tif, nonzero = landslide) or polygons "
                        "(.gpkg, .shp, …); without it only img/ is written")
    p.add_argument("--out", type=Path, required=True, help="dataset root the sub-dataset folder goes into")
    p.add_argument("--size", type=int, default=512, help="tile side in pixels (default: %(default)s)")
    p.add_argument("--stride", type=int, default=256, help="distance between tiles (default: %(default)s)")
    p.add_argument("--edge", choices=("shift", "pad"), default="shift",
                   help="shift: last row/column flush with the scene edge (default); pad: pad past the edge")
    p.add_argument("--fill", type=int, help="value of padded pixels (default: the scene's nodata, else 0)")
    p.add_argument("--subdataset", help="sub-dataset folder name (default: the scene's file stem)")
    p.add_argument("--prefix", help="tile-name prefix (default: the folder name without spaces)")
    p.add_argument("--start", type=int, default=1, help="first tile number (default: %(default)s)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_tile)

    _add_grid_command(commands)
    _add_new_event_command(commands)
    _add_predict_command(commands)
    _add_results_command(commands)
    _add_qc_command(commands)
    _add_replica_command(commands)
    _add_training_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``landslide-core`` command and return its exit status.

    Errors of our own print as one ``error:`` line (and any notes) and give 1; an
    interrupt gives 130.

    Args:
        argv: The command-line arguments; ``sys.argv[1:]`` when None.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except LandslideCoreError as error:
        print(f"error: {error}", file=sys.stderr)
        for note in getattr(error, "__notes__", []):
            print(f"note: {note}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
