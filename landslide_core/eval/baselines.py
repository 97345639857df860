"""Baselines a trained model has to beat before its scores mean it learned anything.

Three predictors that use no learned features, scored by :func:`~landslide_core.eval.evaluation.evaluate_tiles`
exactly as the models are (same tiles, same central crops, same confusion matrices and per-tile counts):

- **all landslide**: every pixel is landslide. Its landslide IoU is the landslide share of the validation
  pixels and its recall is 100 %: a model that predicts landslide almost everywhere scores close to it.
- **all background**: no pixel is landslide. Landslide IoU 0, yet a high overall accuracy (the background share).
- **threshold rule**: one colour feature of a pixel and one threshold (:class:`ThresholdRule`), the pair with the
  best landslide IoU on the pixels of the *training* tiles, so it sees no validation pixel. Bare-soil scars are
  brighter and redder than vegetation; a model that does not beat this rule has learned less than a pixel's colour.

One rule judges a model against them on every results page, from the landslide IoU and mIoU of the same pixels
(:func:`beats_baseline`, :func:`no_result`, and :data:`RULE` in words): a model **beats** a baseline when its mIoU
is higher by more than :data:`MARGIN` points and its landslide IoU is higher; it is **no result** when its mIoU is
not more than :data:`MARGIN` points above that of the better constant (all landslide or all background, whichever
has the higher mIoU). Neither score alone will do: a model that finds no landslide can exceed all landslide's mIoU
(all background itself does wherever landslides cover less than half the pixels), and one that calls almost every
pixel landslide comes close to all landslide's landslide IoU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from ..errors import BaselineError, NothingToEvaluateError
from ..sources import Normalisation, TileSource, get_source
from ..tiles import TileRecord
from .evaluation import evaluate_tiles

__all__ = [
    "ALL_BACKGROUND", "ALL_LANDSLIDE", "BASELINES", "CONSTANTS", "FEATURES", "MARGIN", "RULE", "THRESHOLD_RULE",
    "ConstantPrediction", "RulePrediction", "ThresholdRule", "baseline_scores", "beats_baseline", "better_constant",
    "fit_threshold_rule", "is_baseline", "no_result",
]

ALL_LANDSLIDE = "all landslide"
ALL_BACKGROUND = "all background"
THRESHOLD_RULE = "threshold rule"
BASELINES = (ALL_LANDSLIDE, ALL_BACKGROUND, THRESHOLD_RULE)
"""The baselines' row labels, in the order tables list them."""
CONSTANTS = (ALL_LANDSLIDE, ALL_BACKGROUND)
"""The baselines that predict one class everywhere."""
MARGIN = 1.0
"""mIoU points by which a model must exceed a baseline to beat it: a model that predicts landslide almost everywhere
scores a few hundredths of a point above all landslide, which is no result."""
_POINTS = f"{MARGIN:g} point{'' if MARGIN == 1 else 's'}"
RULE = (f"a model beats a baseline when its mIoU is more than {_POINTS} higher and its landslide IoU is higher; "
        f"it is no result when its mIoU is not more than {_POINTS} above that of the better constant (all landslide "
        "or all background, whichever has the higher mIoU on the same pixels)")
"""The rule of :func:`beats_baseline` and :func:`no_result` in words, for the pages that apply it."""


def beats_baseline(models: pd.DataFrame, baseline: pd.Series | pd.DataFrame) -> pd.Series:
    """Which rows of ``models`` beat ``baseline``: mIoU higher by more than :data:`MARGIN` points and landslide IoU higher.

    Args:
        models: Rows with ``iou`` and ``miou`` (percent).
        baseline: One baseline's row, compared with every model, or rows with the same index as ``models``.
    """
    return (models["miou"] > baseline["miou"] + MARGIN) & (models["iou"] > baseline["iou"])


def better_constant(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """For each value of ``key``, the row of the constant with the higher mIoU, indexed by that value.

    ``table`` holds rows with ``model``, ``key`` and ``miou`` columns; only those of :data:`CONSTANTS` are read.
    """
    constants = table[table["model"].isin(CONSTANTS)].reset_index(drop=True)
    return constants.loc[constants.groupby(key, sort=False)["miou"].idxmax()].set_index(key)


def no_result(table: pd.DataFrame, key: str) -> pd.Series:
    """Which model rows are no result: mIoU not more than :data:`MARGIN` points above the better constant's.

    Args:
        table: Rows of models and of the baselines (:data:`BASELINES`) with ``model``, ``key``, ``iou`` and
            ``miou`` columns; a model is judged against the constants of its own ``key`` value (its pixels).
        key: The column naming the pixels a row was scored on, e.g. ``group`` or ``dataset``.

    Returns:
        A boolean per model row (baseline rows left out), with the table's index.

    Raises:
        BaselineError: A model's ``key`` value has no constant's row to judge it against.
    """
    models = table[~is_baseline(table["model"])]
    floor = better_constant(table, key)
    missing = sorted(set(models[key]) - set(floor.index), key=str)
    if missing:
        raise BaselineError(f"no all landslide or all background row for {key} {', '.join(map(str, missing))}: "
                            "add the baselines' rows scored on the same pixels to the table before judging its models")
    return ~(models["miou"] > models[key].map(floor["miou"]) + MARGIN)


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


def _rgb01(image: np.ndarray, scale: float) -> np.ndarray:
    """The first three bands of a raw image as float32 in [0, 1]."""
    return np.clip(image[:3].astype(np.float32) / np.float32(scale), 0.0, 1.0)


def fit_threshold_rule(records: Sequence[TileRecord], source: str | TileSource = "cas", *, bins: int = 512,
                       progress: bool = False) -> ThresholdRule:
    """The feature and threshold with the best landslide IoU over all pixels of ``records`` (the training tiles).

    Each feature's values are counted in ``bins`` equal bins over its range, separately for landslide and
    background pixels; every bin edge is tried as a threshold in both directions. Exact up to the bin width.

    Raises:
        NothingToEvaluateError: ``records`` is empty.
    """
    if not records:
        raise NothingToEvaluateError("no training tiles to fit the threshold rule on: check the split and group")
    source = get_source(source)
    counts = {name: np.zeros((2, bins), np.int64) for name in FEATURES}
    for record in tqdm(records, desc="threshold rule", unit="tile", leave=False, disable=not progress):
        image, mask = source.read_tile(record)
        rgb, landslide = _rgb01(image, source.normalisation.scale), mask[0] > 0
        for name, (feature, (low, high)) in FEATURES.items():
            index = np.clip(((feature(rgb) - low) / (high - low) * bins).astype(np.int64), 0, bins - 1)
            counts[name][1] += np.bincount(index[landslide], minlength=bins)
            counts[name][0] += np.bincount(index[~landslide], minlength=bins)
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


def baseline_scores(train_records: Sequence[TileRecord], val_records: Sequence[TileRecord], *,
                    source: str | TileSource = "cas", crop_size: int | None = None, batch_size: int = 8,
                    device: str = "cpu", rule_source: str | TileSource | None = None, constants: bool = True,
                    ) -> tuple[pd.DataFrame, pd.DataFrame, ThresholdRule]:
    """The three baselines' scores on ``val_records``, their per-tile counts and the fitted rule.

    Scores and counts are rows as :func:`~landslide_core.eval.evaluation.evaluate_tiles`' (the ``model`` column
    names the baseline), each baseline's tiles in the order of ``val_records``, so they pair with a model's tile by
    tile. ``crop_size`` scores the central crops the models were validated on; the rule is fitted on the whole
    training tiles, read with ``rule_source`` (default: ``source``, which reads ``val_records``) so that a rule
    fitted on one dataset can be scored on another. ``constants=False`` scores the rule alone (the constant
    predictions do not depend on the training tiles).
    """
    source = get_source(source)
    rule = fit_threshold_rule(train_records, source if rule_source is None else rule_source)
    predictors = {ALL_LANDSLIDE: ConstantPrediction(True), ALL_BACKGROUND: ConstantPrediction(False)} if constants else {}
    predictors[THRESHOLD_RULE] = RulePrediction(rule, source.normalisation)
    scores, tiles = zip(*(evaluate_tiles(module, val_records, batch_size=batch_size, device=device, model_name=name,
                                         crop_size=crop_size, source=source) for name, module in predictors.items()),
                        strict=True)
    return pd.concat(scores, ignore_index=True), pd.concat(tiles, ignore_index=True), rule
