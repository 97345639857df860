"""The baselines' rule on the Table 5 page, judged from per-tile counts: a model that finds no landslide is no result.

On these tiles landslide covers 6 % of the pixels: all landslide scores 6.0 / 3.0 % (landslide IoU / mIoU), all
background 0.0 / 47.0 %, the better constant. A model that predicts background everywhere is far above all
landslide's mIoU, level with all background's on every tile, and finds no landslide; the page must neither count it as
a result nor as beating any baseline. Its verdicts come from paired intervals, not from a margin: a small mIoU gain
that every tile agrees on is a result, a larger one carried by three tiles that disagree is not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from landslide_core.book import paper_vs_run
from landslide_core.book.compare import metric_tables_html
from landslide_core.eval.baselines import no_result_rule, rule
from landslide_core.experiments.runs import GridRun
from landslide_core.scoring.intervals import BootstrapSettings, Judged, judge
from landslide_core.sections import benchmarks
from landslide_core.sections.benchmarks import GridSettings, baseline_verdicts, not_learned

FAST = BootstrapSettings(resamples=2_000, seed=1)
PIXELS = 10_000
"""Pixels per tile."""


def _rows(model: str, group: str, counts: list[list[int]] | np.ndarray) -> pd.DataFrame:
    """Per-tile rows of ``model`` in ``group``: one (TP, FP, FN, TN) per tile, tiles named <group>-<i>."""
    frame = pd.DataFrame(np.asarray(counts, np.int64), columns=["tp", "fp", "fn", "tn"])
    return frame.assign(model=model, group=group, tile=[f"{group}-{i}" for i in range(len(frame))])


def _baselines(group: str, landslide: np.ndarray, rule_tp: np.ndarray, rule_fp: np.ndarray) -> list[pd.DataFrame]:
    """The three baselines on tiles with ``landslide`` landslide pixels each; the rule finds ``rule_tp`` of them."""
    background = PIXELS - landslide
    zeros = np.zeros_like(landslide)
    return [_rows("all landslide", group, np.stack([landslide, background, zeros, zeros], axis=1)),
            _rows("all background", group, np.stack([zeros, zeros, landslide, background], axis=1)),
            _rows("threshold rule", group, np.stack([rule_tp, rule_fp, landslide - rule_tp,
                                                     background - rule_fp], axis=1))]


def _page_table(rng: np.random.Generator, tiles: int = 40) -> Judged:
    """SAT: FCN predicts background everywhere, U-Net finds about two thirds of the landslide; 6 % landslide."""
    landslide = np.full(tiles, 600)
    flat = np.stack([np.zeros(tiles), np.zeros(tiles), landslide, PIXELS - landslide], axis=1)
    found = rng.integers(380, 420, tiles)
    learned = np.stack([found, np.full(tiles, 200), landslide - found, PIXELS - landslide - 200], axis=1)
    frame = pd.concat([_rows("FCN", "SAT", flat), _rows("U-Net", "SAT", learned),
                       *_baselines("SAT", landslide, np.full(tiles, 300), np.full(tiles, 900))])
    return judge(frame, within=["group"], settings=FAST)


def test_table5_page_flags_it_says_so_and_does_not_count_it_as_beating_a_baseline(tmp_path: Path):
    judged = _page_table(np.random.default_rng(0))
    assert not_learned(judged) == [("FCN", "SAT")]  # the notebook marks these cells †
    first, verdict = baseline_verdicts(judged)
    assert first == f"Against the baselines, {rule(0.95)}.\n"
    assert "all landslide 6.0 / 3.0 %, all background 0.0 / 47.0 %" in verdict
    assert "Models that beat all landslide: U-Net; all background: U-Net; threshold rule: U-Net." in verdict
    settings = GridSettings(models=["fcn", "unet"], groups=["SAT"], epochs=2, batch_size=8, crop_size=64,
                            val_crop_size=128, seeds=[0], pretrained=False, device="cpu", num_workers=0,
                            keep_checkpoints=False)
    runs = [GridRun(model=model, group="SAT", seed=0, folder=tmp_path, history=pd.DataFrame(), scores=pd.DataFrame(),
                    checkpoint=None, config={**settings.train_config_of(model).to_dict(), "split": "random"})
            for model in settings.models]
    rows = (judged.estimates.pivot_table(index=["configuration", "group"], columns="metric", values="value")
            .rename_axis(index=["model", "group"], columns=None).reset_index())
    comparison = paper_vs_run(rows, 5, run_label="this run")
    text = benchmarks.summary(rows.assign(subdataset="", tiles=40), judged, comparison, settings, runs,
                              synthetic=True, data_root=tmp_path)
    assert ("- **Not a result: FCN on SAT**: on these tiles it cannot be told apart from predicting one class "
            "everywhere (its mIoU 47.0 % against all background's 47.0 %, the better constant: Δ mIoU +0.0 points, "
            "95 % interval [+0.0, +0.0], not above 0), so this run's 2 epoch(s) show no learning that these tiles can "
            "confirm.") in text
    assert "Not a result: U-Net" not in text
    caption = metric_tables_html(comparison, rows="Model", columns="Group", caption="Paper Table 5 and this run (%)",
                                 flagged=not_learned(judged))
    assert f"† marks a model that is no result: {no_result_rule(0.95)}." in caption


def test_the_rule_asks_for_an_interval_above_zero_not_a_margin():
    """1.6 mIoU points above all background on 60 tiles that agree is a result; 1.8 on 3 that disagree is not."""
    rng = np.random.default_rng(1)
    landslide = np.full(60, 1000)
    found = rng.integers(25, 36, 60)  # a few landslide pixels on every tile, 10 false alarms
    steady = np.stack([found, np.full(60, 10), 1000 - found, np.full(60, PIXELS - 1010)], axis=1)
    erratic = [[600, 300, 400, 8700], [250, 2500, 750, 6500], [150, 1200, 850, 7800]]  # one tile good, two bad
    frame = pd.concat([_rows("Steady", "UAV", steady), *_baselines("UAV", landslide, found + 400, np.full(60, 600)),
                       _rows("Erratic", "SAT", erratic),
                       *_baselines("SAT", np.full(3, 1000), np.full(3, 500), np.full(3, 500))])
    judged = judge(frame, within=["group"], settings=FAST)
    steady_gain = judged.difference("Steady", "all background", "miou", group="UAV")
    erratic_gain = judged.difference("Erratic", "all background", "miou", group="SAT")
    assert 1 < steady_gain["delta"] < erratic_gain["delta"] < 2  # the larger point gain
    assert steady_gain["low"] > 0 and erratic_gain["low"] < 0 < erratic_gain["high"]
    assert not_learned(judged) == [("Erratic", "SAT")]
    lines = baseline_verdicts(judged)
    uav = next(line for line in lines if line.startswith("- **UAV**"))
    sat = next(line for line in lines if line.startswith("- **SAT**"))
    # all landslide's landslide IoU (10 %) is above Steady's: no beating it on mIoU alone
    assert "Models that beat all landslide: none; all background: Steady; threshold rule: none." in uav
    assert "Models that beat all landslide: none; all background: none; threshold rule: none." in sat
