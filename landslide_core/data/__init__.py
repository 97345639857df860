"""Tiles as training data: the torch dataset, seeded split manifests, transforms, validation and statistics.

Everything here works on :class:`~landslide_core.tiles.TileRecord` s of any
tile source (:mod:`landslide_core.sources`). Its names load on first use
(:func:`~landslide_core.io.lazy.lazy_names`): reading a split manifest does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..io.lazy import lazy_names

if TYPE_CHECKING:
    from .splits import load_or_make_split, make_split, manifest_checksum, read_manifest, split_records, write_manifest
    from .statistics import tile_statistics
    from .torch_dataset import TileDataset
    from .validate import ValidationReport, validate_root

__all__ = [
    "TileDataset", "ValidationReport", "load_or_make_split", "make_split", "manifest_checksum", "read_manifest",
    "split_records", "tile_statistics", "validate_root", "write_manifest",
]

__getattr__ = lazy_names(__name__, {
    **dict.fromkeys(["load_or_make_split", "make_split", "manifest_checksum", "read_manifest", "split_records",
                     "write_manifest"], ".splits"),
    "tile_statistics": ".statistics", "TileDataset": ".torch_dataset", "ValidationReport": ".validate",
    "validate_root": ".validate",
})
