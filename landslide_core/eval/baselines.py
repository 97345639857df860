"""Baselines a trained model has to beat before its scores mean it learned anything.

Three predictors that use no learned features, scored by :func:`~landslide_core.eval.evaluation.evaluate_tiles`
exactly as the models are (same tiles, same central crops, same confusion matrices and per-tile counts):

- **all landslide**: every pixel is landslide. Its landslide IoU is the landslide share of the validation
  pixels and its recall is 100 %: a model that predicts landslide almost everywhere scores close to it.
- **all background**: no pixel is landslide. Landslide IoU 0, yet a high overall accuracy (the background share).
- **threshold rule**: one colour feature of a pixel and one threshold (:class:`ThresholdRule`), the pair with the
  best landslide IoU on the pixels of the *training* tiles, so it sees no validation pixel. Bare-soil scars are
  brighter and redder than vegetation; a model that does not beat this rule has learned less than a pixel's colour.

One rule judges a model against them on every results page, from paired bootstrap differences on the same tiles
(:func:`baseline_judgements`, :func:`no_result`, :func:`rule` in words): a model **beats** a baseline when the interval
of Δ = model − baseline lies above 0 for both mIoU and landslide IoU; it is **no result** when the interval of its Δ
mIoU to the better constant (all landslide or all background, whichever has the higher mIoU on the same pixels) does
not lie above 0. Neither score alone will do: a model that finds no landslide can exceed all landslide's mIoU (all
background itself does wherever landslides cover less than half the pixels), and one that calls almost every pixel
landslide comes close to all landslide's landslide IoU. The interval, not a fixed margin, says how large a difference
these tiles can tell from chance (:mod:`landslide_core.scoring.intervals`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..data.statistics import map_tiles, pool_size
from ..errors import BaselineError, NothingToEvaluateError
from ..scoring.confusion import COUNT_COLUMNS, scores_table, subdataset_matrices, tile_table
from ..scoring.intervals import Judged
from ..sources import Normalisation, TileSource, get_source
from ..tiles import TileRecord
from .evaluation import evaluate_tiles

__all__ = [
    "ALL_BACKGROUND", "ALL_LANDSLIDE", "BASELINES", "CONSTANTS", "FEATURES", "THRESHOLD_RULE", "ConstantPrediction",
    "RulePrediction", "ThresholdRule", "baseline_judgements", "baseline_scores", "better_constant", "fit_threshold_rule",
    "is_baseline", "no_result", "no_result_rule", "rule",
]

ALL_LANDSLIDE = "all landslide"
ALL_BACKGROUND = "all background"
THRESHOLD_RULE = "threshold rule"
BASELINES = (ALL_LANDSLIDE, ALL_BACKGROUND, THRESHOLD_RULE)
"""The baselines' row labels, in the order tables list them."""
CONSTANTS = (ALL_LANDSLIDE, ALL_BACKGROUND)
"""The baselines that predict one class everywhere."""


def no_result_rule(level: float = 0.95) -> str:
    """When a model is no result (:func:`no_result`), in words."""
    return (f"the {100 * level:g} % interval of its mIoU difference to the better constant (all landslide or all "
            "background, whichever has the higher mIoU on the same pixels) does not lie above 0")


def rule(level: float = 0.95) -> str:
    """The rule of :func:`baseline_judgements` and :func:`no_result` in words, for the pages that apply it."""
    return (f"a model beats a baseline when the {100 * level:g} % interval of the paired difference (model − "
            "baseline, on the same tiles) lies above 0 for both mIoU and landslide IoU; it is no result when "
            + no_result_rule(level))


def _cells(judged: Judged) -> list[tuple[dict, pd.DataFrame]]:
    """Each cell of ``judged.within`` as (keys, its mIoU estimates)."""
    mious = judged.estimates[judged.estimates["metric"] == "miou"]
    if not judged.within:
        return [({}, mious)]
    return [(dict(zip(judged.within, key if isinstance(key, tuple) else (key,), strict=True)), rows)
            for key, rows in mious.groupby(list(judged.within), sort=False)]


def _delta_columns(judged: Judged, model: str, baseline: str, keys: dict) -> dict[str, float]:
    columns = {}
    for metric, label in (("miou", "Δ mIoU"), ("iou", "Δ IoU")):
        row = judged.difference(model, baseline, metric, **keys)
        columns.update({label: row["delta"], f"{label} low": row["low"], f"{label} high": row["high"]})
    return columns


def baseline_judgements(judged: Judged) -> pd.DataFrame:
    """Every model against every baseline of its cell: Δ mIoU and Δ IoU with their intervals, and ``beats``.

    ``judged`` holds models and baselines (:data:`BASELINES`, by name) scored on the same tiles in each cell, with
    their paired differences (:func:`landslide_core.scoring.intervals.judge`, which compares every pair by default).
    A model beats a baseline when both intervals lie above 0 (:func:`rule`).
    """
    rows = []
    for keys, cell in _cells(judged):
        names = cell["configuration"]
        for model in names[~is_baseline(names)]:
            for baseline in names[is_baseline(names)]:
                deltas = _delta_columns(judged, model, baseline, keys)
                rows.append({**keys, "model": model, "baseline": baseline, **deltas,
                             "beats": deltas["Δ mIoU low"] > 0 and deltas["Δ IoU low"] > 0})
    return pd.DataFrame(rows, columns=[*judged.within, "model", "baseline", "Δ mIoU", "Δ mIoU low", "Δ mIoU high",
                                       "Δ IoU", "Δ IoU low", "Δ IoU high", "beats"])


def better_constant(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """For each value of ``key``, the row of the constant with the higher mIoU, indexed by that value.

    ``table`` holds rows with ``model``, ``key`` and ``miou`` columns; only those of :data:`CONSTANTS` are read.
    """
    constants = table[table["model"].isin(CONSTANTS)].reset_index(drop=True)
    return constants.loc[constants.groupby(key, sort=False)["miou"].idxmax()].set_index(key)


def no_result(judged: Judged) -> pd.DataFrame:
    """Every model against the better constant of its cell: Δ mIoU with its interval, and ``no result``.

    The better constant is the one of :data:`CONSTANTS` with the higher mIoU on the cell's pixels; a model is no
    result when the interval of its Δ mIoU to it does not lie above 0.

    Raises:
        BaselineError: A cell with models has no constant's scores to judge them against.
    """
    rows = []
    for keys, cell in _cells(judged):
        names = cell["configuration"]
        constants = cell[names.isin(CONSTANTS)]
        models = names[~is_baseline(names)]
        if len(models) and constants.empty:
            raise BaselineError(f"no all landslide or all background scores in {keys or 'the table'}: add the "
                                "baselines' per-tile counts on the same tiles before judging its models")
        for model in models:
            constant = constants.loc[constants["value"].idxmax(), "configuration"]
            row = judged.difference(model, constant, "miou", **keys)
            rows.append({**keys, "model": model, "constant": constant, "Δ mIoU": row["delta"],
                         "Δ mIoU low": row["low"], "Δ mIoU high": row["high"], "no result": not row["low"] > 0})
    return pd.DataFrame(rows, columns=[*judged.within, "model", "constant", "Δ mIoU", "Δ mIoU low", "Δ mIoU high",
                                       "no result"])


def is_baseline(model: str | pd.Series) -> bool | pd.Series:
    """Whether a row label names a baseline (:data:`BASELINES`), not a model."""
    return model.isin(BASELINES) if isinstance(model, pd.Series) else model in BASELINES


Feature = Callable[[np.ndarray], np.ndarray]
_EPS = 1e-6


def _brightness(rgb: np.ndarray) -> np.ndarray:
    return rgb.mean(axis=0)


def _redness(rgb: np.ndarray) -> np.ndarray:
    return (rgb[0] - rgb[1]) / (rgb[0] + rgb[1] + _EPS)


def _greenness(rgb: np.ndarray) -> np.ndarray:
    return (2 * rgb[1] - rgb[0] - rgb[2]) / 2


FEATURES: dict[str, tuple[Feature, tuple[float, float]]] = {
    "brightness": (_brightness, (0.0, 1.0)),
    "redness": (_redness, (-1.0, 1.0)),
    "greenness": (_greenness, (-1.0, 1.0)),
}
"""Per-pixel features of RGB in [0, 1] and their ranges: mean of the bands, (R − G)/(R + G) and (2G − R − B)/2."""


@dataclass(frozen=True)
class ThresholdRule:
    """Landslide where ``feature`` is at or above (or below) ``threshold``."""

    feature: str
    threshold: float
    above: bool
    training_iou: float
    """Landslide IoU (percent) of the rule on the training pixels it was fitted on."""

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        """Boolean landslide map of an RGB image ``(3, h, w)`` with values in [0, 1]."""
        values = FEATURES[self.feature][0](rgb)
        return values >= self.threshold if self.above else values < self.threshold

    def describe(self) -> str:
        """The rule in words, e.g. ``redness ≥ 0.082 (landslide IoU 31.2 % on the training pixels)``."""
        sign = "≥" if self.above else "<"
        return (f"{self.feature} {sign} {self.threshold:.3f} (landslide IoU {self.training_iou:.1f} % on the "
                "training pixels)")


_HISTOGRAMS: dict[str, np.ndarray] = {}
"""Feature counts of training tiles this process made, one entry per sub-dataset's tiles, by :func:`_histogram_key`."""
_HISTOGRAM_ENTRIES = 256
"""At most this many entries are kept (the oldest go first): 24 KB each at 512 bins."""


def _histogram_key(records: Sequence[TileRecord], source: TileSource, bins: int) -> str:
    """What decides a set of tiles' feature counts.

    How they are read and binned, and every file's path, size and modification time (a file written again is
    counted again).
    """
    digest = hashlib.sha256(repr((sorted(source.spec().items()), bins)).encode())
    for record in records:
        for path in filter(None, (record.image, record.mask)):  # a tile without a mask fails where it is read
            stat = os.stat(path)
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _feature_histograms(records: Sequence[TileRecord], *, source: dict[str, object], bins: int) -> np.ndarray:
    """``(feature, class, bin)`` pixel counts of ``records`` (class 0 background, 1 landslide).

    Features in the order of :data:`FEATURES`. At the top level of the module, for
    :func:`~landslide_core.data.statistics.map_tiles`.
    """
    reader = get_source(source)
    counts = np.zeros((len(FEATURES), 2, bins), np.int64)
    for record in records:
        image, mask = reader.read_tile(record)
        rgb, landslide = _rgb01(image, reader.normalisation.scale), mask[0] > 0
        for i, (feature, (low, high)) in enumerate(FEATURES.values()):
            index = np.clip(((feature(rgb) - low) / (high - low) * bins).astype(np.int64), 0, bins - 1)
            counts[i, 1] += np.bincount(index[landslide], minlength=bins)
            counts[i, 0] += np.bincount(index[~landslide], minlength=bins)
    return counts


def _rgb01(image: np.ndarray, scale: float) -> np.ndarray:
    """The first three bands of a raw image as float32 in [0, 1]."""
    return np.clip(image[:3].astype(np.float32) / np.float32(scale), 0.0, 1.0)


def fit_threshold_rule(records: Sequence[TileRecord], source: str | TileSource = "cas", *, bins: int = 512,
                       progress: bool = False) -> ThresholdRule:
    """The feature and threshold with the best landslide IoU over all pixels of ``records`` (the training tiles).

    Each feature's values are counted in ``bins`` equal bins over its range, separately for landslide and
    background pixels; every bin edge is tried as a threshold in both directions. Exact up to the bin width.
    The counts are made per sub-dataset, on every core where there are many tiles, and kept for this process
    (:func:`_histogram_key`): a group whose sub-datasets' tiles another group's rule counted already (UAV&SAT after
    UAV and SAT on one split) reads none of them again.

    Raises:
        NothingToEvaluateError: ``records`` is empty.
    """
    if not records:
        raise NothingToEvaluateError("no training tiles to fit the threshold rule on: check the split and group")
    source = get_source(source)
    parts: dict[str, list[TileRecord]] = {}
    for record in records:
        parts.setdefault(record.subdataset, []).append(record)
    keys = {name: _histogram_key(part, source, bins) for name, part in parts.items()}
    missing = [name for name, key in keys.items() if key not in _HISTOGRAMS]
    counted = map_tiles(partial(_feature_histograms, source=source.spec(), bins=bins), [parts[n] for n in missing],
                        workers=pool_size(None, sum(len(parts[n]) for n in missing)), desc="threshold rule: sub-datasets",
                        progress=progress)
    for name, histograms in zip(missing, counted, strict=True):
        while len(_HISTOGRAMS) >= _HISTOGRAM_ENTRIES:
            del _HISTOGRAMS[next(iter(_HISTOGRAMS))]
        _HISTOGRAMS[keys[name]] = histograms
    total = sum(_HISTOGRAMS[key] for key in keys.values())
    counts = {name: total[i] for i, name in enumerate(FEATURES)}
    best = None
    for name, (_, (low, high)) in FEATURES.items():
        background, landslide = counts[name]
        # Predicting landslide for bins k.. (above) or ..k-1 (below), for every edge k = 0..bins.
        tp_above = np.concatenate([np.cumsum(landslide[::-1])[::-1], [0]])
        fp_above = np.concatenate([np.cumsum(background[::-1])[::-1], [0]])
        total_landslide, total_background = landslide.sum(), background.sum()
        for above, tp, fp in ((True, tp_above, fp_above),
                              (False, total_landslide - tp_above, total_background - fp_above)):
            fn = total_landslide - tp
            iou = np.divide(tp, tp + fp + fn, out=np.zeros(bins + 1), where=(tp + fp + fn) > 0)
            k = int(iou.argmax())
            if best is None or iou[k] > best[0]:
                best = (float(iou[k]), name, low + (high - low) * k / bins, above)
    iou, name, threshold, above = best
    return ThresholdRule(name, float(threshold), above, 100 * iou)


class ConstantPrediction(nn.Module):
    """Every pixel landslide (logit +1) or background (logit −1), whatever the image."""

    def __init__(self, landslide: bool) -> None:
        super().__init__()
        self.logit = 1.0 if landslide else -1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """A constant logit map ``(N, 1, H, W)``."""
        return torch.full((x.shape[0], 1, *x.shape[-2:]), self.logit, device=x.device)


class RulePrediction(nn.Module):
    """A :class:`ThresholdRule` on network input: the source's normalisation is undone, the rule applied."""

    def __init__(self, rule: ThresholdRule, normalisation: Normalisation) -> None:
        super().__init__()
        self.rule, self.normalisation = rule, normalisation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, 1, H, W)``: +1 where the rule says landslide, −1 elsewhere."""
        rgb = np.clip(self.normalisation.invert(x.detach().float().cpu().numpy())[:, :3], 0.0, 1.0)
        maps = np.stack([self.rule.predict(image) for image in rgb])[:, None]
        return torch.from_numpy(np.where(maps, 1.0, -1.0).astype(np.float32)).to(x.device)


def _constant_counts(counts: np.ndarray, landslide: bool) -> np.ndarray:
    """Per-tile ``(TP, FP, FN, TN)`` of :class:`ConstantPrediction` on the pixels that gave ``counts``.

    Any prediction's counts of a tile hold its landslide pixels (TP + FN) and background pixels (FP + TN); a
    constant predicts all of them one class, so its counts need no second read of the tile.
    """
    positives, negatives, zeros = counts[:, 0] + counts[:, 2], counts[:, 1] + counts[:, 3], np.zeros(len(counts), np.int64)
    columns = (positives, negatives, zeros, zeros) if landslide else (zeros, zeros, positives, negatives)
    return np.stack(columns, axis=1).astype(np.int64)


def baseline_scores(train_records: Sequence[TileRecord], val_records: Sequence[TileRecord], *,
                    source: str | TileSource = "cas", crop_size: int | None = None, batch_size: int = 8,
                    device: str = "cpu", rule_source: str | TileSource | None = None, constants: bool = True,
                    progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, ThresholdRule]:
    """The three baselines' scores on ``val_records``, their per-tile counts and the fitted rule.

    Scores and counts are rows as :func:`~landslide_core.eval.evaluation.evaluate_tiles`' (the ``model`` column
    names the baseline), each baseline's tiles in the order of ``val_records``, so they pair with a model's tile by
    tile. ``crop_size`` scores the central crops the models were validated on; the rule is fitted on the whole
    training tiles, read with ``rule_source`` (default: ``source``, which reads ``val_records``) so that a rule
    fitted on one dataset can be scored on another. ``constants=False`` scores the rule alone (the constant
    predictions do not depend on the training tiles).

    Each validation tile is read once: the rule is scored through the models' path, and the constants' counts are
    taken from the pixels it scored (:func:`_constant_counts`), the same counts as scoring
    :class:`ConstantPrediction` through that path. ``progress`` shows bars for the fitting and the scoring.
    """
    source = get_source(source)
    rule = fit_threshold_rule(train_records, source if rule_source is None else rule_source, progress=progress)
    rule_scores, rule_tiles = evaluate_tiles(RulePrediction(rule, source.normalisation), val_records,
                                             batch_size=batch_size, device=device, model_name=THRESHOLD_RULE,
                                             crop_size=crop_size, source=source, progress=progress)
    scores, tiles = [], []
    if constants:
        counts = rule_tiles[list(COUNT_COLUMNS)].to_numpy(np.int64)
        for name, landslide in ((ALL_LANDSLIDE, True), (ALL_BACKGROUND, False)):
            constant = _constant_counts(counts, landslide)
            matrices = subdataset_matrices(constant, val_records, source=source)
            scores.append(scores_table(matrices, val_records, model=name, source=source))
            tiles.append(tile_table(constant, val_records, model=name))
    return (pd.concat([*scores, rule_scores], ignore_index=True), pd.concat([*tiles, rule_tiles], ignore_index=True),
            rule)
