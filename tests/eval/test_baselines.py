"""The baselines: constant predictions score the landslide share, the threshold rule is fitted on training pixels
only and scored through the same evaluation path as the models (normalised input, central crops)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from landslide_core.errors import NothingToEvaluateError
from landslide_core.eval.baselines import (
    ALL_BACKGROUND,
    ALL_LANDSLIDE,
    MARGIN,
    THRESHOLD_RULE,
    baseline_scores,
    beats,
    fit_threshold_rule,
)
from landslide_core.sources import get_source
from tests.conftest import write_pair

CAS = get_source("cas")
FOLDER = "Hokkaido Iburi-Tobu"


def _group_row(scores, model):
    return scores[(scores["model"] == model) & (scores["subdataset"] == "")].iloc[0]


def _bright_scars(root: Path, count: int, seed: int) -> list:
    """Tiles whose landslide pixels are bright grey (≈200) and background dark grey (≈60), ±20 noise."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        mask = np.zeros((512, 512), np.uint8)
        top, left = rng.integers(0, 384, 2)
        mask[top:top + 128, left:left + 96] = 1
        grey = np.where(mask > 0, 200, 60) + rng.integers(-20, 21, mask.shape)
        write_pair(root, FOLDER, f"Hokkaido{seed:02d}{i:02d}", np.repeat(grey[None], 3, 0).astype(np.uint8), mask)
    return CAS.list_tiles(root)


def test_constant_predictions_score_the_landslide_share_of_the_pixels(make_root):
    records = CAS.list_tiles(make_root({FOLDER: 4}))
    scores, _ = baseline_scores(records[:2], records[2:], crop_size=128)
    masks = [CAS.read_tile(r)[1][0][192:320, 192:320] for r in records[2:]]  # the central 128-px crops
    share = 100 * np.mean(np.concatenate([m.ravel() for m in masks]) > 0)
    everything, nothing = _group_row(scores, ALL_LANDSLIDE), _group_row(scores, ALL_BACKGROUND)
    assert everything["iou"] == pytest.approx(share) and everything["recall"] == 100.0
    assert everything["miou"] == pytest.approx(share / 2)
    assert nothing["iou"] == 0.0 and nothing["oa"] == pytest.approx(100 - share)
    assert nothing["pixels"] == everything["pixels"] == 2 * 128 * 128


def test_the_rule_learns_brightness_from_training_tiles_and_is_scored_through_the_normalised_model_path(tmp_path):
    train = _bright_scars(tmp_path / "train", 3, seed=0)
    val = _bright_scars(tmp_path / "val", 2, seed=1)
    scores, rule = baseline_scores(train, val, crop_size=None)
    assert rule.feature == "brightness" and rule.above and rule.training_iou == 100.0
    assert 80 / 255 < rule.threshold <= 180 / 255
    found = _group_row(scores, THRESHOLD_RULE)
    assert found["iou"] == 100.0 and found["fp"] == 0 and found["fn"] == 0
    assert rule.describe().startswith("brightness ≥ 0.") and "(landslide IoU 100.0 % on the training pixels)" in rule.describe()


def test_the_fitted_rule_scores_its_stated_iou_when_applied_to_the_training_pixels(make_root):
    records = CAS.list_tiles(make_root({FOLDER: 3}, seed=5))
    rule = fit_threshold_rule(records)
    tp = fp = fn = 0
    for record in records:
        image, mask = CAS.read_tile(record)
        predicted, truth = rule.predict(image.astype(np.float32) / 255), mask[0] > 0
        tp, fp, fn = tp + np.sum(predicted & truth), fp + np.sum(predicted & ~truth), fn + np.sum(~predicted & truth)
    assert 100 * tp / (tp + fp + fn) == pytest.approx(rule.training_iou, abs=0.01)
    assert rule.training_iou > 50  # red encodes the mask in these tiles: the redness rule finds most of it


def test_fitting_on_no_tiles_is_an_error():
    with pytest.raises(NothingToEvaluateError, match="no training tiles to fit the threshold rule on"):
        fit_threshold_rule([])


def test_beating_a_baseline_takes_more_than_the_margin():
    assert beats(9.27, 8.26) and not beats(8.30, 8.26) and not beats(8.26 + MARGIN, 8.26)
