"""Per-tile confusion counts: checked against a brute-force count on real tiles, summed into the matrices and rows."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from rasterio.errors import NotGeoreferencedWarning
from torch import nn

from landslide_core.errors import ConfigError
from landslide_core.runtime.device import Runtime
from landslide_core.runtime.distributed import run_local
from landslide_core.scoring import (
    TILE_COLUMNS,
    confusion_matrices,
    counts_per_tile,
    scores_table,
    subdataset_matrices,
    tile_counts,
    tile_table,
)
from landslide_core.sources import get_source
from tests.conftest import HOKKAIDO

CAS = get_source("cas")
UAV_FOLDER = "Longxi River（UAV）"
RED_THRESHOLD = 127.5
"""Raw red value above which :class:`RedAbove` calls a pixel landslide: red ≥ 128."""
COUNTS = ["tp", "fp", "fn", "tn"]


class RedAbove(nn.Module):
    """Landslide where the raw red band exceeds :data:`RED_THRESHOLD`, from the normalised input a model gets."""

    def __init__(self, two_channels: bool = False) -> None:
        super().__init__()
        self.cut = float(CAS.normalisation.apply(np.full((3, 1, 1), RED_THRESHOLD))[0, 0, 0])
        self.two_channels = two_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logit = x[:, :1] - self.cut
        return torch.cat([-logit, logit], dim=1) if self.two_channels else logit


@pytest.fixture(scope="module")
def real_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seven real Hokkaido Iburi-Tobu pairs as SAT tiles, and three of them again as a UAV sub-dataset."""
    root = tmp_path_factory.mktemp("cas")
    names = sorted(p.name for p in (HOKKAIDO / "img").glob("*.tif"))
    for folder, chosen in ((HOKKAIDO.name, names[:7]), (UAV_FOLDER, names[7:10])):
        for part in ("img", "mask"):
            (root / folder / part).mkdir(parents=True)
            for name in chosen:
                shutil.copy(HOKKAIDO / part / name, root / folder / part / name)
    return root


@pytest.fixture(scope="module")
def records(real_root: Path) -> list:
    """The tiles, UAV and SAT interleaved, so that a batch holds both sub-datasets."""
    listed = CAS.list_tiles(real_root)
    uav, sat = [r for r in listed if r.group == "UAV"], [r for r in listed if r.group == "SAT"]
    return [r for pair in zip(sat, uav, strict=False) for r in pair] + sat[len(uav):]


def brute_force(records: list, crop_size: int | None) -> np.ndarray:
    """(TP, FP, FN, TN) of red ≥ 128 against the mask, per tile, read with rasterio and counted with numpy."""
    rows = []
    for record in records:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the published tiles carry no georeference
            with rasterio.open(record.image) as image, rasterio.open(record.mask) as mask:
                red, truth = image.read(1), mask.read(1)
        if crop_size is not None:
            top = (truth.shape[0] - crop_size) // 2
            left = (truth.shape[1] - crop_size) // 2
            red, truth = red[top:top + crop_size, left:left + crop_size], truth[top:top + crop_size, left:left + crop_size]
        assert set(np.unique(truth)) <= {0, 1}
        landslide, called = truth == 1, red >= 128
        rows.append([np.sum(landslide & called), np.sum(~landslide & called), np.sum(landslide & ~called),
                     np.sum(~landslide & ~called)])
    return np.array(rows, dtype=np.int64)


@pytest.fixture(scope="module")
def expected(records: list) -> dict[int | None, np.ndarray]:
    return {crop: brute_force(records, crop) for crop in (None, 96)}


CPU = Runtime.for_device("cpu")


@pytest.mark.real_data
@pytest.mark.parametrize("two_channels", [False, True])
@pytest.mark.parametrize("crop_size", [None, 96])
def test_counts_per_tile_equal_a_brute_force_count_on_real_tiles(records, expected, crop_size, two_channels):
    assert {r.group for r in records} == {"UAV", "SAT"} and len(records) == 10
    counts = tile_counts(RedAbove(two_channels), records, CPU, batch_size=3, num_workers=0, crop_size=crop_size)
    assert counts.dtype == np.int64 and counts.shape == (10, 4)
    np.testing.assert_array_equal(counts, expected[crop_size])
    side = 512 if crop_size is None else crop_size
    assert (counts.sum(axis=1) == side * side).all()  # the pixels actually scored
    assert (counts.sum(axis=0) > 0).all()  # the rule finds, misses and mistakes landslide pixels: all cells used


@pytest.mark.real_data
def test_the_matrices_and_the_scores_table_are_sums_of_the_tiles(records, expected):
    model = RedAbove()
    matrices = confusion_matrices(model, records, CPU, batch_size=4, num_workers=0, crop_size=96)
    truth = expected[96]
    keys = np.array([r.subdataset for r in records])
    assert list(matrices) == ["hokkaido", "longxi-uav"]  # the source's order, not the records'
    for key, matrix in matrices.items():
        assert list(matrix.counts) == truth[keys == key].sum(axis=0).tolist()
    table = tile_table(truth, records, model="red")
    assert tuple(table.columns) == TILE_COLUMNS and table["tile"].tolist() == [r.uid for r in records]
    assert table[COUNTS].to_numpy().tolist() == truth.tolist() and (table["model"] == "red").all()
    scores = scores_table(subdataset_matrices(truth, records), records, model="red")
    for _, row in scores.iterrows():
        members = CAS.groups[row["group"]]
        chosen = table[table["group"].isin(members)]
        if row["subdataset"]:
            chosen = chosen[chosen["subdataset"] == row["subdataset"]]
        assert row[COUNTS].tolist() == chosen[COUNTS].sum().tolist() and row["tiles"] == len(chosen)
    assert scores[["group", "subdataset"]].values.tolist() == [
        ["UAV", ""], ["UAV", "longxi-uav"], ["SAT", ""], ["SAT", "hokkaido"], ["UAV&SAT", ""]]


@pytest.mark.real_data
def test_counts_that_do_not_belong_to_the_records_are_refused(records):
    with pytest.raises(ConfigError, match=r"counts has shape \(9, 4\), records 10 tiles"):
        tile_table(np.zeros((9, 4), np.int64), records, model="m")
    with pytest.raises(ConfigError, match="give the \\(len\\(records\\), 4\\) array"):
        subdataset_matrices(np.zeros((10, 2), np.int64), records)


def test_counts_per_tile_refuse_a_class_other_than_0_or_1():
    prediction = torch.tensor([[[0, 1], [1, 1]], [[0, 0], [1, 0]]])
    target = torch.tensor([[[0, 1], [0, 1]], [[1, 0], [1, 0]]])
    assert counts_per_tile(prediction, target).tolist() == [[2, 1, 0, 1], [1, 0, 1, 2]]
    with pytest.raises(ValueError, match="only 0 \\(background\\) and 1 \\(landslide\\)"):
        counts_per_tile(prediction, target * 2)  # a 0/2 mask would count tile 0's landslide pixels as tile 1's


def _tile_counts_in_process(records: list) -> np.ndarray:
    """Run by each spawned process (module level, so it can be pickled by name)."""
    return tile_counts(RedAbove(), records, Runtime.for_device("cpu"), batch_size=2, num_workers=0, crop_size=96)


@pytest.mark.real_data
@pytest.mark.slow
def test_three_processes_count_every_tile_once_exactly_like_one(records, expected):
    # 10 tiles over 3 processes: 4, 3 and 3 tiles, batches of 2 leave a half batch on each.
    for counts in run_local(_tile_counts_in_process, 3, records):
        np.testing.assert_array_equal(counts, expected[96])


@pytest.mark.real_data
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; benchmarks/gpu_check.sh runs it on one")
def test_counts_on_a_gpu_under_autocast_and_channels_last_equal_the_brute_force_count(records, expected):
    runtime = Runtime.for_device("cuda")  # bf16 or fp16 autocast, channels_last, pinned batches
    counts = tile_counts(RedAbove(), records, runtime, batch_size=4, num_workers=2, crop_size=96)
    np.testing.assert_array_equal(counts, expected[96])
