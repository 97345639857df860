"""The benchmarks page's panel on the real sample: its folders, settings, table and text, and a tiny run on the sample.

The leaked share of each split is checked against a count made here by comparing the pixels of the training and
validation tiles directly (no leakage audit), and every "beats" and "no result" of the text against the judgements.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio

from landslide_core.book.runner import sample_root
from landslide_core.data.splits import read_manifest
from landslide_core.eval.baselines import BASELINES, baseline_judgements, no_result
from landslide_core.experiments.grid import grid_cells
from landslide_core.scoring.intervals import BootstrapSettings, Judged, judge
from landslide_core.sections.benchmarks import GridSettings, grid_configs
from landslide_core.sections.sample_benchmark import (
    SAMPLE_RUNS,
    sample_panel,
    sample_runs_dir,
    sample_settings,
    sample_table,
    sample_text,
)
from landslide_core.sources import get_source
from tests.attribution import registry_attributions
from tests.conftest import HOKKAIDO

FAST = BootstrapSettings(resamples=2_000, seed=1)
INTERVAL = re.compile(r"^-?\d+\.\d \[-?\d+\.\d, -?\d+\.\d\]$")
PAGE = GridSettings(models=["fcn", "unet"], groups=["UAV", "SAT", "UAV&SAT"], epochs=8, batch_size=8, crop_size=64,
                    val_crop_size=128, seeds=[3, 4], pretrained=False, device="cpu", num_workers=0,
                    keep_checkpoints=False, lr=0.05, val_every=4, per_model={"fcn": {"groups": ["SAT"], "epochs": 2}})


def test_the_samples_runs_go_beside_the_grids_in_a_folder_of_their_own(tmp_path):
    grid = tmp_path / "runs" / "0123456789ab" / "random-split"
    for split in ("random", "grouped"):
        folder = sample_runs_dir(grid, split)
        assert folder == tmp_path / "runs" / "0123456789ab" / SAMPLE_RUNS / f"{split}-split"
        assert not folder.is_relative_to(grid)


def test_the_panels_settings_are_its_own_where_they_decide_the_runs_and_the_pages_elsewhere():
    settings = sample_settings(PAGE, model="smp:Unet/resnet18", epochs=20, crop_size=128, val_every=10, lr=0.01)
    assert list(settings) == ["random", "grouped"]
    for split, own in settings.items():
        assert (own.models, own.groups, own.seeds, own.split, own.per_model) == (("smp:Unet/resnet18",), ("SAT",),
                                                                                 (3,), split, ())
        config = own.train_config_of("smp:Unet/resnet18")
        assert (config.epochs, config.crop_size, config.val_crop_size, config.val_every, config.lr) == (
            20, 128, None, 10, 0.01)
        assert (config.batch_size, config.pretrained, config.device) == (8, False, "cpu")  # the page's


def _rows(model: str, split: str, counts: list[list[int]] | np.ndarray, tiles: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(np.asarray(counts, np.int64), columns=["tp", "fp", "fn", "tn"])
    return frame.assign(model=model, split=split, group="SAT", seed=0, tile=tiles, subdataset="hokkaido")


def _finds(share: float, tiles: int, false_alarms: int = 100) -> np.ndarray:
    """Counts of a model that finds ``share`` of each tile's 1,000 landslide pixels (10,000 pixels a tile)."""
    tp = round(1000 * share)
    return np.array([[tp, false_alarms, 1000 - tp, 9000 - false_alarms]] * tiles)


def _split(split: str, model: np.ndarray | list[list[int]], tiles: list[str]) -> list[pd.DataFrame]:
    n = len(tiles)
    return [_rows("U-Net", split, model, tiles), _rows("all landslide", split, [[1000, 9000, 0, 0]] * n, tiles),
            _rows("all background", split, [[0, 0, 1000, 9000]] * n, tiles),
            _rows("threshold rule", split, _finds(0.5, n, 500), tiles)]


@pytest.fixture(scope="module")
def small() -> tuple[Judged, pd.DataFrame, pd.DataFrame]:
    """Random split: U-Net finds 80 % on 8 tiles. Grouped split: U-Net predicts background everywhere (no result) on
    6 tiles, 3 of them the random split's too."""
    random_tiles = [f"hokkaido/{i}" for i in range(8)]
    grouped_tiles = [f"hokkaido/{i}" for i in range(5, 11)]
    counts = pd.concat([*_split("random", _finds(0.8, 8), random_tiles),
                        *_split("grouped", [[0, 0, 1000, 9000]] * 6, grouped_tiles)], ignore_index=True)
    leakage = pd.DataFrame({"val_tiles": [8, 6], "val_tiles_sharing": [2, 0], "val_pixels": [80_000, 60_000],
                            "val_pixels_in_train": [8_000, 0], "val_pixels_in_train_share": [0.1, 0.0]},
                           index=pd.Index(["random", "grouped"], name="split"))
    return judge(counts, within=["split"], settings=FAST), counts, leakage


def test_the_table_has_the_model_and_the_three_baselines_per_split_with_intervals(small):
    judged, counts, leakage = small
    table = sample_table(judged, counts, leakage)
    assert list(table.index) == [(split, name) for split in ("random", "grouped") for name in ("U-Net", *BASELINES)]
    assert table.index.names == ["Split", "Configuration"]
    assert all(INTERVAL.match(cell) for cell in table[["IoU (%)", "mIoU (%)"]].to_numpy().ravel())
    assert table.loc[("random", "U-Net"), "IoU (%)"].startswith("72.7 ")  # 800 / (800 + 100 + 200)
    assert list(table["val tiles"]) == [8] * 4 + [6] * 4
    assert list(table["val pixels also in training (%)"]) == [10.0] * 4 + [0.0] * 4


def _split_lines(text: str) -> dict[str, str]:
    return {match.group(1): match.group(0) for match in re.finditer(r"^- \*\*(\w+) split\*\*.*$", text, re.MULTILINE)}


def assert_consistent(text: str, judged: Judged) -> None:
    """Every model's line says "no result" exactly where :func:`no_result` does, and names after "beats" exactly
    the baselines :func:`baseline_judgements` says it beats."""
    lines = _split_lines(text)
    verdicts, flat = baseline_judgements(judged), no_result(judged)
    assert set(lines) == set(verdicts["split"])
    for split, line in lines.items():
        own = verdicts[verdicts["split"] == split]
        assert ("**no result**" in line) == bool(flat.loc[flat["split"] == split, "no result"].any()), line
        beaten = line.split("it beats ", 1)[1].split(" but not ", 1)[0].split(";", 1)[0]
        for _, row in own.iterrows():
            assert (row["baseline"] in beaten) == bool(row["beats"]), (row["baseline"], line)
            # A baseline is said to beat the model exactly where both of the model's intervals lie below 0.
            below = row["Δ mIoU high"] < 0 and row["Δ IoU high"] < 0
            assert (f"{row['baseline']} beats it (Δ landslide IoU" in line) == below, (row["baseline"], line)
        if not own["beats"].any():
            assert "it beats no baseline" in line


def test_the_text_says_beats_and_no_result_as_judged_and_what_the_tiles_cannot_show(small):
    judged, counts, leakage = small
    text = sample_text(judged, counts, leakage, tiles=24)
    assert_consistent(text, judged)
    lines = _split_lines(text)
    assert "it beats all landslide, all background and threshold rule." in lines["random"]
    assert "**no result**" in lines["grouped"] and "it beats no baseline" in lines["grouped"]
    assert "threshold rule beats it (Δ landslide IoU +" in lines["grouped"]
    assert "8 validation tiles, 2 of them sharing pixels with a training tile (10.0 % of the validation pixels" in (
        lines["random"])
    assert "**What 24 tiles can and cannot show.** These are 24 real tiles of one sub-dataset, Hokkaido Iburi-Tobu." in (
        text)
    assert "validate on 8 (random) and 6 (grouped) tiles, 3 of them in both" in text
    assert "not a paired comparison" in text
    assert "10.0 % of the random split's validation pixels and 0.0 % of the grouped split's" in text
    assert "under the random split the model is partly scored on pixels that are also in its training tiles" in text
    assert "cannot rank models" in text
    assert "say nothing about the CAS dataset's other 15 sub-datasets" in text
    assert registry_attributions(text) == []


# --- a tiny run on the shipped sample -------------------------------------------------------------------------------

def _pixels(path: Path) -> np.ndarray:
    """An image's bands packed into one integer per pixel, read with rasterio (not through the package)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path) as image:
            bands = image.read().astype(np.uint64)
    packed = np.zeros(bands.shape[1:], np.uint64)
    for band in bands:
        packed = packed * np.uint64(256) + band
    return packed


WINDOW = 16


def _windows(packed: np.ndarray) -> np.ndarray:
    """A hash of every horizontal run of :data:`WINDOW` pixels, by its left pixel; 0 where the run is one colour."""
    width = packed.shape[1] - WINDOW + 1
    hashes = np.zeros((packed.shape[0], width), np.uint64)
    with np.errstate(over="ignore"):
        for k in range(WINDOW):
            hashes = hashes * np.uint64(1_000_003) + packed[:, k:k + width] + np.uint64(1)
    flat = np.ones(hashes.shape, bool)
    for k in range(1, WINDOW):
        flat &= packed[:, k:k + width] == packed[:, :width]
    hashes[flat] = 0
    return hashes


def _lined_up(a: np.ndarray, b: np.ndarray, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray] | None:
    """With b's top-left at row ``dy``, column ``dx`` of a: the overlap on a and on b where every pixel of it is the
    same in both, else ``None``."""
    top, left = max(0, dy), max(0, dx)
    bottom, right = min(a.shape[0], dy + b.shape[0]), min(a.shape[1], dx + b.shape[1])
    if bottom <= top or right <= left or not (a[top:bottom, left:right]
                                              == b[top - dy:bottom - dy, left - dx:right - dx]).all():
        return None
    on_a, on_b = np.zeros(a.shape, bool), np.zeros(b.shape, bool)
    on_a[top:bottom, left:right] = on_b[top - dy:bottom - dy, left - dx:right - dx] = True
    return on_a, on_b


@pytest.fixture(scope="module")
def brute_force_overlaps() -> dict[tuple[str, str], np.ndarray]:
    """(uid of a, uid of b) → the pixels of a that b holds, for every ordered pair of sample tiles sharing any.

    Every run of :data:`WINDOW` pixels found in two tiles lines them up; an alignment counts where the two tiles
    are identical over their whole overlap.
    """
    records = get_source("cas").list_tiles(HOKKAIDO.parent)
    uids = [r.uid for r in records]
    pixels = {r.uid: _pixels(r.image) for r in records}
    hashes, tiles, where = [], [], []
    for t, uid in enumerate(uids):
        windows = _windows(pixels[uid])
        unique, first = np.unique(windows.ravel(), return_index=True)  # each run once per tile
        hashes.append(unique)
        tiles.append(np.full(len(unique), t))
        where.append(np.stack(np.unravel_index(first, windows.shape), axis=1))
    hashes, tiles, where = np.concatenate(hashes), np.concatenate(tiles), np.concatenate(where)
    order = np.argsort(hashes, kind="stable")
    same = (hashes[order][1:] == hashes[order][:-1]) & (hashes[order][1:] != 0)
    i, j = order[:-1][same], order[1:][same]  # one run of pixels in two tiles
    candidates = np.unique(np.column_stack([tiles[i], tiles[j], where[i] - where[j]]), axis=0)
    found = {}
    for ta, tb, dy, dx in candidates.tolist():  # b's top-left at (dy, dx) on a
        a, b = uids[ta], uids[tb]
        lined = _lined_up(pixels[a], pixels[b], dy, dx)
        if lined is not None:
            found[a, b] = found.get((a, b), False) | lined[0]
            found[b, a] = found.get((b, a), False) | lined[1]
    return found


def brute_force_share(manifest: Path, overlaps: dict[tuple[str, str], np.ndarray]) -> float:
    """The share of a split's validation pixels that one of its training tiles holds, from the pixels alone."""
    records = read_manifest(manifest, HOKKAIDO.parent)
    train = {r.uid for r in records if r.split == "train"}
    val = [r.uid for r in records if r.split == "val"]
    seen = total = 0
    for uid in val:
        shape = _pixels(next(r.image for r in records if r.uid == uid)).shape
        mask = np.zeros(shape, bool)
        for (a, b), pixels in overlaps.items():
            if a == uid and b in train:
                mask |= pixels
        seen, total = seen + int(mask.sum()), total + mask.size
    return seen / total


def test_the_brute_force_count_finds_the_pairs_the_audit_reports(brute_force_overlaps):
    pairs = {tuple(sorted((a.split("/")[1], b.split("/")[1]))) for a, b in brute_force_overlaps}
    assert pairs == {("10301", "10340"), ("10303", "10340"), ("10509", "10555"), ("10784", "10785")}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    """The panel on the shipped sample: one epoch of 32-px crops per split, few resamples."""
    grid = tmp_path_factory.mktemp("sample") / "runs" / "code" / "random-split"
    settings = sample_settings(PAGE, model="smp:Unet/resnet18", epochs=1, crop_size=32, val_every=1, lr=0.01)
    return grid, settings, sample_panel(sample_root(), grid, settings, BootstrapSettings(resamples=500, seed=0))


@pytest.mark.slow
def test_a_tiny_run_on_the_sample_gives_four_configurations_on_each_split_with_intervals(tiny):
    grid, settings, panel = tiny
    table = panel.table()
    model = "Unet (resnet18)"
    assert list(table.index) == [(split, name) for split in ("random", "grouped") for name in (model, *BASELINES)]
    assert all(INTERVAL.match(cell) for cell in table[["IoU (%)", "mIoU (%)"]].to_numpy().ravel())
    for split in ("random", "grouped"):
        manifest = sample_runs_dir(grid, split) / "split-seed3.csv"
        val = [r for r in read_manifest(manifest, HOKKAIDO.parent) if r.split == "val"]
        assert (table.loc[split, "val tiles"] == len(val)).all()
    judgements = panel.judgements()
    assert len(judgements) == 6 and set(judgements["beats"]) <= {"yes", "no"}
    assert panel.tiles == 24 and len(panel.runs) == 2


def test_each_splits_leaked_share_is_the_brute_force_count(tiny, brute_force_overlaps):
    grid, _, panel = tiny
    for split in ("random", "grouped"):
        expected = brute_force_share(sample_runs_dir(grid, split) / "split-seed3.csv", brute_force_overlaps)
        assert panel.leakage.loc[split, "val_pixels_in_train_share"] == pytest.approx(expected, abs=1e-12)
        assert panel.table().loc[(split, "all landslide"), "val pixels also in training (%)"] == pytest.approx(
            100 * expected)
    assert panel.leakage.loc["random", "val_pixels_in_train_share"] > 0  # the random split leaks
    assert panel.leakage.loc["grouped", "val_pixels_in_train_share"] == 0  # the grouped one does not


def test_the_tiny_runs_are_their_own_and_the_text_agrees_with_their_judgements(tiny):
    grid, settings, panel = tiny
    for run in panel.runs:
        split = run.config["split"]
        assert run.folder.parent == sample_runs_dir(grid, split)
        assert (run.config["epochs"], run.config["crop_size"], run.config["val_crop_size"], run.config["lr"],
                run.config["seed"], run.config["group"]) == (1, 32, None, 0.01, 3, "SAT")
        assert run.checkpoint is None  # the page keeps only the checkpoints its examples show
    assert_consistent(panel.text(), panel.judged)
    assert registry_attributions(panel.text()) == []


@pytest.mark.slow
def test_the_sample_runs_are_read_back_and_other_settings_name_other_folders(tiny):
    grid, settings, panel = tiny
    finished = {run.folder: (run.folder / "scores.csv").stat().st_mtime_ns for run in panel.runs}
    again = sample_panel(sample_root(), grid, settings, BootstrapSettings(resamples=500, seed=0))
    assert {run.folder: (run.folder / "scores.csv").stat().st_mtime_ns for run in again.runs} == finished
    other = sample_settings(PAGE, model="smp:Unet/resnet18", epochs=1, crop_size=32, val_every=1, lr=0.02)
    for split, own in other.items():
        (cell,) = grid_cells(sample_runs_dir(grid, split), grid_configs(own), sample_root(), split=split)
        assert cell.folder not in finished
