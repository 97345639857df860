"""Tile sources: one per dataset, behind one contract (:class:`TileSource`).

``get_source("cas")`` gives the CAS Landslide Dataset; the layers above (torch
dataset, splits, validation, training, evaluation) take a source and use no
dataset's constants of their own.
"""

from .base import IMAGENET, Normalisation, Scan, TileSource, available_sources, get_source, raise_first, register_source
from .bijie import BijieSource
from .cas import CAS, CASSource
from .folder import FolderSource
from .hrgldd import HRGLDDSource
from .landslide4sense import Landslide4SenseSource
from .sichuan import SichuanSource

register_source(CAS.name, lambda: CAS)
register_source(HRGLDDSource.name, HRGLDDSource)
register_source(Landslide4SenseSource.name, Landslide4SenseSource)
register_source(FolderSource.name, FolderSource)
register_source(BijieSource.name, BijieSource)
register_source(SichuanSource.name, SichuanSource)

__all__ = [
    "CAS", "IMAGENET", "BijieSource", "CASSource", "FolderSource", "HRGLDDSource", "Landslide4SenseSource",
    "Normalisation", "Scan", "SichuanSource", "TileSource", "available_sources", "get_source", "raise_first",
    "register_source",
]
