"""The baselines: constant predictions score the landslide share, the threshold rule is fitted on training pixels
only and scored through the same evaluation path as the models (normalised input, central crops), and the one rule
that judges a model against them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from landslide_core.errors import BaselineError, NothingToEvaluateError
from landslide_core.eval import baselines
from landslide_core.eval.baselines import (
    ALL_BACKGROUND,
    ALL_LANDSLIDE,
    THRESHOLD_RULE,
    baseline_judgements,
    baseline_scores,
    better_constant,
    fit_threshold_rule,
    no_result,
    rule,
)
from landslide_core.scoring.intervals import BootstrapSettings, judge
from landslide_core.sources import get_source
from tests.conftest import write_pair

CAS = get_source("cas")
FOLDER = "Hokkaido Iburi-Tobu"
COUNTS = ["tp", "fp", "fn", "tn"]


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
    scores, tiles, _ = baseline_scores(records[:2], records[2:], crop_size=128)
    masks = [CAS.read_tile(r)[1][0][192:320, 192:320] for r in records[2:]]  # the central 128-px crops
    share = 100 * np.mean(np.concatenate([m.ravel() for m in masks]) > 0)
    everything, nothing = _group_row(scores, ALL_LANDSLIDE), _group_row(scores, ALL_BACKGROUND)
    assert everything["iou"] == pytest.approx(share) and everything["recall"] == 100.0
    assert everything["miou"] == pytest.approx(share / 2)
    assert nothing["iou"] == 0.0 and nothing["oa"] == pytest.approx(100 - share)
    assert nothing["pixels"] == everything["pixels"] == 2 * 128 * 128
    # Per tile, in the order of the validation records for each baseline: every pixel counted on its side.
    assert tiles["model"].tolist() == [ALL_LANDSLIDE] * 2 + [ALL_BACKGROUND] * 2 + [THRESHOLD_RULE] * 2
    assert tiles["tile"].tolist() == [r.uid for r in records[2:]] * 3
    per_tile = tiles.set_index(["model", "tile"])
    for record, mask in zip(records[2:], masks, strict=True):
        landslide = int((mask > 0).sum())
        background = mask.size - landslide
        assert per_tile.loc[(ALL_LANDSLIDE, record.uid), COUNTS].tolist() == [landslide, background, 0, 0]
        assert per_tile.loc[(ALL_BACKGROUND, record.uid), COUNTS].tolist() == [0, 0, landslide, background]
    for model, row in scores[scores["subdataset"] == ""].set_index("model").iterrows():
        assert per_tile.loc[model, COUNTS].sum().tolist() == row[COUNTS].tolist()


def test_the_rule_learns_brightness_from_training_tiles_and_is_scored_through_the_normalised_model_path(tmp_path):
    train = _bright_scars(tmp_path / "train", 3, seed=0)
    val = _bright_scars(tmp_path / "val", 2, seed=1)
    scores, _, rule = baseline_scores(train, val, crop_size=None)
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


LANDSLIDE, BACKGROUND = 1_000, 9_000
"""Pixels of each class per tile in the judged cases below: landslide covers 10 %."""


def _model(name: str, found: np.ndarray, false_alarms: np.ndarray, group: str = "SAT") -> pd.DataFrame:
    """Per-tile counts of a model that finds ``found`` landslide pixels and raises ``false_alarms`` per tile."""
    found, false_alarms = np.asarray(found), np.asarray(false_alarms)
    return pd.DataFrame({"model": name, "group": group, "tile": [f"t{i}" for i in range(len(found))], "tp": found,
                         "fp": false_alarms, "fn": LANDSLIDE - found, "tn": BACKGROUND - false_alarms})


def _cell(n: int, models: dict[str, tuple[np.ndarray, np.ndarray]], group: str = "SAT") -> list[pd.DataFrame]:
    everything, nothing = np.full(n, LANDSLIDE), np.zeros(n, np.int64)
    rule_found = np.full(n, 300)
    frames = [_model(ALL_LANDSLIDE, everything, np.full(n, BACKGROUND), group), _model(ALL_BACKGROUND, nothing,
              nothing, group), _model(THRESHOLD_RULE, rule_found, np.full(n, 300), group)]
    return frames + [_model(name, found, alarms, group) for name, (found, alarms) in models.items()]


def test_beating_a_baseline_takes_intervals_above_zero_not_a_point_margin():
    rng = np.random.default_rng(0)
    n = 40
    zeros = np.zeros(n, np.int64)
    hair = zeros.copy()
    hair[0] = 400  # finds landslide on one tile of 40: its mIoU is above all background's, by chance of one tile
    few = np.arange(n) < 3  # a perfect map of 3 tiles, and less than the rule finds elsewhere
    lucky = (np.where(few, LANDSLIDE, 250), np.where(few, 0, 200))
    models = {
        "Flat": (zeros, zeros),  # finds no landslide: far above all landslide's mIoU, level with all background's
        "Hair": (hair, zeros),
        "Learned": (rng.integers(550, 750, n), rng.integers(50, 150, n)),
        "Lucky": lucky,
    }
    judged = judge(pd.concat(_cell(n, models)), within=["group"], settings=BootstrapSettings(resamples=2_000))
    verdicts = baseline_judgements(judged).set_index(["model", "baseline"])["beats"]
    assert verdicts["Learned"].all()
    assert not verdicts["Flat"].any() and not verdicts["Hair"].any()
    assert not verdicts[("Lucky", THRESHOLD_RULE)]  # its point mIoU is above the rule's; the interval is not
    lucky_miou = judged.difference("Lucky", THRESHOLD_RULE, "miou", group="SAT")
    lucky_iou = judged.difference("Lucky", THRESHOLD_RULE, "iou", group="SAT")
    # the old rule (mIoU more than 1 point higher, landslide IoU higher) would have said it beats the rule
    assert lucky_miou["delta"] > 1 and lucky_iou["delta"] > 0 and lucky_miou["low"] <= 0
    unlearned = no_result(judged).set_index("model")
    assert unlearned["no result"].to_dict() == {"Flat": True, "Hair": True, "Learned": False, "Lucky": False}
    assert (unlearned["constant"] == ALL_BACKGROUND).all()  # landslide covers 10 %: all background scores higher
    assert "interval of the paired difference" in rule() and "better constant" in rule()


def test_no_result_is_judged_against_the_better_constant_of_the_same_pixels():
    table = pd.DataFrame([("all landslide", "SAT", 6.0, 3.0), ("all background", "SAT", 0.0, 47.0),
                          ("all landslide", "UAV", 60.0, 30.0), ("all background", "UAV", 0.0, 20.0)],
                         columns=["model", "group", "iou", "miou"])
    assert better_constant(table, "group")["model"].to_dict() == {"SAT": ALL_BACKGROUND, "UAV": ALL_LANDSLIDE}


def test_models_without_the_constants_of_their_pixels_cannot_be_judged():
    frame = _model("U-Net", np.full(5, 600), np.full(5, 50), group="UAV&SAT")
    judged = judge(frame, within=["group"], settings=BootstrapSettings(resamples=200))
    with pytest.raises(BaselineError, match=r"no all landslide or all background scores in \{'group': 'UAV&SAT'\}"):
        no_result(judged)


COLOURS = {False: ((70, 110, 60), (150, 120, 100)), True: ((215, 140, 95), (245, 125, 105))}
"""(background, scar) RGB of training tiles and, shifted (``True``), of validation tiles graded brighter and redder.

With shading of ±10 on all bands alike (greenness unchanged), every shifted pixel lies beyond the unshifted scars on
each feature (brightness ≥ 0.549 > 0.523, redness ≥ 0.200 > 0.120, greenness −0.059 < −0.020), so any threshold that
separates the training pixels calls every validation pixel landslide; among the shifted pixels, redness separates
scars (≥ 0.307) from background (≤ 0.224), so a rule fitted on them would find every scar.
"""


def write_shifted_tiles(root: Path, folder: str, count: int, *, seed: int, shifted: bool) -> None:
    """Demo-like tiles: vegetation-green background with one elliptic bare-soil scar, shaded; colours :data:`COLOURS`."""
    rng = np.random.default_rng(seed)
    background, scar = (np.array(colour, np.int16)[:, None, None] for colour in COLOURS[shifted])
    rows, columns = np.mgrid[:512, :512]
    for i in range(count):
        (centre_row, centre_column), (half_height, half_width) = rng.integers(128, 384, 2), rng.integers(40, 120, 2)
        mask = (((rows - centre_row) / half_height) ** 2 + ((columns - centre_column) / half_width) ** 2 <= 1)
        shade = rng.integers(-10, 11, (1, 512, 512))
        image = (np.where(mask[None], scar, background) + shade).astype(np.uint8)
        write_pair(root, folder, f"tile{i:04d}", image, mask.astype(np.uint8))


def test_the_rule_is_fitted_on_the_training_tiles_not_on_the_colour_shifted_validation_tiles(tmp_path):
    write_shifted_tiles(tmp_path, FOLDER, 3, seed=0, shifted=False)
    write_shifted_tiles(tmp_path, "Moxitaidi (SAT)", 2, seed=1, shifted=True)
    records = CAS.list_tiles(tmp_path)
    train = [r for r in records if r.subdataset == "hokkaido"]
    val = [r for r in records if r.subdataset == "moxitaidi-sat"]
    pixels = [CAS.read_tile(r) for r in val]
    redness = [(image[0] - image[1].astype(float)) / (image[0] + image[1].astype(float)) for image, _ in pixels]
    scars = np.concatenate([r[m[0] > 0] for r, (_, m) in zip(redness, pixels, strict=True)])
    ground = np.concatenate([r[m[0] == 0] for r, (_, m) in zip(redness, pixels, strict=True)])
    assert scars.min() > ground.max()  # fitted on these tiles, a rule would find every scar: IoU 100 %
    share = 100 * scars.size / (scars.size + ground.size)
    scores, _, rule = baseline_scores(train, val, crop_size=None)
    found, everything = _group_row(scores, THRESHOLD_RULE), _group_row(scores, ALL_LANDSLIDE)
    assert rule.training_iou == 100.0
    assert share < 15 and found["iou"] == pytest.approx(share)  # every validation pixel called landslide
    assert found["fn"] == 0 and found["fp"] == everything["fp"]


def _two_groups(make_root) -> tuple[list, list, list]:
    """Three SAT tiles (Hokkaido Iburi-Tobu) and three UAV tiles (Longxi River, UAV): the SAT, UAV and UAV&SAT tiles."""
    records = CAS.list_tiles(make_root({FOLDER: 3, "Longxi River（UAV）": 3}, seed=5))
    return [r for r in records if r.subdataset == "hokkaido"], [r for r in records if r.subdataset != "hokkaido"], records


def test_a_group_s_rule_sums_the_counts_its_sub_datasets_gave_other_groups_and_a_rewritten_tile_is_read_again(
        make_root, monkeypatch):
    sat, uav, both = _two_groups(make_root)
    monkeypatch.setattr(baselines, "_HISTOGRAMS", {})
    read = []  # the tiles of each count made
    counting = baselines._feature_histograms
    monkeypatch.setattr(baselines, "_feature_histograms", lambda part, **k: read.append(len(part)) or counting(part, **k))
    fit_threshold_rule(sat), fit_threshold_rule(uav)
    together = fit_threshold_rule(both)
    assert read == [3, 3], "UAV&SAT read tiles that SAT and UAV had counted"
    monkeypatch.setattr(baselines, "_HISTOGRAMS", {})
    assert fit_threshold_rule(both) == together and read == [3, 3, 3, 3]  # the same rule, counted afresh
    stat = os.stat(both[0].image)
    os.utime(both[0].image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    fit_threshold_rule(both)
    assert read == [3, 3, 3, 3, 3]  # only the sub-dataset of the rewritten tile


@pytest.mark.slow
def test_counting_in_several_processes_fits_the_rule_one_process_fits(make_root, monkeypatch):
    _, _, both = _two_groups(make_root)
    monkeypatch.setattr(baselines, "_HISTOGRAMS", {})
    alone = fit_threshold_rule(both)
    monkeypatch.setattr(baselines, "_HISTOGRAMS", {})
    monkeypatch.setattr(baselines, "pool_size", lambda workers, items: 2)  # two processes, one sub-dataset each
    assert fit_threshold_rule(both) == alone
