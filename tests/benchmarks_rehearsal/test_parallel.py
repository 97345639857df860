"""The fixes the paper-scale rehearsal called for give the numbers they gave before: QC scores and tile statistics
shared among processes equal those of one process (and fail on the same tile first), and the baselines read each
validation tile once yet count as scoring every baseline through the models' path did."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from landslide_core.building.qc import score_root
from landslide_core.data.statistics import MIN_TILES_PER_WORKER, map_tiles, pool_size, tile_statistics
from landslide_core.errors import ConfigError, TileError
from landslide_core.eval.baselines import (
    ALL_BACKGROUND,
    ALL_LANDSLIDE,
    THRESHOLD_RULE,
    ConstantPrediction,
    baseline_scores,
)
from landslide_core.eval.evaluation import evaluate_tiles
from landslide_core.io.raster import write_raster
from landslide_core.sources import get_source

CAS = get_source("cas")
FOLDERS = {"Hokkaido Iburi-Tobu": 5, "Lombok": 4}


def test_qc_scores_from_two_processes_equal_those_of_one(make_root):
    root = make_root(FOLDERS, seed=3)
    serial = score_root(root, progress=False, workers=1)
    parallel = score_root(root, progress=False, workers=2)
    assert len(serial) == 9 and serial["seam_score"].notna().any()
    pd.testing.assert_frame_equal(parallel, serial, check_exact=True)


def test_tile_statistics_from_two_processes_equal_those_of_one(make_root):
    records = CAS.list_tiles(make_root(FOLDERS, seed=4))
    serial = tile_statistics(records, progress=False, workers=1)
    pd.testing.assert_frame_equal(tile_statistics(records, progress=False, workers=2), serial, check_exact=True)
    assert serial["name"].tolist() == [r.name for r in records]  # the order of the records


def test_processes_fail_on_the_first_bad_tile_in_order_as_one_process_does(make_root):
    root = make_root(FOLDERS, seed=5)
    records = CAS.list_tiles(root)
    for bad in (records[2], records[6]):
        write_raster(bad.mask, np.full((512, 512), 2, np.uint8))
    messages = []
    for workers in (1, 2):
        with pytest.raises(TileError) as raised:
            tile_statistics(records, progress=False, workers=workers)
        messages.append(str(raised.value))
    assert messages[0] == messages[1] and records[2].name in messages[0]


def test_the_default_starts_processes_only_where_the_tiles_repay_them():
    assert pool_size(None, MIN_TILES_PER_WORKER - 1) == 1  # the demo data's few hundred tiles: no process started
    assert 1 <= pool_size(None, 100 * MIN_TILES_PER_WORKER) <= max(1, len(__import__("os").sched_getaffinity(0)))
    assert pool_size(3, 2) == 2 and pool_size(2, 1000) == 2
    with pytest.raises(ConfigError, match="workers must be a count of 1 or more"):
        map_tiles(abs, [1, 2], workers=0)


@pytest.mark.parametrize("crop_size", [None, 128])
def test_the_constants_counted_from_the_rules_pass_equal_the_constants_scored_as_models(make_root, crop_size):
    records = CAS.list_tiles(make_root(FOLDERS, seed=6))
    train, val = records[:4], records[4:]
    scores, tiles, _ = baseline_scores(train, val, crop_size=crop_size)
    assert tiles["model"].tolist() == [ALL_LANDSLIDE] * 5 + [ALL_BACKGROUND] * 5 + [THRESHOLD_RULE] * 5
    for name, landslide in ((ALL_LANDSLIDE, True), (ALL_BACKGROUND, False)):
        expected_scores, expected_tiles = evaluate_tiles(ConstantPrediction(landslide), val, batch_size=8,
                                                         device="cpu", model_name=name, crop_size=crop_size)
        pd.testing.assert_frame_equal(scores[scores["model"] == name].reset_index(drop=True), expected_scores,
                                      check_exact=True)
        pd.testing.assert_frame_equal(tiles[tiles["model"] == name].reset_index(drop=True), expected_tiles,
                                      check_exact=True)


def test_a_script_without_the_main_guard_gets_an_error_that_says_what_to_do(make_root, tmp_path):
    root = make_root({"Lombok": 2}, seed=7)
    script = tmp_path / "unguarded.py"
    script.write_text("from landslide_core.data.statistics import tile_statistics\n"
                      "from landslide_core.sources import get_source\n"
                      f"tile_statistics(get_source('cas').list_tiles({str(root)!r}), progress=False, workers=2)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode != 0
    assert "ConfigError" in done.stderr and "if __name__ == '__main__':" in done.stderr
