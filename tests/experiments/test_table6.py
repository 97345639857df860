"""The Table 6 experiment: arms before and after quality control, and under a grouped split."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from landslide_core.data.splits import make_grouped_split, read_manifest
from landslide_core.errors import BaselineError
from landslide_core.experiments.blocks import blocks_path
from landslide_core.experiments.runs import GridRun, epoch_choice
from landslide_core.experiments.table6 import (
    ARMS,
    arm_tile_counts,
    common_validation_scores,
    qc_arms,
    run_table6,
    table6,
    table6_baselines,
    validation_blocks,
    validation_records,
)
from landslide_core.sources import get_source
from tests.train.test_training import one_thread, tiny_config  # noqa: F401 (one_thread: autouse fixture)

FOLDER = "Hokkaido Iburi-Tobu"
COUNTS = ["tp", "fp", "fn", "tn"]


@pytest.fixture
def roots(make_root, tmp_path: Path) -> tuple[Path, Path, set[str]]:
    """12 tiles cut "from scenes", of which quality control kept the 8 even-numbered and tile0001, tile0003."""
    unfiltered = make_root({FOLDER: 12})
    filtered = tmp_path / "filtered"
    kept = {f"tile{i:04d}" for i in (0, 1, 2, 3, 4, 6, 8, 10)}
    for part in ("img", "mask", "label"):
        (filtered / FOLDER / part).mkdir(parents=True)
        for name in kept:
            os.link(unfiltered / FOLDER / part / f"{name}.tif", filtered / FOLDER / part / f"{name}.tif")
    return unfiltered, filtered, kept


def _grouped(root: Path, groups: dict[str, str], seed: int) -> list:
    return make_grouped_split(get_source("cas").list_tiles(root), groups, seed=seed)


def test_the_unfiltered_split_extends_the_filtered_one_and_the_grouped_split_keeps_groups_whole(roots, tmp_path):
    unfiltered, filtered, kept = roots
    groups = {f"hokkaido/tile{i:04d}": "a" for i in (0, 1, 2, 3)} | {f"hokkaido/tile{i:04d}": "b" for i in (4, 6)}
    arms = qc_arms(filtered, tmp_path / "runs", grouped=_grouped(filtered, groups, 3), unfiltered_root=unfiltered,
                   seed=3)
    assert [a.key for a in arms] == list(ARMS)
    sides = {a.key: {r.name: r.split for r in read_manifest(a.manifest, a.data_root)} for a in arms}
    assert set(sides["unfiltered"]) == {f"tile{i:04d}" for i in range(12)} and set(sides["filtered"]) == kept
    assert all(sides["unfiltered"][name] == side for name, side in sides["filtered"].items())
    rejected = [sides["unfiltered"][f"tile{i:04d}"] for i in (5, 7, 9, 11)]
    assert rejected.count("val") == 1  # the four rejected tiles split 7:3 on their own
    grouped = sides["grouped"]
    for members in (["tile0000", "tile0001", "tile0002", "tile0003"], ["tile0004", "tile0006"]):
        assert len({grouped[m] for m in members}) == 1
    # read back, not drawn again
    before = {a.key: a.manifest.read_bytes() for a in arms}
    again = qc_arms(filtered, tmp_path / "runs", grouped=_grouped(filtered, {}, 3), unfiltered_root=unfiltered,
                    seed=3)
    assert {a.key: a.manifest.read_bytes() for a in again} == before


def test_without_unfiltered_tiles_only_the_filtered_arms_exist(roots, tmp_path):
    _, filtered, _ = roots
    arms = qc_arms(filtered, tmp_path / "runs", grouped=_grouped(filtered, {}, 0), seed=0)
    assert [a.key for a in arms] == ["filtered", "grouped"]


@pytest.mark.slow
def test_each_arm_is_trained_once_scored_on_its_own_and_on_common_validation_tiles(roots, tmp_path):
    unfiltered, filtered, kept = roots
    shutil.rmtree(unfiltered / FOLDER / "label")  # labels are not needed for training
    arms = qc_arms(filtered, tmp_path / "runs", grouped=_grouped(filtered, {}, 0), unfiltered_root=unfiltered,
                   seed=0)
    base = tiny_config(epochs=2, group="SAT", val_crop_size=64)
    runs = run_table6(arms, tmp_path / "runs", base)
    table = table6(runs, arms)
    for run in runs.values():  # a finished run keeps the checkpoint it was scored with, not its resume state
        assert run.checkpoint == run.folder / "best.pt" and not (run.folder / "last.pt").exists()
    assert table["dataset"].tolist() == list(ARMS.values())
    assert table["number"].tolist() == [12, len(kept), len(kept)] and table["left out"].tolist() == [0, 0, 0]
    assert table.loc[0, "val tiles"] == 3 and table.loc[1, "val tiles"] == 2
    common, tiles = common_validation_scores(runs, arms)
    assert common["val tiles"].tolist() == [2, 2]
    # the filtered model on its own validation set is the same measurement as on the common set, tile by tile
    assert common.loc[1, "iou"] == pytest.approx(table.loc[1, "iou"])
    assert tiles.groupby("trained on", sort=False)["tile"].apply(sorted).to_dict() == {
        label: sorted(runs["filtered"].tile_counts["tile"]) for label in (ARMS["unfiltered"], ARMS["filtered"])}
    own = tiles[tiles["trained on"] == ARMS["filtered"]].set_index("tile")[COUNTS]
    pd.testing.assert_frame_equal(own.sort_index(), runs["filtered"].tile_counts.set_index("tile")[COUNTS]
                                  .sort_index())
    assert set(tiles["model"]) == set(table["model"])  # labelled as the table's rows
    epochs = epoch_choice(runs)  # labelled by arm key
    assert epochs["run"].tolist() == list(ARMS)
    assert (epochs["last epoch"] == 2).all()
    best = runs["filtered"].history["val_miou"].max()
    assert epochs.loc[1, "mIoU best"] == best and epochs.loc[1, "mIoU best − last"] >= 0
    mtimes = {k: (r.folder / "scores.csv").stat().st_mtime_ns for k, r in runs.items()}
    again = run_table6(arms, tmp_path / "runs", base)
    assert {k: (r.folder / "scores.csv").stat().st_mtime_ns for k, r in again.items()} == mtimes
    pd.testing.assert_frame_equal(table6(again, arms), table)
    assert get_source("cas").list_tiles(filtered)  # the filtered root is untouched


def test_each_arm_gets_the_three_baselines_on_its_own_validation_tiles(roots, tmp_path):
    unfiltered, filtered, kept = roots
    arms = qc_arms(filtered, tmp_path / "runs", grouped=_grouped(filtered, {}, 0), unfiltered_root=unfiltered,
                   seed=0)
    table = table6_baselines(arms, tiny_config(group="SAT", val_crop_size=64))
    assert table.groupby("dataset", sort=False)["model"].apply(list).to_dict() == {
        label: ["all landslide", "all background", "threshold rule"] for label in ARMS.values()}
    assert table.groupby("dataset", sort=False)["val tiles"].first().tolist() == [3, 2, 2]
    nothing = table[table["model"] == "all background"]
    assert (nothing["iou"] == 0.0).all() and (nothing["recall"] == 0.0).all()
    for arm in arms:  # each arm's counts per tile beside its manifest, summing to its rows
        tiles = pd.read_csv(tmp_path / "runs" / f"{arm.manifest.stem}_SAT_crop64_baselines-tiles.csv",
                            keep_default_na=False)
        validation = [r.uid for r in read_manifest(arm.manifest, arm.data_root) if r.split == "val"]
        rows = table[table["dataset"] == arm.dataset].set_index("model")
        for model, counts in tiles.groupby("model", sort=False):
            assert sorted(counts["tile"]) == sorted(validation) and (counts[COUNTS].sum(axis=1) == 64 * 64).all()
            landslide = counts["tp"].sum() + counts["fn"].sum()
            assert rows.loc[model, "val tiles"] == len(counts)
            assert rows.loc[model, "recall"] == pytest.approx(100 * counts["tp"].sum() / landslide)
            assert rows.loc[model, "oa"] == pytest.approx(100 * (counts["tp"] + counts["tn"]).sum() / (64 * 64 * len(counts)))


def test_counts_per_tile_gather_each_arms_model_and_baselines_and_blocks_cover_the_tiles_resampled(roots, tmp_path):
    unfiltered, filtered, _ = roots
    groups = {f"hokkaido/tile{i:04d}": "a" for i in (0, 1, 2, 3)}
    arms = qc_arms(filtered, tmp_path / "runs", grouped=_grouped(filtered, groups, 0), unfiltered_root=unfiltered,
                   seed=0)
    base = tiny_config(group="SAT", val_crop_size=64)
    runs = {arm.key: GridRun(model="deeplabv3plus", group="SAT", seed=0, folder=tmp_path, history=pd.DataFrame(),
                             scores=pd.DataFrame(), checkpoint=None,
                             tile_counts=pd.DataFrame({"model": "deeplabv3plus", "tile": [r.uid for r in
                                                                                          validation_records(arm, base)],
                                                       "subdataset": "hokkaido", "group": "SAT", "tp": 1, "fp": 2,
                                                       "fn": 3, "tn": 64 * 64 - 6}))
            for arm in arms}
    with pytest.raises(BaselineError, match="call table6_baselines"):
        arm_tile_counts(runs, arms, base)
    table6_baselines(arms, base)
    counts = arm_tile_counts(runs, arms, base)
    for arm in arms:
        rows = counts[counts["dataset"] == arm.dataset]
        assert list(dict.fromkeys(rows["model"])) == ["DeepLabV3+", "all landslide", "all background", "threshold rule"]
        tiles = rows.groupby("model")["tile"].apply(sorted)
        assert all(t == sorted(r.uid for r in validation_records(arm, base)) for t in tiles)
    by_key = {arm.key: arm for arm in arms}
    own = validation_blocks([by_key["unfiltered"], by_key["filtered"]], base)  # the unfiltered tiles cover both
    assert set(own) == {r.uid for r in validation_records(by_key["unfiltered"], base)}
    assert blocks_path(by_key["unfiltered"].manifest, "SAT").is_file()
    split = validation_blocks([by_key["filtered"], by_key["grouped"]], base)
    assert set(split) == {r.uid for key in ("filtered", "grouped") for r in validation_records(by_key[key], base)}
    assert len(list((tmp_path / "runs").glob("split-filtered-seed0+split-grouped-seed0_SAT_*_blocks.csv"))) == 1


def test_number_and_left_out_count_only_the_tiles_of_the_arms_group(make_root, tmp_path):
    """A root's manifests also list its UAV tiles (the real data's do, beside the 7,413 SAT ones): not counted."""
    from dataclasses import replace

    from landslide_core.experiments.runs import GridRun
    from landslide_core.scoring import SCORE_COLUMNS

    root = make_root({FOLDER: 6, "Moxitaidi (UAV-1 m)": 4})
    records = get_source("cas").list_tiles(root)
    plan = {"SAT": ["train"] * 3 + ["val"] * 2 + ["buffer"], "UAV": ["train", "train", "val", "buffer"]}
    grouped = [replace(r, split=side) for group, sides in plan.items()
               for r, side in zip(sorted((r for r in records if r.group == group), key=lambda r: r.name), sides,
                                  strict=True)]
    arms = qc_arms(root, tmp_path / "runs", grouped=grouped, seed=0)
    assert [len(pd.read_csv(arm.manifest, comment="#")) for arm in arms] == [10, 10]  # UAV tiles listed too
    expected = {"SAT": {"number": 6, "left out": 0}, "SAT, grouped split": {"number": 5, "left out": 1}}
    baselines = table6_baselines(arms, tiny_config(group="SAT", val_crop_size=64))
    assert baselines.drop_duplicates("dataset").set_index("dataset")[["number", "left out"]].to_dict("index") == expected
    scores = pd.DataFrame([{"group": "SAT", "subdataset": "", "tiles": 2, **{m: 50.0 for m in SCORE_COLUMNS}}])
    runs = {arm.key: GridRun(model="unet", group="SAT", seed=0, folder=tmp_path, history=pd.DataFrame(), scores=scores,
                             checkpoint=None) for arm in arms}
    assert table6(runs, arms).set_index("dataset")[["number", "left out"]].to_dict("index") == expected
