"""Where tiles fall over a scene, and how their overlapping predictions are weighted into one map.

Tiles start every ``tile - overlap`` pixels, the last row and column moved back
flush with the scene edge (so no tile reads past it); a scene narrower than a tile
gets one tile, padded. Each tile's prediction is weighted by a separable window
that rises as ``sin²`` over its outer ``overlap`` pixels and is 1 inside: where two
neighbours overlap by exactly ``overlap`` their weights add up to 1, a smooth
cross-fade with no seam. Every pixel's value is its weighted sum divided by its
summed weight, so irregular overlaps at the scene edge are blended exactly too;
for a model that looks at single pixels only (1×1 convolutions) the blended map
equals the model applied to the whole scene at once.

Because the window is separable and the tiles form a product grid, the summed
weight at a pixel is (sum over tile rows) × (sum over tile columns): two vectors,
not a scene-sized array, which keeps memory independent of the scene's size.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from rasterio.windows import Window

from ..errors import ConfigError

__all__ = ["MODEL_STRIDE", "TileCache", "TileGrid", "computed_tiles", "ramp", "tile_starts"]

MODEL_STRIDE = 32
"""The networks downsample by 32, so a tile's side must be a multiple of it."""

Key = tuple[int, int]


def tile_starts(length: int, tile: int, stride: int) -> list[int]:
    """Tile origins along one axis: every ``stride``, the last flush with the end; ``[0]`` if one tile covers it."""
    if length <= tile:
        return [0]
    return [*range(0, length - tile, stride), length - tile]


def ramp(tile: int, overlap: int) -> np.ndarray:
    """One axis of the weight window: ``sin²`` over the outer ``overlap`` pixels on each side, 1 between."""
    distance = np.minimum(np.arange(tile), np.arange(tile)[::-1]).astype(np.float64)
    if overlap == 0:
        return np.ones(tile)
    return np.where(distance < overlap, np.sin(np.pi / 2 * (distance + 0.5) / overlap) ** 2, 1.0)


def _weight_sum(length: int, starts: list[int], weights: np.ndarray) -> np.ndarray:
    total = np.zeros(length)
    for start in starts:
        span = min(len(weights), length - start)
        total[start:start + span] += weights[:span]
    return total


@dataclass(frozen=True)
class TileGrid:
    """The tiles over a ``width``×``height`` scene and the per-axis sums of their weights."""

    width: int
    height: int
    tile: int
    overlap: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    weights: np.ndarray
    row_sum: np.ndarray
    col_sum: np.ndarray

    @classmethod
    def build(cls, width: int, height: int, tile: int, overlap: int) -> TileGrid:
        """The grid for a scene.

        Raises:
            ConfigError: The tile is not a positive multiple of :data:`MODEL_STRIDE`, or the overlap leaves no stride.
        """
        if tile < MODEL_STRIDE or tile % MODEL_STRIDE or not 0 <= overlap < tile:
            raise ConfigError(f"tile must be a multiple of {MODEL_STRIDE} (the networks downsample by 32) and "
                              f"overlap between 0 and tile - 1; got tile {tile}, overlap {overlap}")
        stride = tile - overlap
        rows, cols = tile_starts(height, tile, stride), tile_starts(width, tile, stride)
        weights = ramp(tile, overlap)
        return cls(width, height, tile, overlap, tuple(rows), tuple(cols), weights,
                   _weight_sum(height, rows, weights), _weight_sum(width, cols, weights))

    @property
    def count(self) -> int:
        """Tiles in the grid."""
        return len(self.rows) * len(self.cols)

    def window(self, key: Key) -> Window:
        """The scene window a tile reads (smaller than the tile where the scene is)."""
        row, col = key
        return Window(col, row, min(self.tile, self.width - col), min(self.tile, self.height - row))

    def tiles_in(self, window: Window) -> list[Key]:
        """The tiles that cover any pixel of ``window``, row by row."""
        r0, c0 = int(window.row_off), int(window.col_off)
        r1, c1 = r0 + int(window.height), c0 + int(window.width)
        rows = [r for r in self.rows if r < r1 and r + self.tile > r0]
        cols = [c for c in self.cols if c < c1 and c + self.tile > c0]
        return [(r, c) for r in rows for c in cols]

    def blend(self, window: Window, tiles: Iterable[tuple[Key, np.ndarray]]) -> np.ndarray:
        """The blended map over ``window`` from ``(tile key, tile × tile prediction)`` pairs covering it."""
        r0, c0 = int(window.row_off), int(window.col_off)
        h, w = int(window.height), int(window.width)
        total = np.zeros((h, w), np.float64)
        for (row, col), prediction in tiles:
            top, left = max(row, r0), max(col, c0)
            bottom, right = min(row + self.tile, r0 + h, self.height), min(col + self.tile, c0 + w, self.width)
            weighted = (prediction[top - row:bottom - row, left - col:right - col]
                        * self.weights[top - row:bottom - row, None] * self.weights[None, left - col:right - col])
            total[top - r0:bottom - r0, left - c0:right - c0] += weighted
        return (total / (self.row_sum[r0:r0 + h, None] * self.col_sum[None, c0:c0 + w])).astype(np.float32)


class TileCache:
    """The last ``capacity`` tile predictions, so a tile shared by neighbouring chunks is predicted once.

    With ``keep=False`` it stores keys only: a dry run of the same sequence counts the tiles a prediction will
    compute, for an exact progress total.
    """

    def __init__(self, capacity: int, *, keep: bool = True) -> None:
        self.capacity, self.keep = capacity, keep
        self._items: OrderedDict[Key, np.ndarray | None] = OrderedDict()

    def split(self, keys: list[Key]) -> tuple[list[Key], list[Key]]:
        """(cached, to compute) among ``keys``; the cached ones become the most recent."""
        cached = [k for k in keys if k in self._items]
        for key in cached:
            self._items.move_to_end(key)
        return cached, [k for k in keys if k not in self._items]

    def get(self, key: Key) -> np.ndarray:
        """A cached prediction."""
        value = self._items[key]
        assert value is not None, "a dry-run cache holds no predictions"
        return value

    def put(self, key: Key, value: np.ndarray | None) -> None:
        """Store a prediction, dropping the least recently used beyond capacity."""
        self._items[key] = value if self.keep else None
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)


def computed_tiles(grid: TileGrid, windows: list[Window], capacity: int) -> int:
    """How many tile predictions blending ``windows`` in order will compute with a cache of ``capacity``."""
    cache, count = TileCache(capacity, keep=False), 0
    for window in windows:
        for key in cache.split(grid.tiles_in(window))[1]:
            cache.put(key, None)
            count += 1
    return count

