"""The CAS Landslide Dataset as a tile source: 16 sub-datasets, two sensor groups, 512×512 RGB tiles.

Everything CAS-specific lives in this folder: the registry of paper Tables 2
and 4 (:mod:`.registry`), the on-disk layout (:mod:`.layout`), the Zenodo
download (:mod:`.download`), the synthetic demo data (:mod:`.demo`) and the
marker that labels it (:mod:`.synthetic`). :data:`CAS` is the source object the
layers above use.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..base import IMAGENET, Scan, TileSource
from . import layout
from .registry import (
    GROUPS,
    PAPER_CITATION,
    STUDY_AREAS_FOLDER,
    TILE_SIZE,
    ZENODO_DOI,
    ZENODO_RECORD,
    Region,
    SubDataset,
    check_group,
    find_subdataset,
    get_subdataset,
    group_members,
    normalize_name,
    region,
    regions,
    subdataset_for_tile_name,
    subdatasets,
)
from .sample import SAMPLE_DATA, is_sample
from .synthetic import is_replica, is_synthetic, synthetic_info

__all__ = [
    "CAS", "CAS_DATA", "GROUPS", "PAPER_CITATION", "REPLICA_DATA", "STUDY_AREAS_FOLDER", "SYNTHETIC_DATA", "TILE_SIZE", "ZENODO_DOI",
    "ZENODO_RECORD", "SAMPLE_DATA", "CASSource", "Region", "SubDataset", "check_group", "find_subdataset", "get_subdataset",
    "group_members", "is_replica", "is_sample", "is_synthetic", "normalize_name", "region", "regions", "subdataset_for_tile_name", "subdatasets",
    "synthetic_info",
]

CAS_DATA = "CAS data"
"""What pages and records call real CAS tiles."""
SYNTHETIC_DATA = "demo data, synthetic"
"""What pages and records call the generated demo tiles."""
REPLICA_DATA = "full-size replica, synthetic"
"""What pages and records call the tiles of ``landslide-core replica``."""


class CASSource(TileSource):
    """The CAS Landslide Dataset in its Zenodo layout ``<root>/<sub-dataset>/{img,label,mask}/<name>.tif[f]``."""

    name = "cas"
    title = "CAS Landslide Dataset"
    bands = ("red", "green", "blue")
    dtype = "uint8"
    value_range = (0.0, 255.0)
    tile_size: int | None = TILE_SIZE
    normalisation = IMAGENET
    mask_encoding = "one uint8 band: 1 = landslide, 0 = background"
    ignored_note = "not a sub-dataset folder (no img/ or mask/)"
    groups = {"UAV": ("UAV",), "SAT": ("SAT",), "UAV&SAT": ("UAV", "SAT")}
    study_areas_folder = STUDY_AREAS_FOLDER

    def scan(self, root: str | Path, subdatasets: Iterable[str] | None = None) -> Scan:
        """Find every tile and layout problem under ``root`` (see :func:`.layout.scan`)."""
        return layout.scan(root, subdatasets)

    def download(self, names: Iterable[str], root: str | Path, **options: object) -> list[Path]:
        """Download, md5-verify and unpack sub-datasets from Zenodo (see :func:`.download.download`)."""
        from .download import download

        return download(names, root, **options)  # type: ignore[arg-type]

    def subdataset_key(self, name: str) -> str:
        """The registry key of a sub-dataset named in any spelling of the distribution or the paper."""
        return get_subdataset(name).key

    def subdataset_order(self) -> list[str]:
        """Sub-dataset keys in the order of paper Table 2."""
        return [sd.key for sd in subdatasets()]

    def check_group(self, group: str) -> str:
        """``group`` itself when it is a sensor group of paper Table 5 (``UAV``, ``SAT``, ``UAV&SAT``)."""
        return check_group(group)

    def is_synthetic(self, root: str | Path) -> bool:
        """True for a data root written by ``landslide-core demo-data``."""
        return is_synthetic(root)

    def data_label(self, root: str | Path) -> str:
        """The label of a demo root, a replica, the shipped sample, or else ``CAS data``.

        ``demo data, synthetic``, ``full-size replica, synthetic``, ``CAS sample, real``.
        """
        if is_synthetic(root):
            return REPLICA_DATA if is_replica(root) else SYNTHETIC_DATA
        return SAMPLE_DATA if is_sample(root) else CAS_DATA


CAS = CASSource()
"""The CAS source; ``get_source("cas")`` returns it."""
