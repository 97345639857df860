"""Tiles as training data: the torch dataset, seeded split manifests, transforms, validation and statistics.

Everything here works on :class:`~landslide_core.tiles.TileRecord` s of any
tile source (:mod:`landslide_core.sources`).
"""

from .splits import load_or_make_split, make_split, manifest_checksum, read_manifest, split_records, write_manifest
from .statistics import tile_statistics
from .torch_dataset import TileDataset
from .validate import ValidationReport, validate_root

__all__ = [
    "TileDataset", "ValidationReport", "load_or_make_split", "make_split", "manifest_checksum", "read_manifest",
    "split_records", "tile_statistics", "validate_root", "write_manifest",
]
