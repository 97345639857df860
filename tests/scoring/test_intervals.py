"""Judged tables from per-tile counts: intervals per configuration, paired differences, and the paper's values.

Cases are built so that a point value alone would mislead: a gain carried by a few disagreeing tiles, a gain carried
by one leakage group of repeated tiles, and seeds scored on different tiles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from landslide_core.errors import ConfigError
from landslide_core.scoring.intervals import (
    BootstrapSettings,
    compare,
    distinguishable,
    format_interval,
    interval_table,
    judge,
    paper_verdicts,
    verdict_counts,
)
from landslide_core.scoring.metrics import scores_from_counts

FAST = BootstrapSettings(resamples=2_000, seed=1)


def _rows(model: str, counts: np.ndarray, *, seed: int = 0, group: str = "SAT", first: int = 0) -> pd.DataFrame:
    """Per-tile rows of ``counts`` (tiles × 4), tiles named t<first>, t<first + 1>, …"""
    frame = pd.DataFrame(np.asarray(counts, np.int64), columns=["tp", "fp", "fn", "tn"])
    return frame.assign(model=model, seed=seed, group=group, tile=[f"t{first + i}" for i in range(len(frame))])


def _tiles(rng: np.random.Generator, n: int, found: float, *, noise: float = 0.05) -> np.ndarray:
    """``n`` tiles of 1,000 landslide and 9,000 background pixels; the model finds ``found`` ± noise of the landslide."""
    share = np.clip(found + rng.normal(0, noise, n), 0, 1)
    tp = np.round(1000 * share).astype(np.int64)
    fp = np.full(n, 100)
    return np.stack([tp, fp, 1000 - tp, 9000 - fp], axis=1)


def test_estimates_are_the_pooled_scores_and_a_clear_gain_on_many_tiles_beats():
    rng = np.random.default_rng(0)
    strong, weak = _tiles(rng, 60, 0.8), _tiles(rng, 60, 0.5)
    judged = judge(pd.concat([_rows("Strong", strong), _rows("Weak", weak)]), within=["group"], settings=FAST)
    row = judged.estimate("Strong", "iou", group="SAT")
    assert row["value"] == pytest.approx(100 * scores_from_counts(*strong.sum(axis=0)).iou)
    assert row["low"] < row["value"] < row["high"] and np.isnan(row["seed_sd"]) and row["seeds"] == 1
    delta = judged.difference("Strong", "Weak", "iou", group="SAT")
    assert distinguishable(delta) and delta["low"] > 0
    assert compare(delta, "landslide IoU").startswith("Strong beats Weak (Δ landslide IoU +")
    swapped = judged.difference("Weak", "Strong", "iou", group="SAT")
    assert (swapped["delta"], swapped["low"], swapped["high"]) == (-delta["delta"], -delta["high"], -delta["low"])
    assert compare(swapped, "landslide IoU").startswith("Strong beats Weak (Δ landslide IoU +")


def test_a_two_point_gain_carried_by_three_disagreeing_tiles_is_not_distinguishable():
    a = np.array([[900, 100, 100, 8900], [300, 100, 700, 8900], [880, 100, 120, 8900]])
    b = np.array([[500, 100, 500, 8900], [700, 100, 300, 8900], [500, 100, 500, 8900]])
    judged = judge(pd.concat([_rows("A", a), _rows("B", b)]), settings=FAST)
    delta = judged.difference("A", "B", "miou")
    assert delta["delta"] > 2 and not distinguishable(delta)
    assert compare(delta, "mIoU").startswith("A and B are not distinguishable on these tiles (Δ mIoU +")


def test_a_gain_on_one_leakage_group_of_repeated_tiles_is_only_distinguishable_when_the_group_is_ignored():
    rng = np.random.default_rng(3)
    base = _tiles(rng, 30, 0.5, noise=0.2)  # both models alike here
    repeated = np.repeat(np.array([[1000, 0, 0, 9000]]), 12, axis=0)  # one tile's ground, twelve times
    a = np.vstack([base, repeated])
    b = np.vstack([base, np.repeat(np.array([[0, 0, 1000, 9000]]), 12, axis=0)])  # B misses it
    frame = pd.concat([_rows("A", a), _rows("B", b)])
    group = {f"t{30 + i}": "g" for i in range(12)}
    tiles_alone = judge(frame, settings=FAST).difference("A", "B", "iou")
    in_blocks = judge(frame, blocks=group, settings=FAST).difference("A", "B", "iou")
    assert distinguishable(tiles_alone) and not distinguishable(in_blocks)
    assert in_blocks["delta"] == pytest.approx(tiles_alone["delta"])


def test_seeds_scored_on_different_tiles_are_each_scored_on_their_own_and_spread_is_reported():
    rng = np.random.default_rng(5)
    seed0, seed1 = _tiles(rng, 20, 0.6), _tiles(rng, 20, 0.7)
    frame = pd.concat([_rows("M", seed0, seed=0), _rows("M", seed1, seed=1, first=20)])
    row = judge(frame, settings=FAST).estimate("M", "iou")
    per_seed = [100 * scores_from_counts(*c.sum(axis=0)).iou for c in (seed0, seed1)]
    assert row["value"] == pytest.approx(np.mean(per_seed))
    assert row["seed_sd"] == pytest.approx(np.std(per_seed, ddof=1)) and row["seeds"] == 2


def test_a_model_compared_with_itself_differs_by_zero_and_intervals_repeat_for_a_seed():
    rng = np.random.default_rng(7)
    counts = _tiles(rng, 25, 0.6)
    frame = pd.concat([_rows("A", counts), _rows("A again", counts)])
    judged = judge(frame, settings=FAST)
    delta = judged.difference("A", "A again", "miou")
    assert (delta["delta"], delta["low"], delta["high"]) == (0, 0, 0) and not distinguishable(delta)
    pd.testing.assert_frame_equal(judge(frame, settings=FAST).estimates, judged.estimates)
    other = judge(frame, settings=BootstrapSettings(resamples=2_000, seed=2)).estimates
    assert not other["low"].equals(judged.estimates["low"])


def test_paper_values_are_judged_inside_or_outside_by_the_nearer_bound():
    rng = np.random.default_rng(9)
    judged = judge(_rows("M", _tiles(rng, 40, 0.6)), within=["group"], settings=FAST)
    row = judged.estimate("M", "iou", group="SAT")
    paper = pd.DataFrame({"group": "SAT", "configuration": "M", "metric": "iou",
                          "paper": [row["value"], row["high"] + 2.5, row["low"] - 1.25]})
    verdicts = paper_verdicts(judged, paper)
    assert verdicts["inside"].tolist() == [True, False, False]
    assert verdicts["outside by"].tolist() == pytest.approx([0, 2.5, 1.25])
    assert verdicts["verdict"].tolist() == ["reproduced within uncertainty", "outside by 2.5 points",
                                            "outside by 1.2 points"]
    assert verdict_counts(verdicts, synthetic=False).startswith("1 of 3 published values lie inside")
    assert "not meaningful" in verdict_counts(verdicts, synthetic=True)


def test_tables_show_value_and_interval_and_bad_input_is_named():
    rng = np.random.default_rng(11)
    judged = judge(pd.concat([_rows("A", _tiles(rng, 10, 0.6)), _rows("B", _tiles(rng, 10, 0.4))]),
                   within=["group"], settings=FAST)
    table = interval_table(judged, ["iou", "miou"], index=["configuration", "group"])
    row = judged.estimate("A", "iou", group="SAT")
    assert table.loc[("A", "SAT"), "iou"] == format_interval(row["value"], row["low"], row["high"])
    assert format_interval(68.137, 66.0, 70.24) == "68.1 [66.0, 70.2]" and format_interval(np.nan, 0, 0) == "—"
    with pytest.raises(ConfigError, match=r"lack column\(s\) \['tn'\]"):
        judge(_rows("A", _tiles(rng, 3, 0.5)).drop(columns="tn"))
    twice = pd.concat([_rows("A", _tiles(rng, 3, 0.5))] * 2)
    with pytest.raises(ConfigError, match="twice in one cell"):
        judge(twice)
