"""Finding tiles in the real layout ``<root>/<sub-dataset>/{img,label,mask}/<name>.tif[f]``.

Sub-dataset folders are recognised by name through the registry, however they are
spelled (full-width parentheses, case). Image and mask are paired by file stem,
``.tif`` and ``.tiff`` alike. Anything that does not fit (a lone image, an empty or
unknown folder) is reported as a problem, never skipped silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ...errors import DatasetNotFoundError, MissingPartnerError, PathProblemError, SubDatasetFolderError
from ...tiles import TileRecord
from ..base import Scan
from .registry import SubDataset, find_subdataset, get_subdataset, subdatasets
from .synthetic import SYNTHETIC_INCOMPLETE_MARKER, record_source

__all__ = ["TILE_SUFFIXES", "SubDatasetFolder", "find_subdataset_folders", "scan"]

TILE_SUFFIXES = (".tif", ".tiff")


@dataclass(frozen=True)
class SubDatasetFolder:
    """A folder under the data root and the sub-dataset it was recognised as."""

    path: Path
    subdataset: SubDataset | None


def _is_tile_name(name: str) -> bool:
    """``Path(name).suffix.lower()`` is one of :data:`TILE_SUFFIXES`, worked out on the string."""
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in TILE_SUFFIXES


def _tile_files(folder: Path) -> list[Path]:
    """The tile files in ``folder``, in the order their paths sort.

    One directory read: the entries say which are files (a ``stat`` only for links), and names, not paths, are
    sorted (as paths compare: case-folded on Windows). A ``stat`` per file and sorting ``Path`` objects made the
    scan of a large folder slower per tile than that of a small one.
    """
    if not folder.is_dir():
        return []
    with os.scandir(folder) as entries:
        names = [entry.name for entry in entries if _is_tile_name(entry.name) and entry.is_file()]
    return [folder / name for name in sorted(names, key=os.path.normcase)]


def _tile_folder(path: Path) -> Path:
    """The folder holding ``img``/``mask``: the sub-dataset folder, or its only child."""
    if (path / "img").is_dir() or (path / "mask").is_dir():
        return path
    children = [c for c in path.iterdir() if c.is_dir() and not c.name.startswith(".")]
    if len(children) == 1 and ((children[0] / "img").is_dir() or (children[0] / "mask").is_dir()):
        return children[0]
    return path


def find_subdataset_folders(root: str | Path) -> tuple[list[SubDatasetFolder], list[Path]]:
    """Folders under ``root`` that look like sub-datasets, and folders ignored.

    A folder is a sub-dataset folder when its name is a known sub-dataset or it
    holds ``img``/``mask``; other folders (the study-areas shapefile, split
    manifests) are returned as ignored.

    Raises:
        DatasetNotFoundError: ``root`` is not an existing folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(
            root,
            "the data root does not exist",
            f"download the data with `landslide-core download --root {root}` or create demo data "
            f"with `landslide-core demo-data {root}`",
        )
    found: list[SubDatasetFolder] = []
    ignored: list[Path] = []
    for path in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        sd = find_subdataset(path.name)
        tile_folder = _tile_folder(path)
        if sd is not None or (tile_folder / "img").is_dir() or (tile_folder / "mask").is_dir():
            found.append(SubDatasetFolder(path, sd))
        else:
            ignored.append(path)
    return found, ignored


def _scan_folder(folder: SubDatasetFolder, source: str) -> tuple[list[TileRecord], list[PathProblemError]]:
    path = folder.path
    if folder.subdataset is None:
        names = ", ".join(f"'{s.name}'" for s in subdatasets())
        return [], [
            SubDatasetFolderError(
                path,
                "unknown sub-dataset folder: its name matches none of the 16 sub-datasets of paper Table 2",
                f"rename it to one of {names}, or move it out of the data root",
            )
        ]
    sd = folder.subdataset
    tile_folder = _tile_folder(path)
    images, masks = _tile_files(tile_folder / "img"), _tile_files(tile_folder / "mask")
    labels = {p.stem: p for p in _tile_files(tile_folder / "label")}
    if not images and not masks:
        return [], [
            SubDatasetFolderError(
                path,
                f"empty sub-dataset folder: no .tif/.tiff files in {tile_folder / 'img'} or {tile_folder / 'mask'}",
                f"unpack '{sd.zenodo_file}' here again or run `landslide-core download {sd.key} --root {path.parent}`",
            )
        ]
    problems: list[PathProblemError] = []
    image_of: dict[str, Path] = {}
    mask_of: dict[str, Path] = {}  # one dict per kind, not one per stem: a scan makes few objects per tile
    for kind, files, by_stem in (("img", images, image_of), ("mask", masks, mask_of)):
        for p in files:
            stem = p.stem
            if stem in by_stem:
                problems.append(
                    MissingPartnerError(
                        p,
                        f"two {kind} files share the stem '{stem}' ({by_stem[stem].name} and {p.name})",
                        "keep one of them; image and mask are paired by file stem",
                    )
                )
                continue
            by_stem[stem] = p
    records = []
    for stem in sorted(image_of.keys() | mask_of.keys()):
        image, mask = image_of.get(stem), mask_of.get(stem)
        if mask is None:
            problems.append(
                MissingPartnerError(
                    image,
                    "image has no mask with the same file stem",
                    f"put its mask in {tile_folder / 'mask'} as '{image.name}', or remove the image",
                )
            )
        elif image is None:
            problems.append(
                MissingPartnerError(
                    mask,
                    "mask has no image with the same file stem",
                    f"put its image in {tile_folder / 'img'} as '{mask.name}', or remove the mask",
                )
            )
        else:
            records.append(
                TileRecord(
                    subdataset=sd.key,
                    group=sd.group,
                    name=stem,
                    image=image,
                    mask=mask,
                    label=labels.get(stem),
                    source=source,
                )
            )
    return records, problems


def scan(root: str | Path, subdataset_names: Iterable[str] | None = None) -> Scan:
    """Find every tile under ``root`` and every layout problem, without reading pixels."""
    root = Path(root)
    folders, ignored = find_subdataset_folders(root)
    result = Scan(root=root, ignored=ignored)
    if subdataset_names is not None:
        wanted = {get_subdataset(n).key for n in subdataset_names}
        folders = [f for f in folders if f.subdataset is not None and f.subdataset.key in wanted]
        missing = wanted - {f.subdataset.key for f in folders if f.subdataset is not None}
        for key in sorted(missing):
            result.problems.append(
                DatasetNotFoundError(
                    root,
                    f"sub-dataset '{get_subdataset(key).name}' was asked for but has no folder here",
                    f"run `landslide-core download {key} --root {root}`",
                )
            )
    if (root / SYNTHETIC_INCOMPLETE_MARKER).is_file():
        result.problems.append(
            DatasetNotFoundError(
                root,
                "this demo data is incomplete: writing it was interrupted",
                f"run `landslide-core demo-data {root}` again",
            )
        )
    source = record_source(root)
    order = {sd.key: i for i, sd in enumerate(subdatasets())}
    folders.sort(key=lambda f: (order.get(f.subdataset.key, 99) if f.subdataset else 99, f.path.name))
    result.folders = folders
    for folder in folders:
        records, problems = _scan_folder(folder, source)
        result.records.extend(records)
        result.problems.extend(problems)
    if not folders and not result.problems:
        result.problems.append(
            DatasetNotFoundError(
                root,
                "no sub-dataset folder found (expected folders such as 'Hokkaido Iburi-Tobu/img')",
                f"download the data with `landslide-core download --root {root}` or create demo data "
                f"with `landslide-core demo-data {root}`",
            )
        )
    return result
