"""Tile sources: one per dataset, behind one contract (:class:`TileSource`).

``get_source("cas")`` gives the CAS Landslide Dataset; the layers above (torch
dataset, splits, validation, training, evaluation) take a source and use no
dataset's constants of their own.
"""

from .base import IMAGENET, Normalisation, Scan, TileSource, available_sources, get_source, raise_first, register_source
from .cas import CAS, CASSource

register_source(CAS.name, lambda: CAS)

__all__ = [
    "CAS", "IMAGENET", "CASSource", "Normalisation", "Scan", "TileSource", "available_sources", "get_source",
    "raise_first", "register_source",
]
