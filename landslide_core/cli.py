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
from .cas import ZENODO_RECORD
from .errors import LandslideCoreError


def _validate(args: argparse.Namespace) -> int:
    from .validate import validate_root

    report = validate_root(args.root, args.subdatasets or None, tile_size=args.tile_size or None,
                           progress=not args.quiet)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


def _download(args: argparse.Namespace) -> int:
    from . import download

    if args.list:
        files = download.fetch_record(args.record, args.api_url)
        print(download.format_listing(download.select_files(files, args.subdatasets) if args.subdatasets else files))
        return 0
    if args.root is None:
        raise LandslideCoreError("download needs --root DIR (where the sub-dataset folders go); --list needs none")
    download.download(args.subdatasets, args.root, record=args.record, api_url=args.api_url,
                      progress=not args.quiet, keep_archives=not args.delete_archives)
    return 0


def _demo_data(args: argparse.Namespace) -> int:
    from .demo import write_demo_data

    kwargs = {"tiles_per_subdataset": args.tiles} if args.tiles else {}
    out = write_demo_data(args.out, seed=args.seed, progress=not args.quiet, **kwargs)
    print(f"synthetic demo data written to {out} (seed {args.seed}); it is not CAS imagery")
    return 0


def _split(args: argparse.Namespace) -> int:
    from .splits import load_or_make_split

    manifest = args.out or Path(args.root) / "splits" / f"split-seed{args.seed}.csv"
    existed = Path(manifest).exists()
    records = load_or_make_split(args.root, manifest, seed=args.seed, val_fraction=args.val_fraction,
                                 subdataset_names=args.subdatasets or None)
    n_val = sum(r.split == "val" for r in records)
    print(f"{'read' if existed else 'wrote'} {manifest}: {len(records) - n_val} train, {n_val} val tiles")
    return 0


def _book(args: argparse.Namespace) -> int:
    from .book.runner import build_book

    parameters = {key: yaml.safe_load(value) for key, value in args.parameter}
    build_book(parameters=parameters, only=args.section or None, execute_only=args.execute_only)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="landslide-core",
        description="Tools for the CAS Landslide Dataset (Xu et al., Scientific Data 11, 12, 2024) and its companion book.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("validate", help="check every tile under a data root; one line per problem",
                            description="Check layout, readability, band count and type, size and mask values of "
                                        "every tile. Exit status 0 when clean, 1 when problems were found.")
    p.add_argument("root", help="data root holding <sub-dataset>/{img,label,mask}/")
    p.add_argument("subdatasets", nargs="*", help="only these sub-datasets (any spelling; default: all found)")
    p.add_argument("--tile-size", type=int, default=512, help="expected tile size in pixels; 0 skips the check")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_validate)

    p = commands.add_parser("download", help="fetch sub-datasets from Zenodo record 10294997",
                            description="Download, md5-verify (against the Zenodo API) and unpack sub-datasets and "
                                        "the study-areas shapefile. Interrupted downloads resume when run again.")
    p.add_argument("subdatasets", nargs="*",
                   help="sub-dataset names (any spelling) or 'study-areas'; default: all 16 and the study areas")
    p.add_argument("--root", type=Path, help="where to unpack (created if missing)")
    p.add_argument("--list", action="store_true",
                   help="print the record's files (or the named ones) with their sizes and exit")
    p.add_argument("--record", type=int, default=ZENODO_RECORD, help="Zenodo record id (default: %(default)s)")
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
    p.add_argument("--out", type=Path, help="manifest path (default: ROOT/splits/split-seed<SEED>.csv)")
    p.set_defaults(func=_split)

    p = commands.add_parser("book", help="execute the book's sections with papermill and build the HTML",
                            description="Pair each section's jupytext source to a notebook, execute it with "
                                        "papermill and build the HTML with Jupyter Book 1 (warnings are errors).")
    p.add_argument("--section", action="append", help="run only this section (repeatable); names as in _toc.yml")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="override a notebook parameter (VALUE is read as YAML), e.g. -p data_root /data/CAS")
    p.add_argument("--execute-only", action="store_true", help="execute the notebooks but do not build HTML")
    p.set_defaults(func=_book)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
