"""Four quality-control scores of one tile, one per challenge the paper's Table 3 names: fill, label, cloud, seam.

Each score is a number a threshold can be put on; none decides anything. They
work on ``(3, H, W)`` uint8 RGB, with an optional ``valid`` mask (False on nodata
and padding) and, for the label share, the tile's 0/1 mask. Every function is
vectorised numpy/scipy: all four take about 45 ms for a 512×512 tile on one core (measured on this
project's shared 2-core machine).

Fill pixels (:func:`fill_mask`) are not image content, so the cloud share is a
share of the content and the seam score ignores lines next to fill: a straight
fill edge is not a seam.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = [
    "CLOUD_BRIGHTNESS", "CLOUD_CHROMA", "CLOUD_TEXTURE", "FILL_BORDER_COLOURS", "FILL_BORDER_PIXELS", "FILL_EDGE_TOLERANCE",
    "FILL_MIN_SHARE", "FILL_SOFT_EDGE",
    "cloud_fraction", "cloud_mask", "fill_fraction", "fill_mask", "label_share", "score_tile", "seam_score",
]

FILL_MIN_SHARE = 0.001
"""A constant-colour region must cover at least this share of the tile (263 px of 512×512) to count as fill."""
FILL_EDGE_TOLERANCE = 30
"""Grey levels (largest channel difference) within which a pixel beside a region counts as close to its colour."""
FILL_SOFT_EDGE = 0.15
"""A region is not fill when more than this share of the pixels just outside it is close to its colour."""
FILL_BORDER_COLOURS = 4
"""At most this many colours, the most frequent on the tile border, are tried as fill colours ..."""
FILL_BORDER_PIXELS = 8
"""... each seen on at least this many border pixels."""
CLOUD_BRIGHTNESS = 175.0
"""Cloud pixels have a mean of R, G and B of at least this."""
CLOUD_CHROMA = 0.2
"""... a spread between channels, (max − min) / max, of at most this (white or grey) ..."""
CLOUD_TEXTURE = 12.0
"""... and a standard deviation of brightness in the 5×5 window around them of at most this (smooth)."""

_FILL_RING = 2
"""Width in pixels of the ring outside a region that its edge test looks at."""
_SEAM_STRIP = 8
"""Width of the strips compared on either side of a line, in pixels of the half-resolution copy (16 px)."""
_SEAM_PIECES = 16
"""Each line is cut into this many pieces along its length."""
_SEAM_CONSENSUS = 0.25
"""A line's jump is the one that at least 75 % of its pieces show (the 25th percentile, signed)."""
_SEAM_FLOORS = np.array([0.01, 0.01, 0.01, 0.005], np.float32)
"""Smallest typical jump per feature (log units, 0.01 ≈ 1 %), so a flat tile's noise is not divided by almost nothing."""
_SEAM_MARGIN = 2
"""Pixels closer than this to fill or nodata are left out of the seam score (edges are blended)."""
_SEAM_CLOUD_MARGIN = 8
"""Pixels closer than this to a cloud bank are left out of the seam score (cloud edges fade over several pixels)."""
_SEAM_CLOUD_BANK = 0.01
"""Cloud pixels left out of the seam score are those of connected regions covering at least this share of the tile."""


def _content(image: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """``valid`` as a bool array (all True when None).

    Raises:
        ValueError: ``valid`` does not match the image's shape.
    """
    if valid is None:
        return np.ones(image.shape[1:], bool)
    valid = np.asarray(valid, bool)
    if valid.shape != image.shape[1:]:
        raise ValueError(f"valid has shape {valid.shape}; the image is {image.shape[1:]}")
    return valid


def _packed(image: np.ndarray) -> np.ndarray:
    """Each pixel's RGB as one int32, so colours compare in one operation."""
    rgb = image[:3].astype(np.int32)
    return (rgb[0] << 16) | (rgb[1] << 8) | rgb[2]


def _border(array: np.ndarray) -> np.ndarray:
    return np.concatenate([array[0], array[-1], array[1:-1, 0], array[1:-1, -1]])


def _hard_edged(image: np.ndarray, region: np.ndarray, same: np.ndarray, valid: np.ndarray, colour: int) -> bool:
    """Whether ``region`` stops abruptly: few pixels just outside it are close to its colour.

    Saturated snow, bright soil or a clipped shadow fades into pixels of almost the same colour; the
    edge of an image footprint cuts into arbitrary content. A region without any content beside it
    (the whole tile) counts as fill. All arrays are crops around the region.
    """
    ring = ndimage.binary_dilation(region, iterations=_FILL_RING) & ~same & valid
    if not ring.any():
        return True
    rgb = np.array([(colour >> 16) & 255, (colour >> 8) & 255, colour & 255], np.int16)[:, None]
    near = np.abs(image[:3, ring].astype(np.int16) - rgb).max(axis=0) <= FILL_EDGE_TOLERANCE
    return bool(near.mean() <= FILL_SOFT_EDGE)


def _around(box: tuple[slice, slice], shape: tuple[int, ...], margin: int) -> tuple[slice, slice]:
    """``box`` widened by ``margin`` pixels on every side, within ``shape``."""
    return tuple(slice(max(s.start - margin, 0), min(s.stop + margin, n)) for s, n in zip(box, shape, strict=True))


def fill_mask(image: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Pixels without image content: ``~valid``, and constant-colour regions that touch the border with a hard edge.

    A candidate colour is one of the :data:`FILL_BORDER_COLOURS` most frequent colours among the
    border pixels, seen there at least :data:`FILL_BORDER_PIXELS` times (pure white, pure black, the
    nodata value, or any fixed value such as 128 grey).
    Its 4-connected regions count as fill when they touch the tile border, cover at least
    :data:`FILL_MIN_SHARE` of the tile, and stop abruptly (at most :data:`FILL_SOFT_EDGE` of the
    pixels within 2 px outside are within :data:`FILL_EDGE_TOLERANCE` grey levels of the colour).
    So scattered saturated pixels (too small), white or black patches inside the image (not at the
    border) and clipped highlights or shadows that fade into near-white or near-black (soft edge)
    are content, not fill.

    Fails where fill meets content of nearly its colour (white fill beside cloud or snow, grey fill
    beside grey rock): the soft edge then makes it count as content; where fill does not touch the
    tile border or is not one constant colour (JPEG-compressed fill); and, the other way round, where
    a clipped cloud or snowfield's only edge inside the tile is hard (a seam): it then counts as fill.

    Args:
        image: ``(3, H, W)`` uint8 RGB.
        valid: ``(H, W)`` bool, False on nodata and padding; None: every pixel is valid.

    Returns:
        ``(H, W)`` bool, True on fill.

    Raises:
        ValueError: ``valid`` does not match the image's shape.
    """
    valid = _content(image, valid)
    fill = ~valid
    packed = _packed(image)
    colours, counts = np.unique(_border(packed)[_border(valid)], return_counts=True)
    min_pixels = max(1, int(np.ceil(FILL_MIN_SHARE * valid.size)))
    edge = np.zeros(valid.shape, bool)
    edge[0], edge[-1], edge[:, 0], edge[:, -1] = True, True, True, True
    frequent = np.argsort(counts)[::-1][:FILL_BORDER_COLOURS]
    for colour in colours[frequent[counts[frequent] >= FILL_BORDER_PIXELS]]:
        same = (packed == colour) & valid
        labels, _ = ndimage.label(same)
        sizes = np.bincount(labels.ravel())
        boxes = ndimage.find_objects(labels)
        for label in np.unique(labels[edge & same]):
            if sizes[label] < min_pixels:
                continue
            rows, cols = _around(boxes[label - 1], labels.shape, _FILL_RING)
            region = labels[rows, cols] == label
            if _hard_edged(image[:, rows, cols], region, same[rows, cols], valid[rows, cols], int(colour)):
                fill[rows, cols] |= region
    return fill


def fill_fraction(image: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Share of the tile without image content (:func:`fill_mask`).

    The paper: “Data with a proportion of filled pixels exceeding 30% were excluded”.

    Raises:
        ValueError: ``valid`` does not match the image's shape.
    """
    return float(fill_mask(image, valid).mean())


def label_share(mask: np.ndarray) -> float:
    """Share of the tile's pixels labelled landslide (mask value nonzero).

    The paper: “exclude data in which the proportion of labelled pixels in a single image falls below 0.1%”.
    """
    mask = np.asarray(mask)
    return float(np.count_nonzero(mask) / mask.size)


def _local_std(values: np.ndarray, size: int) -> np.ndarray:
    mean = ndimage.uniform_filter(values, size, mode="reflect")
    square = ndimage.uniform_filter(values * values, size, mode="reflect")
    return np.sqrt(np.maximum(square - mean * mean, 0))


def cloud_mask(image: np.ndarray, valid: np.ndarray | None = None, fill: np.ndarray | None = None) -> np.ndarray:
    """Content pixels that are bright, white or grey and smooth: what cloud looks like in RGB.

    A pixel is cloud when all three hold: mean of R, G, B ≥ :data:`CLOUD_BRIGHTNESS`; channel spread
    (max − min) / max ≤ :data:`CLOUD_CHROMA`; standard deviation of brightness in its 5×5 window
    ≤ :data:`CLOUD_TEXTURE`. Fill (``fill``, or :func:`fill_mask` when None) is never cloud.

    Failure modes, by construction (RGB has no thermal or cirrus band): snow and ice, bright bare soil
    or rock, fresh landslide scars, dry riverbeds, white roofs and saturated flat surfaces are bright,
    grey and smooth too, so they count as cloud; haze and thin cloud over textured ground are neither
    bright nor smooth enough and are missed, as are the textured edges of cumulus.

    Raises:
        ValueError: ``valid`` does not match the image's shape.
    """
    fill = fill_mask(image, valid) if fill is None else fill
    rgb = image[:3].astype(np.float32)
    brightness = rgb.mean(axis=0)
    top = rgb.max(axis=0)
    chroma = (top - rgb.min(axis=0)) / np.maximum(top, 1)
    texture = _local_std(brightness, 5)
    return ~fill & (brightness >= CLOUD_BRIGHTNESS) & (chroma <= CLOUD_CHROMA) & (texture <= CLOUD_TEXTURE)


def cloud_fraction(image: np.ndarray, valid: np.ndarray | None = None, fill: np.ndarray | None = None) -> float:
    """Share of the content pixels (not fill, not nodata) that :func:`cloud_mask` calls cloud; NaN without content.

    The paper excludes “satellite image instances in which the proportion of cloud pixels exceeds 80% and the
    clarity of landslide pixels is compromised”; :func:`~.flags.flag` uses this share alone (ours: clarity is left
    to the person who reviews the flags). See :func:`cloud_mask` for how a pixel is judged and
    where that fails (snow, bright soil and fresh scars, white roofs count as cloud; haze is missed).

    Raises:
        ValueError: ``valid`` does not match the image's shape.
    """
    fill = fill_mask(image, valid) if fill is None else fill
    content = int(np.count_nonzero(~fill))
    if content == 0:
        return float("nan")
    return float(np.count_nonzero(cloud_mask(image, valid, fill)) / content)


def _half(values: np.ndarray) -> np.ndarray:
    """Mean of each 2×2 block over the last two axes (an odd last row or column is dropped)."""
    h, w = (values.shape[-2] // 2) * 2, (values.shape[-1] // 2) * 2
    return (values[..., 0:h:2, 0:w:2] + values[..., 1:h:2, 0:w:2] + values[..., 0:h:2, 1:w:2]
            + values[..., 1:h:2, 1:w:2]) / 4


def _seam_features(image: np.ndarray) -> np.ndarray:
    """Log brightness, two log colour ratios and texture at half resolution: ``(4, H/2, W/2)`` float32.

    Logarithms turn another exposure or tint (a gain per band) into the same jump on dark and bright
    ground; the offset of 16 grey levels keeps the noise of dark shadows from being blown up.
    """
    rgb = image[:3].astype(np.float32)
    offset = np.float32(16)
    texture = _half(_local_std(np.log(rgb.mean(axis=0) + offset), 3))
    r, g, b = np.log(_half(rgb) + offset)
    return np.stack([(r + g + b) / 3, r - g, b - (r + g) / 2, texture])


def _piece_sums(features: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Running sums along each row of pieces: of weighted features ``(features, pieces, W + 1)`` and of weights.

    Each piece is ``H / pieces`` rows summed, so a strip's sum is the difference of two running sums.
    """
    n, h, w = features.shape
    piece = h // _SEAM_PIECES
    rows = _SEAM_PIECES * piece
    weighted = (features[:, :rows] * weight[:rows]).reshape(n, _SEAM_PIECES, piece, w).sum(axis=2)
    counts = weight[:rows].reshape(_SEAM_PIECES, piece, w).sum(axis=1)
    return (np.concatenate([np.zeros((n, _SEAM_PIECES, 1), np.float32), np.cumsum(weighted, axis=2)], axis=2),
            np.concatenate([np.zeros((_SEAM_PIECES, 1), np.float32), np.cumsum(counts, axis=1)], axis=1))


def _piece_jumps(sums: np.ndarray, counts: np.ndarray, piece: int, gap: int) -> np.ndarray:
    """Jump across every vertical line: mean of the strip right of it minus the strip left of it, per piece.

    ``sums`` and ``counts`` are :func:`_piece_sums`, each piece ``piece`` rows high. The strips are ``gap``
    pixels away from the line on either side. Returns ``(features, pieces, lines)`` for lines
    ``gap + strip`` to ``width - gap - strip``, NaN where either strip has less than half its pixels usable.
    """
    strip = _SEAM_STRIP
    lines = np.arange(gap + strip, counts.shape[-1] - gap - strip)

    def strip_sums(array: np.ndarray, start: int) -> np.ndarray:
        return array[..., lines + start + strip] - array[..., lines + start]

    left_sum, right_sum = strip_sums(sums, -gap - strip), strip_sums(sums, gap)
    left_n, right_n = strip_sums(counts, -gap - strip), strip_sums(counts, gap)
    usable = (left_n >= strip * piece / 2) & (right_n >= strip * piece / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        jumps = right_sum / right_n - left_sum / left_n
    return np.where(usable, jumps, np.nan)


def _quantile(values: np.ndarray, q: float) -> np.ndarray:
    """The lower ``q`` quantile along axis 1, ignoring NaN (NaN where fewer than half the values are numbers)."""
    ordered = np.sort(values, axis=1)  # NaN sorts last
    count = np.count_nonzero(~np.isnan(values), axis=1, keepdims=True)
    index = np.clip(np.floor(q * (count - 1)).astype(np.intp), 0, None)
    picked = np.take_along_axis(ordered, index, axis=1)[:, 0]
    return np.where(count[:, 0] >= values.shape[1] / 2, picked, np.nan)


def _consensus(jumps: np.ndarray) -> np.ndarray:
    """The signed jump that at least 75 % of a line's pieces show; 0 where the pieces disagree."""
    low, high = _quantile(jumps, _SEAM_CONSENSUS), _quantile(jumps, 1 - _SEAM_CONSENSUS)
    return np.where(low > 0, low, np.where(high < 0, high, np.where(np.isnan(low), np.nan, 0.0)))


def seam_score(image: np.ndarray, valid: np.ndarray | None = None, fill: np.ndarray | None = None,
               cloud: np.ndarray | None = None) -> float:
    """How strongly one straight line across the tile separates two differently looking parts (0 = none).

    For every horizontal and vertical line (on a half-resolution copy), strips of 16 px on either side
    are compared in log brightness, two log colour ratios (red : green, blue : yellow) and texture
    (local standard deviation of log brightness), in 16 pieces along the line. A line's jump is the
    one that at least 75 % of its pieces show with the same sign (the signed 25th percentile), so a landslide scar,
    road bend or field corner that crosses only part of the line does not reach it; and it must show
    as well between strips 16 px further out (the smaller of the two counts), so a thin road or river
    along the line, which a step between two acquisitions is not, does not count. Each jump is divided
    by the tile's typical one (the median over all lines of the absolute median jump of their pieces):
    the score says how many times larger than the tile's ordinary line-to-line change the strongest
    line's jump is, the largest over lines and features.

    Fill and nodata (``fill``, or :func:`fill_mask` when None) with 2 px beside them, and cloud banks
    (connected regions of ``cloud``, or of :func:`cloud_mask` when None, covering at least 1 % of the
    tile) with 8 px beside them, are left out, so a straight fill edge or a cloud's edge is not a seam
    (nor is a seam under or along a cloud bank). NaN when no line has content along half its length.

    Failure modes: seams at more than a few degrees from the tile axes, and within 32 px of the tile's
    edge, are missed; long straight edges of wide features along an axis (a river bank, a lake shore,
    a field boundary, a wide road crossing the whole tile) score like seams; a mild seam on strongly
    textured ground stays below the noise (on clean real tiles, a half with 30 % less exposure is
    flagged at the default threshold in 40 % of cases, a colour shift of 16 grey levels in 92 %).

    Raises:
        ValueError: ``valid`` does not match the image's shape.
    """
    fill = fill_mask(image, valid) if fill is None else fill
    cloud = cloud_mask(image, valid, fill) if cloud is None else cloud
    excluded = ndimage.binary_dilation(fill, iterations=_SEAM_MARGIN) if fill.any() else fill
    if cloud.any():
        labels, _ = ndimage.label(cloud)
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        banks = (sizes >= _SEAM_CLOUD_BANK * cloud.size)[labels]
        if banks.any():
            excluded = excluded | ndimage.binary_dilation(banks, iterations=_SEAM_CLOUD_MARGIN)
    weight = (_half((~excluded).astype(np.float32)) == 1).astype(np.float32)
    features = _seam_features(image)
    strip = _SEAM_STRIP
    if min(features.shape[1:]) < 6 * strip or min(features.shape[1:]) < _SEAM_PIECES:
        return float("nan")
    best = float("nan")
    for along, across in ((features, weight), (features.transpose(0, 2, 1), weight.T)):
        sums, counts = _piece_sums(along, across)
        piece = along.shape[1] // _SEAM_PIECES
        inner = _piece_jumps(sums, counts, piece, 0)
        middle = np.abs(_quantile(inner, 0.5))
        if np.isnan(middle).all():
            continue
        typical = np.fmax(np.nanmedian(middle, axis=1), _SEAM_FLOORS)
        near, far = _consensus(inner)[:, strip:-strip], _consensus(_piece_jumps(sums, counts, piece, strip))
        jump = np.where(np.sign(near) == np.sign(far), np.fmin(np.abs(near), np.abs(far)), 0.0)
        if not np.isnan(jump).all():
            best = np.fmax(best, float(np.nanmax(jump / typical[:, None])))
    return float(best)


def score_tile(image: np.ndarray, mask: np.ndarray | None = None, valid: np.ndarray | None = None) -> dict[str, float]:
    """The four scores of one tile: ``fill_fraction``, ``label_share`` (NaN without a mask), ``cloud_fraction``, ``seam_score``.

    Args:
        image: ``(3, H, W)`` uint8 RGB.
        mask: ``(H, W)`` 0/1 landslide mask, or None when the tile has none.
        valid: ``(H, W)`` bool, False on nodata and padding; None: every pixel is valid.

    Raises:
        ValueError: ``image`` is not ``(3, H, W)`` uint8, or ``valid`` does not match it.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[0] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (3, H, W) uint8 RGB; got {image.shape} {image.dtype}")
    fill = fill_mask(image, valid)
    cloud = cloud_mask(image, valid, fill)
    content = int(np.count_nonzero(~fill))
    return {
        "fill_fraction": float(fill.mean()),
        "label_share": float("nan") if mask is None else label_share(mask),
        "cloud_fraction": float(np.count_nonzero(cloud) / content) if content else float("nan"),
        "seam_score": seam_score(image, valid, fill, cloud),
    }
