"""The Table 5 grid: every (model, group, seed) trained once, resumed not repeated, summarised over seeds."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from landslide_core.data.splits import split_records
from landslide_core.errors import BaselineError, CheckpointError
from landslide_core.eval import evaluation
from landslide_core.eval.baselines import BASELINES
from landslide_core.eval.evaluation import evaluate_checkpoint_tiles
from landslide_core.eval.paper import METRICS, paper_values, published_long
from landslide_core.experiments.blocks import BLOCKS_SUFFIX
from landslide_core.experiments.runs import baseline_tiles_path
from landslide_core.experiments.table5 import (
    COUNT_FRAME_COLUMNS,
    baseline_frame,
    baseline_tile_counts,
    grid_blocks,
    histories_frame,
    judge_subdatasets,
    mean_std_table,
    run_grid,
    scores_frame,
    subdataset_breakdown,
    subdataset_intervals,
    subdataset_views,
    table5,
    tile_counts_frame,
)
from landslide_core.scoring import SCORE_COLUMNS, TILE_COLUMNS
from landslide_core.scoring.intervals import BootstrapSettings, judge
from landslide_core.sections.benchmarks import error_map, example_tiles, prediction_examples, training_curves
from landslide_core.sources import get_source
from landslide_core.sources.cas.demo import write_demo_data
from landslide_core.train.config import TrainConfig
from tests.train.test_training import one_thread, tiny_config  # noqa: F401 (one_thread: autouse fixture)

GROUPS = ["UAV", "SAT", "UAV&SAT"]
COUNTS = ["tp", "fp", "fn", "tn"]


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory):
    root = write_demo_data(tmp_path_factory.mktemp("demo"), subdatasets=["longxi-uav", "palu", "hokkaido"],
                           tiles_per_subdataset=4, progress=False)
    runs_dir = tmp_path_factory.mktemp("runs")
    base = tiny_config(epochs=1, val_crop_size=128)
    with pytest.MonkeyPatch.context() as patch:  # every pass of an evaluation over tiles, apart from the validation
        counting = evaluation.tile_counts
        patch.setattr(evaluation, "tile_counts", lambda *a, **k: SCORED_AGAIN.append(len(a[1])) or counting(*a, **k))
        runs = run_grid(root, runs_dir, base=base, models=[base.model], groups=GROUPS, seeds=[0, 1], progress=False,
                        echo=lambda line: None, keep_checkpoints=keep)
    return root, runs_dir, base, runs


SCORED_AGAIN: list[int] = []
"""Tiles of each evaluation pass the grid made after training (its validation passes not counted)."""


def keep(model: str, group: str, seed: int) -> bool:
    return (group, seed) == ("UAV&SAT", 0)


@pytest.mark.slow
def test_every_model_group_and_seed_is_trained_once_and_read_back_after(grid):
    root, runs_dir, base, runs = grid
    assert [(r.group, r.seed) for r in runs] == [(g, s) for s in (0, 1) for g in GROUPS]
    assert all(len(r.history) == 1 for r in runs)
    assert sorted(p.name for p in runs_dir.glob("split-seed*.csv")) == ["split-seed0.csv", "split-seed1.csv"]
    for run in runs:  # finished runs keep their scores and history; only the kept one its best weights
        assert (run.folder / "scores.csv").is_file() and not (run.folder / "last.pt").exists()
        assert (run.checkpoint == run.folder / "best.pt") is keep(run.model, run.group, run.seed)
    written = {r.folder: (r.folder / "history.csv").stat().st_mtime_ns for r in runs}
    again = run_grid(root, runs_dir, base=base, models=[base.model], groups=GROUPS, seeds=[0, 1], progress=False,
                     echo=lambda line: None)
    assert {r.folder: (r.folder / "history.csv").stat().st_mtime_ns for r in again} == written  # nothing retrained
    pd.testing.assert_frame_equal(scores_frame(again), scores_frame(runs))
    pd.testing.assert_frame_equal(histories_frame(again), histories_frame(runs))


@pytest.mark.slow
def test_a_run_s_scores_are_its_validation_s_counts_so_its_tiles_are_read_once(grid):
    """Each run's scores come from the validation pass that chose its checkpoint: no second pass over the tiles, and
    the same counts as scoring the kept checkpoint again."""
    root, runs_dir, base, runs = grid
    assert SCORED_AGAIN == []
    kept = next(r for r in runs if r.checkpoint is not None)
    scores, tiles = evaluate_checkpoint_tiles(kept.checkpoint, root, batch_size=base.batch_size, device="cpu",
                                              progress=False)
    pd.testing.assert_frame_equal(kept.scores, scores)
    pd.testing.assert_frame_equal(kept.tile_counts, tiles)


def _sums_of_tiles(scores: pd.DataFrame, tiles: pd.DataFrame) -> None:
    """Every row of ``scores`` (one model) holds the sums of its group's, or sub-dataset's, rows of ``tiles``."""
    for _, row in scores.iterrows():
        members = tiles[tiles["group"].isin(get_source("cas").groups[row["group"]])]
        if row["subdataset"]:
            members = members[members["subdataset"] == row["subdataset"]]
        assert row[COUNTS].tolist() == members[COUNTS].sum().tolist() and row["tiles"] == len(members)


@pytest.mark.slow
def test_every_run_keeps_the_counts_of_each_validation_tile_and_so_do_the_baselines(grid):
    root, runs_dir, base, runs = grid
    for run in runs:
        written = pd.read_csv(run.folder / "tile_counts.csv", keep_default_na=False)
        pd.testing.assert_frame_equal(run.tile_counts, written)
        assert tuple(written.columns) == TILE_COLUMNS and (written[COUNTS].sum(axis=1) == 128 * 128).all()
        validation = split_records(root, runs_dir / f"split-seed{run.seed}.csv", seed=run.seed,
                                   val_fraction=base.val_fraction, group=run.group, split="val")
        assert written["tile"].tolist() == [r.uid for r in validation]
        _sums_of_tiles(run.scores, written)
        # written before the scores, which mark the run finished
        assert (run.folder / "tile_counts.csv").stat().st_mtime_ns <= (run.folder / "scores.csv").stat().st_mtime_ns
    scores, _ = baseline_frame(root, runs_dir, base=base, groups=["UAV&SAT"], seeds=[1])
    path = baseline_tiles_path(runs_dir / "split-seed1.csv", "UAV&SAT", 128)
    assert path == runs_dir / "split-seed1_UAV+SAT_crop128_baselines-tiles.csv"
    baselines = pd.read_csv(path, keep_default_na=False)
    run = next(r for r in runs if (r.group, r.seed) == ("UAV&SAT", 1))
    for name, tiles in baselines.groupby("model", sort=False):  # the run's tiles, in its order: paired tile by tile
        assert tiles["tile"].tolist() == run.tile_counts["tile"].tolist()
        assert (tiles[COUNTS].sum(axis=1).to_numpy() == run.tile_counts[COUNTS].sum(axis=1).to_numpy()).all()
        _sums_of_tiles(scores[scores["model"] == name], tiles)
    assert baselines["model"].unique().tolist() == ["all landslide", "all background", "threshold rule"]


@pytest.mark.slow
def test_table5_is_the_mean_over_seeds_of_each_models_own_group_rows(grid):
    *_, runs = grid
    scores = scores_frame(runs)
    table = table5(scores).set_index(["model", "group"])
    assert list(table.index) == [("Unet (resnet18)", g) for g in GROUPS]
    own = scores[(scores["group"] == scores["trained_on"]) & (scores["subdataset"] == "")]
    for group in GROUPS:
        per_seed = own[own["group"] == group]
        assert len(per_seed) == 2
        assert table.loc[("Unet (resnet18)", group), "iou"] == pytest.approx(per_seed["iou"].mean())
    spread = mean_std_table(scores)
    assert (spread["seeds"] == 2).all()
    iou = own[own["group"] == "SAT"]["iou"]
    assert spread.loc[("Unet (resnet18)", "SAT"), "iou"] == f"{iou.mean():.2f} ± {iou.std(ddof=1):.2f}"
    assert set(SCORE_COLUMNS) <= set(spread.columns)


@pytest.mark.slow
def test_the_breakdown_has_one_row_per_subdataset_and_training_group(grid):
    *_, runs = grid
    breakdown = subdataset_breakdown(scores_frame(runs))
    assert list(breakdown.index) == [("UAV", "UAV", "longxi-uav"), ("SAT", "SAT", "palu"), ("SAT", "SAT", "hokkaido"),
                                     ("UAV&SAT", "UAV", "longxi-uav"), ("UAV&SAT", "SAT", "palu"),
                                     ("UAV&SAT", "SAT", "hokkaido")]
    assert list(breakdown.columns) == ["val tiles", "Unet (resnet18)"]
    views = subdataset_views(breakdown.assign(**{"all background": 0.0}))
    assert list(views) == ["UAV", "SAT", "UAV&SAT"]
    assert list(views["SAT"].index) == ["palu", "hokkaido"] and list(views["SAT"].columns) == ["Unet (resnet18)"]
    histories = histories_frame(runs)
    assert len(histories) == len(runs) and len(training_curves(histories).axes) == 6


@pytest.mark.slow
def test_the_grids_counts_per_tile_judge_to_the_tables_scores_with_intervals(grid):
    root, runs_dir, base, runs = grid
    baselines, _ = baseline_frame(root, runs_dir, base=base, groups=GROUPS, seeds=[0, 1])
    scores = pd.concat([scores_frame(runs), baselines], ignore_index=True)
    counts = tile_counts_frame(runs, runs_dir, base=base, groups=GROUPS, seeds=[0, 1])
    assert tuple(counts.columns) == COUNT_FRAME_COLUMNS
    model = "Unet (resnet18)"
    for _, cell in counts.groupby(["group", "seed"]):  # every run beside its baselines, tile by tile
        tiles = {name: rows["tile"].tolist() for name, rows in cell.groupby("model", sort=False)}
        assert list(tiles) == [model, *BASELINES]
        assert all(t == tiles[model] for t in tiles.values())
    blocks = grid_blocks(root, runs_dir, base=base, groups=GROUPS, seeds=[0, 1])
    assert set(blocks) == set(counts["tile"])
    cached = sorted(path.name.split("_")[:2] for path in runs_dir.glob(f"split-seed*_*_{BLOCKS_SUFFIX}"))
    assert cached == [["split-seed0", "UAV+SAT"], ["split-seed1", "UAV+SAT"]]  # UAV&SAT's tiles hold the others'
    settings = BootstrapSettings(resamples=200)
    judged = judge(counts, within=["group"], blocks=blocks, settings=settings)
    table = table5(scores).set_index(["model", "group"])
    for group in GROUPS:
        for name in (model, *BASELINES):
            row = judged.estimate(name, "iou", group=group)
            assert row["value"] == pytest.approx(table.loc[(name, group), "iou"]) and row["seeds"] == 2
            assert row["low"] <= row["value"] <= row["high"]
    breakdown = subdataset_breakdown(scores)
    per_subdataset = judge_subdatasets(counts, breakdown, blocks=blocks, settings=settings)
    assert set(per_subdataset.estimates["metric"]) == {"iou"} and per_subdataset.differences.empty
    text = subdataset_intervals(per_subdataset, breakdown)
    assert list(text.index) == list(breakdown.index) and "all background" not in text.columns
    for index, row in breakdown.iterrows():  # the same value, with its interval
        assert text.loc[index, model].startswith(f"{row[model]:.1f} [")
    assert list(subdataset_views(text)) == GROUPS


def test_missing_baseline_counts_name_the_call_that_writes_them(tmp_path):
    with pytest.raises(BaselineError, match="call baseline_frame with the same runs folder"):
        baseline_tile_counts(tmp_path, base=TrainConfig(val_crop_size=128), groups=["SAT"], seeds=[0])


def test_blocks_of_several_seeds_join_the_tiles_any_seed_audit_groups(tmp_path, monkeypatch):
    """Seed 0 groups a with b, seed 1 groups b with c: a, b and c are one block; d is alone.

    Seed 1's UAV&SAT tiles hold its UAV and SAT tiles, so only they are audited; seed 0's (made to miss c here) do
    not, so each of its groups is.
    """
    groups = {(0, "UAV"): ["a", "b"], (0, "SAT"): ["c"], (0, "UAV&SAT"): ["a", "b"],
              (1, "UAV"): ["b"], (1, "SAT"): ["c", "d"], (1, "UAV&SAT"): ["b", "c", "d"]}
    audits = {("a", "b"): {"a": "a", "b": "a"}, ("c",): {"c": "c"}, ("b", "c", "d"): {"b": "b", "c": "b", "d": "d"}}
    for seed in (0, 1):
        (tmp_path / f"split-seed{seed}.csv").write_text("a manifest\n")
    audited = []

    def audit(records: list[SimpleNamespace], **_: object) -> dict[str, str]:
        audited.append(tuple(record.uid for record in records))
        return audits[audited[-1]]

    module = sys.modules[grid_blocks.__module__]  # the package's name table5 is the function
    monkeypatch.setattr(module, "split_records", lambda root, manifest, *, seed, group, **_: [
        SimpleNamespace(uid=uid) for uid in groups[(seed, group)]])
    monkeypatch.setattr(module, "leakage_blocks", audit)
    blocks = grid_blocks(tmp_path, tmp_path, base=TrainConfig(), groups=["UAV", "SAT", "UAV&SAT"], seeds=[0, 1])
    assert audited == [("a", "b"), ("c",), ("a", "b"), ("b", "c", "d")]
    assert blocks["a"] == blocks["b"] == blocks["c"] != blocks["d"] and set(blocks) == {"a", "b", "c", "d"}


def test_paper_table5_is_every_published_value_in_long_rows():
    published = published_long(5, ["group", "model"])
    assert list(published.columns) == ["group", "configuration", "metric", "paper"]
    assert len(published) == 12 * len(METRICS)
    row = paper_values(5).iloc[0]
    assert published[(published["configuration"] == row["model"]) & (published["group"] == row["group"])
                     & (published["metric"] == "iou")]["paper"].item() == row["iou"]


@pytest.mark.slow
def test_examples_show_both_groups_and_every_run(grid):
    root, runs_dir, base, runs = grid
    validation = split_records(root, runs_dir / "split-seed0.csv", seed=0, val_fraction=base.val_fraction,
                               group="UAV&SAT", split="val")
    tiles = example_tiles(validation, 2)
    assert {t.group for t in tiles} == {"UAV", "SAT"}
    joint = [r for r in runs if (r.group, r.seed) == ("UAV&SAT", 0)]
    figure = prediction_examples(joint, tiles, crop_size=128)
    assert len(figure.axes) == 2 * (2 + len(joint))
    assert figure.axes[0].images[0].get_array().shape[:2] == (128, 128)
    pruned = [r for r in runs if r.group == "SAT"]
    with pytest.raises(CheckpointError, match="this run did not keep its checkpoint"):
        prediction_examples(pruned, tiles)


def test_error_map_codes_each_outcome():
    truth = np.array([[0, 0], [1, 1]])
    prediction = np.array([[0, 1], [1, 0]])
    assert error_map(truth, prediction).tolist() == [[0, 2], [1, 3]]
