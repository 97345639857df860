"""Anchors: 8×8 blocks chosen by content, keyed alike in all eight orientations, so shared regions are found at any offset.

Two tiles cut from one scene at any offset, or a flipped or turned copy of a
tile, share a region of identical pixels. Hashing blocks on a fixed grid finds
only offsets that are multiples of the grid. Here every :data:`BLOCK` × :data:`BLOCK`
block at every position gets a hash that no flip or turn changes (the sum of a
mixed code of its pixels), and a block becomes an *anchor* when its hash is the
smallest in some :data:`WINDOW` × :data:`WINDOW` square of block positions (2-D
winnowing: a morphological opening of the hashes). Identical pixels give
identical hashes, so the smallest hash of a square of block positions lying in
a region two tiles share is an anchor in both, whatever the offset and
orientation: **any shared square of** :data:`GUARANTEED_SIDE` **(64) pixels that
holds an informative block gives the two tiles a common anchor** (tiles of at least
64 px a side; a smaller tile uses a square as large as it has). A block is not
informative, and never an anchor, when it holds a fill pixel (every band 0, or
every band at the integer type's largest value) or one value throughout.

An anchor is keyed by its hash and the smallest of the eight orientation hashes
of its block, whose orientation (see :func:`orient`) tells how two tiles with a
common anchor line up. A 512×512 tile keeps a few hundred anchors (238 to 292 on
the 24 real Hokkaido tiles), and none of its pixels.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["BLOCK", "GUARANTEED_SIDE", "WINDOW", "TileAnchors", "compose", "fill_from_codes", "fill_mask",
           "in_identical_blocks", "inverse", "orient", "oriented_box", "pixel_codes", "tile_anchors"]

BLOCK = 8
"""Side of the hashed blocks, in pixels."""
WINDOW = 57
"""Side of the squares of block positions whose smallest hash is an anchor."""
GUARANTEED_SIDE = WINDOW + BLOCK - 1
"""Side of a shared square (64 px) that, holding one informative block, always gives two tiles a common anchor."""

_EMPTY = np.uint16(0xFFFF)
"""Selection value of a block that is not informative: larger than that of any informative block."""


def orient(array: np.ndarray, transform: int) -> np.ndarray:
    """One of the eight flips/turns of the last two axes: a left-right flip if ``transform >= 4``, then ``transform % 4`` quarter turns."""
    if transform >= 4:
        array = array[..., ::-1]
    return np.rot90(array, transform % 4, axes=(-2, -1))


def _matrix(transform: int) -> np.ndarray:
    """What :func:`orient` does to centred ``(row, col)`` coordinates."""
    flip = np.diag([1, -1]) if transform >= 4 else np.eye(2, dtype=int)
    return np.linalg.matrix_power(np.array([[0, -1], [1, 0]]), transform % 4) @ flip


_MATRICES = [_matrix(t) for t in range(8)]
_COMPOSE = np.array([[next(t for t in range(8) if (_MATRICES[t] == _MATRICES[b] @ _MATRICES[a]).all())
                      for b in range(8)] for a in range(8)], dtype=np.uint8)
_INVERSE = np.array([next(t for t in range(8) if (_MATRICES[t] == _MATRICES[a].T).all()) for a in range(8)],
                    dtype=np.uint8)


def compose(first: int | np.ndarray, then: int | np.ndarray) -> int | np.ndarray:
    """The transform that orients like ``first`` followed by ``then`` (elementwise for arrays)."""
    result = _COMPOSE[first, then]
    return int(result) if np.ndim(result) == 0 else result


def inverse(transform: int | np.ndarray) -> int | np.ndarray:
    """The transform that undoes ``transform`` (elementwise for arrays)."""
    result = _INVERSE[transform]
    return int(result) if np.ndim(result) == 0 else result


def oriented_box(transform, rows, cols, top, left, height, width):  # noqa: ANN001, ANN201 (ints or arrays alike)
    """Where a box lies after :func:`orient`: ``(top, left, height, width)`` in the oriented array.

    The box is ``top..top+height`` × ``left..left+width`` in an array of ``rows`` × ``cols``; it may reach past
    the array. Every argument may be an int or an array (elementwise).
    """
    if all(isinstance(v, int | np.integer) for v in (transform, rows, cols, top, left, height, width)):
        return _oriented_box(int(transform), rows, cols, top, left, height, width)
    transform = np.asarray(transform)
    left = np.where(transform >= 4, cols - left - width, left)
    for turn in range(3):
        now = transform % 4 > turn
        top, left, height, width, rows, cols = (
            np.where(now, cols - left - width, top), np.where(now, top, left), np.where(now, width, height),
            np.where(now, height, width), np.where(now, cols, rows), np.where(now, rows, cols))
    if np.ndim(top) == 0:
        return int(top), int(left), int(height), int(width)
    return top, left, height, width


def _oriented_box(transform: int, rows: int, cols: int, top: int, left: int, height: int,
                  width: int) -> tuple[int, int, int, int]:
    """:func:`oriented_box` for one box (plain ints: many times faster)."""
    if transform >= 4:
        left = cols - left - width
    for _ in range(transform % 4):
        top, left, height, width, rows, cols = cols - left - width, top, width, height, cols, rows
    return int(top), int(left), int(height), int(width)


def fill_mask(image: np.ndarray) -> np.ndarray:
    """Fill pixels of a ``(bands, rows, cols)`` tile: every band 0, or every band at the integer type's largest value."""
    fill = np.logical_and.reduce(image == 0, axis=0)
    if np.issubdtype(image.dtype, np.integer):
        fill |= np.logical_and.reduce(image == np.iinfo(image.dtype).max, axis=0)
    return fill


def fill_from_codes(image: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """:func:`fill_mask` of ``image``, from its :func:`pixel_codes` where they are the pixels' bytes (faster)."""
    if image.dtype != np.uint8 or image.shape[0] > 4:
        return fill_mask(image)
    white = np.uint32((1 << (8 * image.shape[0])) - 1)
    fill = codes == 0
    fill |= codes == white
    return fill


def pixel_codes(image: np.ndarray) -> np.ndarray:
    """One uint32 per pixel of a ``(bands, rows, cols)`` tile, equal for equal pixels.

    For uint8 with up to four bands the code is the pixel's bytes (equal codes, equal pixels); otherwise a 32-bit
    hash of its values.
    """
    bands = image.shape[0]
    if image.dtype == np.uint8 and bands <= 4:
        codes = image[bands - 1].astype(np.uint32, order="C")
        for band in range(bands - 2, -1, -1):
            codes <<= np.uint32(8)
            codes |= image[band]
        return codes
    words = np.ascontiguousarray(image).view(f"u{image.dtype.itemsize}").astype(np.uint64)
    words += np.arange(1, bands + 1, dtype=np.uint64)[:, None, None] * np.uint64(0x9E3779B97F4A7C15)
    words ^= words >> np.uint64(31)
    words *= np.uint64(0xBF58476D1CE4E5B9)
    words ^= words >> np.uint64(29)
    mixed = words.sum(axis=0, dtype=np.uint64)
    return (mixed ^ (mixed >> np.uint64(32))).astype(np.uint32)


def _box_sums(values: np.ndarray) -> np.ndarray:
    """Sum of every BLOCK×BLOCK block (by doubling; BLOCK is a power of two); wraps around like the dtype."""
    step = 1
    while step < BLOCK:
        values = values[:, :-step] + values[:, step:]
        step *= 2
    step = 1
    while step < BLOCK:
        values = values[:-step] + values[step:]
        step *= 2
    return values


def _along(values: np.ndarray, axis: int, start: int, stop: int) -> np.ndarray:
    return values[start:values.shape[0] - stop] if axis == 0 else values[:, start:values.shape[1] - stop]


def _sliding(values: np.ndarray, size: int, op: np.ufunc, axis: int) -> np.ndarray:
    """``op`` over every run of ``size`` along ``axis`` (by doubling); the axis shrinks by ``size - 1``."""
    step = 1
    while 2 * step <= size:
        values = op(_along(values, axis, 0, step), _along(values, axis, step, 0))
        step *= 2
    if size > step:
        values = op(_along(values, axis, 0, size - step), _along(values, axis, size - step, 0))
    return values


def _spread_max(values: np.ndarray, size: int, axis: int) -> np.ndarray:
    """For each position of the axis grown by ``size - 1``, the largest of the runs of ``size`` that contain it."""
    n = values.shape[axis]
    shape = list(values.shape)
    shape[axis] = n + size - 1
    out = np.empty(shape, values.dtype)

    def part(start: int | None, stop: int | None) -> tuple[slice, ...]:
        return (slice(start, stop), slice(None)) if axis == 0 else (slice(None), slice(start, stop))

    backwards = part(None, None)[:axis] + (slice(None, None, -1),)
    edge = min(size - 1, n)
    out[part(0, edge)] = np.maximum.accumulate(values[part(0, edge)], axis=axis)
    out[part(n + size - 1 - edge, None)] = np.maximum.accumulate(values[part(n - edge, None)][backwards],
                                                                 axis=axis)[backwards]
    if n >= size:
        out[part(size - 1, n)] = _sliding(values, size, np.maximum, axis)
    return out


def in_identical_blocks(equal: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The pixels in a BLOCK×BLOCK block where the mask ``equal`` is set throughout and ``content`` somewhere."""
    if min(equal.shape) < BLOCK:
        return np.zeros_like(equal, dtype=bool)
    whole = (_box_sums(equal.view(np.uint8)) == BLOCK * BLOCK) & (_box_sums(content.view(np.uint8)) > 0)
    return _spread_max(_spread_max(whole.view(np.uint8), BLOCK, 1), BLOCK, 0).view(bool)


_ORIENTATION_WEIGHTS = np.random.default_rng(20240521).integers(1, 1 << 14, BLOCK * BLOCK).astype(np.float64)
_BY_ORIENTATION = np.zeros((BLOCK * BLOCK, 8))
"""Column t holds weights w_t with ``sum(block * w_t) == sum(orient(block, t) * w_0)``: one product, eight hashes."""
for _t in range(8):
    _BY_ORIENTATION[orient(np.arange(BLOCK * BLOCK).reshape(BLOCK, BLOCK), _t).ravel(), _t] = _ORIENTATION_WEIGHTS


@dataclass(frozen=True)
class TileAnchors:
    """A tile's anchors: each one's block position, key and canonical orientations."""

    shape: tuple[int, int]
    """The tile's ``(rows, cols)``."""
    rows: np.ndarray
    """Top row of each anchor block (int32)."""
    cols: np.ndarray
    """Left column of each anchor block (int32)."""
    keys: np.ndarray
    """uint64; an identical block in any orientation has the same key."""
    orientations: np.ndarray
    """uint8 bit sets: bit ``t`` when :func:`orient` by ``t`` turns the block into its canonical orientation (one bit,
    unless the block looks the same in several orientations)."""
    informative: int
    """How many block positions of the tile are informative (none: blank or fill throughout)."""


def tile_anchors(image: np.ndarray) -> TileAnchors:
    """The anchors of a tile ``(bands, rows, cols)`` or ``(rows, cols)``.

    Raises:
        ValueError: The tile has fewer than :data:`BLOCK` rows or columns.
    """
    if image.ndim == 2:
        image = image[np.newaxis]
    if image.ndim != 3 or min(image.shape[1:]) < BLOCK:
        raise ValueError(f"the leakage audit needs tiles of at least {BLOCK}×{BLOCK} pixels, got shape {image.shape}")
    codes = pixel_codes(image)
    mixed = codes * np.uint32(0x9E3779B1)
    mixed ^= mixed >> np.uint32(15)
    sums = _box_sums(mixed)
    # One value throughout: four equal corners and the sum of 64 equal codes (the same in every orientation).
    last = BLOCK - 1
    maybe_flat = sums == mixed[:-last, :-last] * np.uint32(BLOCK * BLOCK)
    if maybe_flat.any():
        rows, cols = np.divmod(np.flatnonzero(maybe_flat), maybe_flat.shape[1])
        corner = codes[rows, cols]
        mixed_corners = ((corner != codes[rows, cols + last]) | (corner != codes[rows + last, cols])
                         | (corner != codes[rows + last, cols + last]))
        maybe_flat[rows[mixed_corners], cols[mixed_corners]] = False
    fill = fill_from_codes(image, codes)
    empty = maybe_flat | (_box_sums(fill.view(np.uint8)) > 0) if fill.any() else maybe_flat
    high = sums.view(np.uint16)[:, 1::2] if sys.byteorder == "little" else sums.view(np.uint16)[:, ::2]
    selection = np.minimum(high, _EMPTY - np.uint16(1))  # the upper 16 bits of each sum
    selection[empty] = _EMPTY
    size = min(WINDOW, *selection.shape)
    smallest = _sliding(_sliding(selection, size, np.minimum, 1), size, np.minimum, 0)
    opened = _spread_max(_spread_max(smallest, size, 1), size, 0)
    rows, cols = np.divmod(np.flatnonzero((selection == opened) & (selection != _EMPTY)), selection.shape[1])
    blocks = sliding_window_view(codes, (BLOCK, BLOCK))[rows, cols].reshape(len(rows), BLOCK * BLOCK)
    by_orientation = blocks.astype(np.float64) @ _BY_ORIENTATION  # exact: 64 terms below 2**32 * 2**14
    canonical = by_orientation.min(axis=1)
    bits = ((by_orientation == canonical[:, None]) << np.arange(8)).sum(axis=1).astype(np.uint8)
    keys = canonical.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + sums[rows, cols].astype(np.uint64)
    return TileAnchors((int(image.shape[1]), int(image.shape[2])), rows.astype(np.int32), cols.astype(np.int32),
                       keys, bits, int(empty.size - np.count_nonzero(empty)))
