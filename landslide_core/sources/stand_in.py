"""Synthetic stand-ins for the public datasets of paper Table 7, written in each dataset's own format.

The book and CI cannot ship Bijie, Sichuan, HR-GLDD or Landslide4Sense, so each
source can write a small stand-in in its official layout (file names, data
types, band order, mask encoding, NaN where the real files have them). The
pictures come from the CAS demo painter (:func:`landslide_core.sources.cas.demo.render_tile`)
with a look of their own per dataset (sensor, ground resolution, colour grading),
so a model trained on one stand-in meets a domain shift on the others, as on the
real data. A marker file at the root (:data:`STAND_IN_MARKER`) labels every
result computed from it as synthetic.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

from ..io.atomic import write_text_atomic
from .cas.demo import Style, render_tile, seeded_style

__all__ = ["STAND_IN_MARKER", "is_stand_in", "paint", "stand_in_label", "stand_in_style", "write_marker"]

STAND_IN_MARKER = "SYNTHETIC-STAND-IN.json"
"""File at the root of a generated stand-in; its presence marks every tile under it as synthetic."""


def stand_in_style(dataset: str, *, satellite: bool, resolution_m: float) -> Style:
    """The fixed look of one dataset's stand-in, seeded from its name, graded further apart than the CAS demo's."""
    return seeded_style(dataset, satellite=satellite, resolution_m=resolution_m, spread=5 / 3, cloud_probability=0.1)


def paint(style: Style, seed: int, dataset: str, index: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Picture ``index`` of a stand-in: ``(3, size, size)`` uint8 RGB and its ``(size, size)`` 0/1 uint8 mask.

    Each picture has its own generator ``[seed, crc32(dataset), index]``, so a seed always gives the same pixels.
    """
    tile = render_tile(np.random.default_rng([seed, zlib.crc32(dataset.encode()), index]), style, size)
    return tile.image, tile.mask


def write_marker(root: str | Path, dataset: str, seed: int, settings: dict[str, object]) -> Path:
    """Write the stand-in marker at ``root`` (last, once every file is written)."""
    content = {"dataset": dataset, "seed": seed, "settings": settings,
               "note": f"synthetic stand-in written in the format of {dataset}; not {dataset} imagery"}
    return write_text_atomic(Path(root) / STAND_IN_MARKER, json.dumps(content, indent=2) + "\n")


def is_stand_in(root: str | Path) -> bool:
    """True for a root (or a folder directly inside one) that a stand-in writer wrote."""
    root = Path(root)
    return (root / STAND_IN_MARKER).is_file() or (root.parent / STAND_IN_MARKER).is_file()


def stand_in_label(title: str) -> str:
    """What pages and records call a stand-in's data, e.g. ``Bijie stand-in, synthetic``."""
    return f"{title} stand-in, synthetic"
