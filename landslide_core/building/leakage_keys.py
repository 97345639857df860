"""Quadrant keys: one exact key per aligned quadrant of a tile, the same under every flip and 90° turn.

The CAS production code cut 512×512 tiles with a stride of 256, so neighbouring
tiles share aligned 256×256 quadrants, and a flipped or rotated copy of a tile
shares all four in another orientation. A key is the hash of the quadrant in a
canonical orientation, chosen from a cheap fingerprint (block sums on a 16×16
grid of cells whose edges are mirror-symmetric, so flipping or turning the
quadrant flips or turns its fingerprint the same way): equal pixels in any of
the eight orientations give the same key, and nothing else does (short of a
128-bit hash collision). Only keys are kept, never pixels.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np

__all__ = ["FILL_LIMIT", "GRID", "QuadrantKey", "orient", "quadrant_keys"]

GRID = 16
"""Fingerprint cells per side of a quadrant (fewer when the quadrant is smaller than 16 pixels)."""
FILL_LIMIT = 0.5
"""A quadrant with more than this share of fill pixels (pure black or pure white in every band) is skipped."""


class QuadrantKey(NamedTuple):
    """The key of one aligned quadrant and the orientation it was hashed in."""

    index: int
    """0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right."""
    key: bytes | None
    """16-byte blake2b digest of the canonical orientation; ``None`` for a skipped (blank or fill) quadrant."""
    transform: int
    """The dihedral transform (see :func:`orient`) that turned the stored quadrant into the canonical one."""

    @property
    def transformed(self) -> bool:
        """True when the canonical orientation is not the stored one."""
        return self.transform != 0


def orient(array: np.ndarray, transform: int) -> np.ndarray:
    """One of the eight flips/turns of the last two axes: a left-right flip if ``transform >= 4``, then ``transform % 4`` quarter turns."""
    if transform >= 4:
        array = array[..., ::-1]
    return np.rot90(array, transform % 4, axes=(-2, -1))


def _cell_edges(side: int) -> np.ndarray:
    """Cell edges along one axis, mirror-symmetric (``e`` is an edge iff ``side - e`` is)."""
    cells = min(GRID, side)
    half = [(i * side) // cells for i in range(cells // 2 + 1)]
    return np.array(sorted(set(half) | {side - e for e in half}))


def _fingerprint(quadrant: np.ndarray) -> np.ndarray | None:
    """Block sums ``(bands, cells, cells)``; ``None`` for float images, whose sums depend on the summing order."""
    if not np.issubdtype(quadrant.dtype, np.integer):
        return None
    starts = _cell_edges(quadrant.shape[-1])[:-1]
    columns = np.add.reduceat(quadrant, starts, axis=2, dtype=np.int64)  # along rows first: twice as fast
    return np.add.reduceat(columns, starts, axis=1)


def _digest(array: np.ndarray) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{array.dtype.str}{array.shape}".encode())
    h.update(np.ascontiguousarray(array))
    return h.digest()


def _canonical(quadrant: np.ndarray) -> tuple[bytes, int]:
    """The key and the transform of the canonical orientation.

    The smallest fingerprint (compared as big-endian bytes, i.e. lexicographically)
    picks the orientation; orientations whose fingerprints tie are all hashed and the
    smallest digest wins, so the choice never depends on the orientation the
    quadrant was stored in.
    """
    fingerprint = _fingerprint(quadrant)
    if fingerprint is None:
        candidates = list(range(8))
    else:
        prints = [np.ascontiguousarray(orient(fingerprint, t), dtype=">i8").tobytes() for t in range(8)]
        smallest = min(prints)
        candidates = [t for t in range(8) if prints[t] == smallest]
    if len(candidates) == 1:
        return _digest(orient(quadrant, candidates[0])), candidates[0]
    return min((_digest(orient(quadrant, t)), t) for t in candidates)


def _fill_value(dtype: np.dtype) -> int | None:
    """The 'white' of an integer image (its type's largest value); floats have none."""
    return int(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else None


def _is_blank(quadrant: np.ndarray) -> bool:
    """One colour throughout, or more than :data:`FILL_LIMIT` pure black/white pixels: shared by unrelated tiles."""
    flat = quadrant.reshape(quadrant.shape[0], -1)
    if (flat == flat[:, :1]).all():
        return True
    fill = (flat == 0).all(axis=0)
    white = _fill_value(quadrant.dtype)
    if white is not None:
        fill |= (flat == white).all(axis=0)
    return float(fill.mean()) > FILL_LIMIT


def quadrant_keys(image: np.ndarray) -> list[QuadrantKey]:
    """The keys of a square tile's four aligned quadrants, blank ones skipped (key ``None``).

    Args:
        image: ``(bands, s, s)`` or ``(s, s)`` with ``s`` even.

    Returns:
        Four :class:`QuadrantKey` s, top-left, top-right, bottom-left, bottom-right;
        each unpacks as ``(index, key, transform)``.

    Raises:
        ValueError: The image is not square with an even side.
    """
    if image.ndim == 2:
        image = image[np.newaxis]
    if image.ndim != 3 or image.shape[1] != image.shape[2] or image.shape[1] % 2:
        raise ValueError(f"the leakage audit needs square tiles with an even side, got shape {image.shape}")
    half = image.shape[1] // 2
    keys = []
    for index in range(4):
        row, col = divmod(index, 2)
        quadrant = image[:, row * half:(row + 1) * half, col * half:(col + 1) * half]
        if _is_blank(quadrant):
            keys.append(QuadrantKey(index, None, 0))
        else:
            keys.append(QuadrantKey(index, *_canonical(quadrant)))
    return keys
