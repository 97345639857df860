"""From anchors to candidate alignments: which tiles may share pixels, and how they would line up.

An *alignment* ``(transform, dy, dx)`` of tile ``b`` on tile ``a`` says that
``orient(b, transform)`` lies with its top-left pixel at row ``dy``, column ``dx``
of ``a``'s pixel grid. Two anchors with one key (:mod:`.leakage_keys`) give one:
a vote. The alignments with votes are the *content* candidates. Tiles linked by
them are then laid out in one frame per linked group (each tile placed through
the links with the most votes), and every two tiles whose places overlap there
become a *placement* candidate: overlaps too thin to hold a common anchor (on a
1000-px scene cut at stride 256, the 24-px strip between the first and the flush
last tile, which both overlap the middle one) are found this way. Every candidate
is a guess until its pixels are compared (:mod:`.leakage`).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from .leakage_keys import BLOCK, TileAnchors, compose, inverse, oriented_box

__all__ = ["SHARED_KEY_LIMIT", "Alignment", "AnchorTable", "Box", "layout", "layout_candidates", "on_b", "overlap",
           "reverse", "votes"]

Alignment = tuple[int, int, int]
"""``(transform, dy, dx)``: ``orient(b, transform)`` lies with its top-left at row ``dy``, column ``dx`` of ``a``."""

Box = tuple[int, int, int, int]
"""``(top, left, bottom, right)`` in a tile's pixels, bottom and right exclusive."""

SHARED_KEY_LIMIT = 64
"""A key held by more anchors than this votes only for neighbours in key order (a chain), not for every pair: the
tiles are linked all the same, and their pairs come from their places."""


def reverse(alignment: Alignment, shape_a: tuple[int, int], shape_b: tuple[int, int]) -> Alignment:
    """The same alignment seen from ``b``: how ``a`` lies on ``b``."""
    transform, dy, dx = alignment
    _, _, rows, cols = oriented_box(transform, *shape_b, 0, 0, *shape_b)
    top, left, _, _ = oriented_box(inverse(transform), rows, cols, -dy, -dx, *shape_a)
    return inverse(transform), top, left


def overlap(alignment: Alignment, shape_a: tuple[int, int], shape_b: tuple[int, int]) -> Box:
    """Where ``b`` covers ``a`` when lined up so: ``(top, left, bottom, right)`` on ``a``; empty when it does not."""
    transform, dy, dx = alignment
    _, _, rows, cols = oriented_box(transform, *shape_b, 0, 0, *shape_b)
    return max(0, dy), max(0, dx), min(shape_a[0], dy + rows), min(shape_a[1], dx + cols)


def on_b(alignment: Alignment, shape_b: tuple[int, int], box: Box) -> Box:
    """A box on ``a`` that ``b`` covers, as the box of ``b``'s own pixels there."""
    transform, dy, dx = alignment
    _, _, rows, cols = oriented_box(transform, *shape_b, 0, 0, *shape_b)
    top, left, bottom, right = box
    b_top, b_left, height, width = oriented_box(inverse(transform), rows, cols, top - dy, left - dx, bottom - top,
                                                right - left)
    return b_top, b_left, b_top + height, b_left + width


class AnchorTable:
    """Every tile's anchors in five flat columns (21 bytes an anchor)."""

    def __init__(self) -> None:
        self._columns: list[list[np.ndarray]] = [[] for _ in range(5)]
        self._pending: list[list[np.ndarray]] = [[] for _ in range(5)]

    def add(self, tile: int, anchors: TileAnchors) -> None:
        """Add the anchors of tile number ``tile``."""
        values = (np.full(len(anchors.keys), tile, np.int32), anchors.rows, anchors.cols, anchors.keys,
                  anchors.orientations)
        for pending, value in zip(self._pending, values, strict=True):
            pending.append(value)
        if len(self._pending[0]) >= 256:  # a few large arrays rather than one small one per tile
            self._flush()

    def _flush(self) -> None:
        for column, pending in zip(self._columns, self._pending, strict=True):
            column.append(np.concatenate(pending))
            pending.clear()

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``tiles, rows, cols, keys, orientations``, one entry per anchor; the table is empty afterwards."""
        if self._pending[0]:
            self._flush()
        out = []
        for column, dtype in zip(self._columns, (np.int32, np.int32, np.int32, np.uint64, np.uint8), strict=True):
            out.append(np.concatenate(column) if column else np.zeros(0, dtype))
            column.clear()  # one column at a time: the table is never held twice
        return tuple(out)  # type: ignore[return-value]


VOTES_AT_ONCE = 1 << 18
"""Votes made and counted at once: memory stays bounded however many tiles share anchors."""


def _entry_pairs(order: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of anchor entries with one key, given as runs (``starts``, ``lengths``) of ``order``.

    All pairs in a run of at most :data:`SHARED_KEY_LIMIT`, neighbours only in a longer one.
    """
    run_length = np.repeat(lengths, lengths)
    position = np.arange(len(run_length)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    index = np.repeat(starts, lengths) + position  # into ``order``
    firsts, seconds = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    candidates, step = np.arange(len(index)), 1
    while len(candidates):
        keep = position[candidates] + step < run_length[candidates]
        if step > 1:
            keep &= run_length[candidates] <= SHARED_KEY_LIMIT
        candidates = candidates[keep]
        firsts.append(order[index[candidates]])
        seconds.append(order[index[candidates] + step])
        step += 1
    return np.concatenate(firsts), np.concatenate(seconds)


def _counted(pair_key: np.ndarray, alignment_key: np.ndarray, counts: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal ``(pair_key, alignment_key)`` merged, their counts summed."""
    if not len(pair_key):
        return pair_key, alignment_key, counts
    order = np.lexsort((alignment_key, pair_key))
    pair_key, alignment_key, counts = pair_key[order], alignment_key[order], counts[order]
    starts = np.flatnonzero(np.r_[True, (pair_key[1:] != pair_key[:-1]) | (alignment_key[1:] != alignment_key[:-1])])
    return pair_key[starts], alignment_key[starts], np.add.reduceat(counts, starts)


_OFFSET = 1 << 20
_MASK = (1 << 21) - 1


def votes(table: AnchorTable, shapes: Sequence[tuple[int, int]]) -> dict[tuple[int, int], list[tuple[Alignment, int]]]:
    """Alignments voted for by common anchors: ``(a, b)`` with ``a < b`` → ``[(alignment, votes), ...]``, most first."""
    tiles, rows, cols, keys, orientations = table.arrays()
    order = np.argsort(keys, kind="stable").astype(np.int32)
    ordered = keys[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]).astype(np.int32)
    del ordered, keys
    lengths = np.diff(np.r_[starts, len(order)]).astype(np.int32)
    starts, lengths = starts[lengths > 1], lengths[lengths > 1]  # keys held by one anchor vote for nothing
    made = np.where(lengths <= SHARED_KEY_LIMIT, lengths.astype(np.int64) * (lengths - 1) // 2, lengths - 1)
    chunk = np.cumsum(made) // VOTES_AT_ONCE  # non-decreasing: each chunk is a slice of the runs
    bounds = np.flatnonzero(np.r_[True, chunk[1:] != chunk[:-1], True])
    del made, chunk
    shape = np.array(shapes, dtype=np.int64).reshape(-1, 2)
    counted = [(np.zeros(0, np.int64),) * 3]
    for low, high in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        first, second = _entry_pairs(order, starts[low:high], lengths[low:high])
        other = tiles[first] != tiles[second]  # a block repeated within one tile says nothing about other tiles
        first, second = first[other], second[other]
        swap = tiles[first] > tiles[second]
        first, second = np.where(swap, second, first), np.where(swap, first, second)
        e_a, e_b, transform = _orientation_pairs(orientations, first, second)
        top, left, _, _ = oriented_box(transform, shape[tiles[e_b], 0], shape[tiles[e_b], 1], rows[e_b], cols[e_b],
                                       BLOCK, BLOCK)
        dy, dx = rows[e_a] - np.asarray(top, np.int64), cols[e_a] - np.asarray(left, np.int64)
        pair_key = tiles[e_a].astype(np.int64) * len(shapes) + tiles[e_b]
        alignment_key = (transform << 42) | ((dy + _OFFSET) << 21) | (dx + _OFFSET)
        counted.append(_counted(pair_key, alignment_key, np.ones(len(pair_key), np.int64)))
    pair_key, alignment_key, counts = _counted(*(np.concatenate(column) for column in zip(*counted, strict=True)))
    found: dict[tuple[int, int], list[tuple[Alignment, int]]] = defaultdict(list)
    for p, k, n in zip(pair_key.tolist(), alignment_key.tolist(), counts.tolist(), strict=True):
        found[divmod(p, len(shapes))].append(((k >> 42, ((k >> 21) & _MASK) - _OFFSET, (k & _MASK) - _OFFSET), n))
    for alignments in found.values():
        alignments.sort(key=lambda item: (-item[1], item[0]))
    return found


def _orientation_pairs(orientations: np.ndarray, first: np.ndarray, second: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entry pairs with the transform that turns the second's block into the first's.

    One each where both blocks have one canonical orientation, else one per orientation they may be related by.
    """
    single = (_popcount(orientations[first]) == 1) & (_popcount(orientations[second]) == 1)
    transform = compose(_lowest_bit(orientations[second[single]]), inverse(_lowest_bit(orientations[first[single]])))
    e_a, e_b, transforms = [first[single]], [second[single]], [np.asarray(transform, np.int64)]
    for i, j in zip(first[~single].tolist(), second[~single].tolist(), strict=True):
        options = sorted({compose(tb, inverse(ta)) for ta in range(8) if orientations[i] >> ta & 1
                          for tb in range(8) if orientations[j] >> tb & 1})
        e_a.append(np.full(len(options), i))
        e_b.append(np.full(len(options), j))
        transforms.append(np.array(options, np.int64))
    return np.concatenate(e_a), np.concatenate(e_b), np.concatenate(transforms).astype(np.int64)


def _popcount(bits: np.ndarray) -> np.ndarray:
    return np.unpackbits(bits[:, None], axis=1).sum(axis=1)


def _lowest_bit(bits: np.ndarray) -> np.ndarray:
    return np.unpackbits(bits[:, None], axis=1, bitorder="little").argmax(axis=1)


def layout(shapes: Sequence[tuple[int, int]], links: dict[tuple[int, int], tuple[Alignment, int]]
           ) -> tuple[np.ndarray, np.ndarray]:
    """Each tile's place in the frame of its linked group: ``component`` (the group's first tile) and ``pose``.

    ``links`` maps ``(a, b)`` to an alignment and its votes. The frame of a group is that of its first tile; the
    others are placed one by one through the link with the most votes to a placed tile (a maximum spanning tree),
    so a stray vote does not misplace a tile that firmer links place. ``pose`` holds ``(transform, top, left)``:
    ``orient(tile, transform)`` lies with its top-left there.
    """
    neighbours: dict[int, list[tuple[int, int, Alignment]]] = defaultdict(list)
    for (a, b), (alignment, count) in links.items():
        neighbours[a].append((count, b, alignment))
        neighbours[b].append((count, a, reverse(alignment, shapes[a], shapes[b])))
    component = np.full(len(shapes), -1, np.int64)
    pose = np.zeros((len(shapes), 3), np.int64)
    for root in range(len(shapes)):
        if component[root] >= 0:
            continue
        component[root] = root
        heap = [(-count, root, b, alignment) for count, b, alignment in neighbours[root]]
        heapq.heapify(heap)
        while heap:
            _, a, b, (transform, dy, dx) = heapq.heappop(heap)
            if component[b] >= 0:
                continue
            transform_a, top_a, left_a = (int(v) for v in pose[a])
            _, _, rows, cols = oriented_box(transform, *shapes[b], 0, 0, *shapes[b])
            top, left, _, _ = oriented_box(transform_a, *shapes[a], dy, dx, rows, cols)
            component[b] = root
            pose[b] = (compose(transform, transform_a), top + top_a, left + left_a)
            for count, c, alignment in neighbours[b]:
                if component[c] < 0:
                    heapq.heappush(heap, (-count, b, c, alignment))
    return component, pose


def layout_candidates(shapes: Sequence[tuple[int, int]], component: np.ndarray, pose: np.ndarray
                      ) -> dict[tuple[int, int], Alignment]:
    """Every two tiles of a group whose places in its frame overlap, with the alignment their places imply."""
    members: dict[int, list[int]] = defaultdict(list)
    for tile, group in enumerate(component.tolist()):
        members[group].append(tile)
    found: dict[tuple[int, int], Alignment] = {}
    for tiles in members.values():
        if len(tiles) < 2:
            continue
        boxes = {}
        for tile in tiles:
            transform, top, left = (int(v) for v in pose[tile])
            _, _, rows, cols = oriented_box(transform, *shapes[tile], 0, 0, *shapes[tile])
            boxes[tile] = (top, left, top + rows, left + cols)
        active: list[int] = []
        for tile in sorted(tiles, key=lambda t: boxes[t][0]):
            top, left, bottom, right = boxes[tile]
            active = [t for t in active if boxes[t][2] > top]
            for other in active:
                if boxes[other][1] < right and left < boxes[other][3]:
                    a, b = min(tile, other), max(tile, other)
                    found[(a, b)] = _implied(shapes, pose, a, b)
            active.append(tile)
    return found


def _implied(shapes: Sequence[tuple[int, int]], pose: np.ndarray, a: int, b: int) -> Alignment:
    """How ``b`` lies on ``a`` according to their places in one frame."""
    transform_a, top_a, left_a = (int(v) for v in pose[a])
    transform_b, top_b, left_b = (int(v) for v in pose[b])
    _, _, rows_a, cols_a = oriented_box(transform_a, *shapes[a], 0, 0, *shapes[a])
    _, _, rows_b, cols_b = oriented_box(transform_b, *shapes[b], 0, 0, *shapes[b])
    top, left, _, _ = oriented_box(inverse(transform_a), rows_a, cols_a, top_b - top_a, left_b - left_a, rows_b, cols_b)
    return compose(transform_b, inverse(transform_a)), top, left
