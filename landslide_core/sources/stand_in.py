"""Synthetic stand-ins for the public datasets of paper Table 7, written in each dataset's own format.

The book and CI cannot ship Bijie, Sichuan, HR-GLDD or Landslide4Sense, so each
source can write a small stand-in in its official layout (file names, data
types, band order, mask encoding, NaN where the real files have them). The
pictures come from the CAS demo painter (:func:`landslide_core.sources.cas.demo.render_tile`)
with a look of their own per dataset (sensor, ground resolution, colour grading),
so a model trained on one stand-in meets a domain shift on the others, as on the
real data. A marker file at the root (:mod:`.stand_in_marker`) labels every
result computed from it as synthetic.
"""

from __future__ import annotations

import zlib

import numpy as np

from .cas.demo import Style, render_tile, seeded_style

__all__ = ["paint", "stand_in_style"]

def stand_in_style(dataset: str, *, satellite: bool, resolution_m: float) -> Style:
    """The fixed look of one dataset's stand-in, seeded from its name, graded further apart than the CAS demo's."""
    return seeded_style(dataset, satellite=satellite, resolution_m=resolution_m, spread=5 / 3, cloud_probability=0.1)


def paint(style: Style, seed: int, dataset: str, index: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Picture ``index`` of a stand-in: ``(3, size, size)`` uint8 RGB and its ``(size, size)`` 0/1 uint8 mask.

    Each picture has its own generator ``[seed, crc32(dataset), index]``, so a seed always gives the same pixels.
    """
    tile = render_tile(np.random.default_rng([seed, zlib.crc32(dataset.encode()), index]), style, size)
    return tile.image, tile.mask
