"""The synthetic demo data: deterministic, in the real layout, realistic in its statistics, safe, learnable."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from landslide_core.errors import DatasetNotFoundError, PathProblemError
from landslide_core.io.raster import read_info, read_raster
from landslide_core.sources.cas import CAS, demo, find_subdataset, get_subdataset, layout, subdatasets, synthetic

SIZE_BUDGET_MB = 25
"""The default demo data ships with every book build and CI run: it must stay small."""
SMALL = {"subdatasets": ("longxi-uav", "hokkaido"), "tiles_per_subdataset": 3, "progress": False}


@pytest.fixture(scope="module")
def default_root(demo_data: Path) -> Path:
    """The default demo data (seed 0), written once for the test run (:func:`tests.conftest.demo_data`)."""
    return demo_data


@pytest.fixture(scope="module")
def default_records(default_root: Path) -> list:
    return CAS.list_tiles(default_root)


def _arrays(root: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    return [(r.uid, read_raster(r.image), read_raster(r.mask)) for r in CAS.list_tiles(root)]


def _files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*")) if p.is_file()}


def _sharpness(image: np.ndarray) -> float:
    """Mean absolute Laplacian of the grey image: high for sharp detail, low for blurred tiles."""
    grey = image.astype(np.float32).mean(axis=0)
    return float(np.abs(ndimage.laplace(grey)).mean())


# --------------------------------------------------------------------------- 1. determinism


@pytest.mark.slow
def test_same_seed_gives_identical_pixels_and_other_seed_differs(tmp_path: Path) -> None:
    first = _arrays(demo.write_demo_data(tmp_path / "a", seed=0, workers=1, **SMALL))
    again = _arrays(demo.write_demo_data(tmp_path / "b", seed=0, workers=2, **SMALL))
    other = _arrays(demo.write_demo_data(tmp_path / "c", seed=1, **SMALL))
    assert [uid for uid, _, _ in first] == [uid for uid, _, _ in again]
    for (_, image, mask), (_, image2, mask2) in zip(first, again, strict=True):
        assert image.tobytes() == image2.tobytes() and mask.tobytes() == mask2.tobytes()
    for (_, image, mask), (_, image2, mask2) in zip(first, other, strict=True):
        assert not np.array_equal(image, image2) and not np.array_equal(mask, mask2)


@pytest.mark.slow
def test_written_tiles_are_the_generated_tiles(default_records: list) -> None:
    """What is on disk is exactly generate_tile(seed, sub-dataset, index): no lossy step in between."""
    for key in ("moxitaidi-uav-1m", "palu"):
        records = [r for r in default_records if r.subdataset == key]
        for index in (0, len(records) - 1):
            tile = demo.generate_tile(0, key, index)
            assert np.array_equal(read_raster(records[index].image), tile.image)
            assert np.array_equal(read_raster(records[index].mask)[0], tile.mask)


# --------------------------------------------------------------------------- 2. layout


def test_layout_matches_the_real_dataset(default_root: Path, default_records: list) -> None:
    scan = layout.scan(default_root)
    assert scan.problems == [] and scan.ignored == []
    assert synthetic.is_synthetic(default_root)
    counts = {key: sum(r.subdataset == key for r in scan.records) for key in demo.DEFAULT_SUBDATASETS}
    assert counts == dict.fromkeys(demo.DEFAULT_SUBDATASETS, demo.DEFAULT_TILES_PER_SUBDATASET)
    assert {r.source for r in scan.records} == {synthetic.SYNTHETIC_SOURCE}
    assert {r.group for r in scan.records} == {"UAV", "SAT"}

    folders = {p.name for p in default_root.iterdir() if p.is_dir()}
    assert {"Longxi River（UAV）", "Longxi River(SAT)", "Moxitaidi (UAV-0.6m)", "palu"} <= folders
    assert {p.suffix for p in default_root.rglob("*.tif*")} == {".tif", ".tiff"}
    jiuzhai = [r.name for r in default_records if r.subdataset == "jiuzhai-0.2m"]
    assert all(re.fullmatch(r"jiuzzhaigou_0\.2m_UVA\d{4}", name) for name in jiuzhai)
    numbers = [int(name[-4:]) for name in jiuzhai]
    assert numbers == sorted(numbers) and numbers[-1] - numbers[0] >= len(numbers), "numbering has gaps"


def test_tiles_have_the_real_formats(default_records: list) -> None:
    for record in default_records:
        image, mask, label = read_raster(record.image), read_raster(record.mask), read_raster(record.label)
        assert image.shape == (3, 512, 512) and image.dtype == np.uint8
        assert mask.shape == (1, 512, 512) and mask.dtype == np.uint8
        assert set(np.unique(mask)) <= {0, 1}
        assert np.array_equal(label, np.where(mask == 1, 0, 255).repeat(3, axis=0).astype(np.uint8))
    assert not read_info(default_records[0].image).georeferenced


def test_marker_records_the_settings(default_root: Path) -> None:
    marker = json.loads((default_root / synthetic.SYNTHETIC_MARKER).read_text(encoding="utf-8"))
    assert marker["synthetic"] is True and marker["generator"] == "landslide_core.demo"
    assert marker["seed"] == 0 and marker["tile_size"] == 512
    assert marker["subdatasets"] == list(demo.DEFAULT_SUBDATASETS)
    assert marker["tiles_per_subdataset"] == demo.DEFAULT_TILES_PER_SUBDATASET
    assert "not CAS imagery" in marker["note"]
    assert not (default_root / demo.IN_PROGRESS_MARKER).exists()


def test_every_subdataset_can_be_generated_and_is_recognised(tmp_path: Path) -> None:
    keys = [sd.key for sd in subdatasets()]
    root = demo.write_demo_data(tmp_path / "all", subdatasets=keys, tiles_per_subdataset=1, progress=False)
    for key in keys:
        assert find_subdataset(demo.folder_name(key)) == get_subdataset(key)
    assert sorted(r.subdataset for r in CAS.list_tiles(root)) == sorted(keys)
    assert all(sd.group == ("SAT" if demo.style_for(sd).satellite else "UAV") for sd in subdatasets())


# --------------------------------------------------------------------------- 3. statistics


def test_landslide_share_is_like_the_real_tiles(default_records: list) -> None:
    shares = np.array([read_raster(r.mask).mean() for r in default_records])
    print(f"\nlandslide share per tile: min {shares.min():.4f}, mean {shares.mean():.3f}, max {shares.max():.3f}")
    assert shares.min() >= 0.001, "quality control dropped real tiles under 0.1 % landslide pixels"
    assert 0.05 <= shares.mean() <= 0.30
    assert shares.max() <= 0.5


def test_satellite_tiles_are_blurrier_than_uav_tiles(default_records: list) -> None:
    sharpness = {"UAV": [], "SAT": []}
    for record in default_records:
        sharpness[record.group].append(_sharpness(read_raster(record.image)))
    uav, sat = np.mean(sharpness["UAV"]), np.mean(sharpness["SAT"])
    print(f"\nmean |Laplacian|: UAV {uav:.2f}, SAT {sat:.2f}")
    assert sat < 0.6 * uav
    assert np.median(sharpness["SAT"]) < 0.6 * np.median(sharpness["UAV"])


def _bright(image: np.ndarray) -> float:
    """Share of pixels bright in all three bands, as clouds are."""
    return float((image.min(axis=0) > 170).mean())


@pytest.mark.slow
def test_some_satellite_tiles_are_cloudy_and_uav_tiles_never(default_records: list) -> None:
    cloudy = 0
    for key in demo.DEFAULT_SUBDATASETS:
        records = [r for r in default_records if r.subdataset == key]
        tiles = [demo.generate_tile(0, key, index) for index in range(len(records))]
        if get_subdataset(key).group == "UAV":
            assert all(tile.cloud_cover == 0 for tile in tiles)
            continue
        clear = max((_bright(t.image) for t in tiles if t.cloud_cover == 0), default=0.0)
        for record, tile in zip(records, tiles, strict=True):
            if tile.cloud_cover > 0.05:
                cloudy += 1
                # the cloud shows in the written pixels: brighter than any clear tile of its sub-dataset
                assert _bright(read_raster(record.image)) > max(clear, 0.3 * tile.cloud_cover)
    print(f"\n{cloudy} cloudy satellite tiles")
    assert cloudy >= 1


def test_default_data_is_small_on_disk(default_root: Path) -> None:
    size_mb = sum(p.stat().st_size for p in default_root.rglob("*") if p.is_file()) / 2**20
    print(f"\ndefault demo data: {size_mb:.1f} MB")
    assert size_mb < SIZE_BUDGET_MB


# --------------------------------------------------------------------------- 4. safety


def test_refuses_a_folder_that_is_not_demo_data(tmp_path: Path) -> None:
    precious = tmp_path / "my-cas-copy"
    (precious / "Hokkaido Iburi-Tobu" / "img").mkdir(parents=True)
    tile = precious / "Hokkaido Iburi-Tobu" / "img" / "Hokkaido0017.tif"
    tile.write_bytes(b"real data")
    for call in (demo.write_demo_data, demo.ensure_demo_data):
        with pytest.raises(PathProblemError) as caught:
            call(precious, **SMALL)
        assert caught.value.path == precious and str(precious) in str(caught.value)
    assert tile.read_bytes() == b"real data"
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(PathProblemError):
        demo.write_demo_data(tmp_path / "a-file", **SMALL)


def test_an_interrupted_run_is_detected_and_regenerated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "demo"
    write_raster = demo.write_raster
    calls = 0

    def failing_write(*args: object, **kwargs: object) -> Path:
        nonlocal calls
        calls += 1
        if calls > 4:  # Ctrl-C while the second tile is being written
            raise KeyboardInterrupt
        return write_raster(*args, **kwargs)

    monkeypatch.setattr(demo, "write_raster", failing_write)
    with pytest.raises(KeyboardInterrupt):
        demo.write_demo_data(root, **SMALL)
    monkeypatch.undo()
    assert synthetic.is_synthetic(root) and (root / demo.IN_PROGRESS_MARKER).is_file()
    with pytest.raises(DatasetNotFoundError, match="this demo data is incomplete: writing it was interrupted"):
        CAS.list_tiles(root)

    demo.ensure_demo_data(root, **SMALL)
    assert synthetic.is_synthetic(root) and not (root / demo.IN_PROGRESS_MARKER).exists()
    assert len(CAS.list_tiles(root)) == 6


def test_unchanged_settings_do_not_rewrite_and_changed_ones_regenerate_cleanly(tmp_path: Path) -> None:
    root = demo.ensure_demo_data(tmp_path / "demo", **SMALL)
    (root / "notes.txt").write_text("mine")
    before = _files(root)
    time.sleep(0.01)
    assert demo.ensure_demo_data(root, **SMALL) == root
    assert _files(root) == before

    demo.ensure_demo_data(root, **{**SMALL, "subdatasets": ("palu",), "tiles_per_subdataset": 2})
    assert [p.name for p in sorted(root.iterdir()) if p.is_dir()] == ["palu"]
    assert len(CAS.list_tiles(root)) == 2 and synthetic.synthetic_info(root)["subdatasets"] == ["palu"]
    assert (root / "notes.txt").read_text() == "mine", "only the generator's own folders are removed"


# --------------------------------------------------------------------------- 5. learnability


@pytest.mark.slow(seconds=65)
def test_a_small_unet_learns_the_demo_data_in_a_minute(default_records: list) -> None:
    """A from-scratch U-Net, Dice loss and SGD (as in “we utilized the Dice loss as our loss function” and
    “employing the SGD optimizer”) with training's poly decay (ours), 48 steps on 128 px crops, beats all-background.

    Without the decay the weights after the last step depend on the CPU's float rounding: on an AVX2 machine
    (no AVX-512) seeds 0-2 ended 80 steps at landslide IoU 0.16-0.31; with it, at 0.50-0.53. After 48 steps (with
    the decay, on this project's AVX-512 Xeon) seeds 0-2 reached IoU 0.41, 0.48 and 0.40 (mIoU 0.60-0.67, against
    all-background's 0.43); 64 px crops fell short (seed 0: mIoU 0.52 after 80 steps).
    """
    torch = pytest.importorskip("torch")
    smp = pytest.importorskip("segmentation_models_pytorch")
    from torch.utils.data import DataLoader

    from landslide_core.data.torch_dataset import TileDataset

    steps, batch_size = 48, 8
    # hold out every fourth tile of each sub-dataset
    by_subdataset: dict[str, list] = {}
    for record in default_records:
        by_subdataset.setdefault(record.subdataset, []).append(record)
    train = [r for rs in by_subdataset.values() for i, r in enumerate(rs) if i % 4 != 3]
    val = [r for rs in by_subdataset.values() for i, r in enumerate(rs) if i % 4 == 3]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the result below depends on the thread count (the order of sums): one, always
    try:
        torch.manual_seed(0)
        model = smp.Unet(encoder_name="resnet18", encoder_weights=None, classes=1)
        loss_fn = smp.losses.DiceLoss("binary")
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        schedule = torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=steps, power=0.9)
        data = TileDataset(train, crop_size=128, augment=True, seed=0)
        order = torch.Generator().manual_seed(0)
        start, step, epoch = time.perf_counter(), 0, 0
        model.train()
        while step < steps:
            data.set_epoch(epoch)
            epoch += 1
            for batch in DataLoader(data, batch_size=batch_size, shuffle=True, generator=order, drop_last=True):
                loss = loss_fn(model(data.normalisation.batch(batch["image"])), batch["mask"].unsqueeze(1).float())
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                step += 1
                if step == steps:
                    break
        train_s = time.perf_counter() - start

        model.eval()
        counts = np.zeros(4, np.int64)  # (truth, prediction): bg/bg, bg/ls, ls/bg, ls/ls
        with torch.no_grad():
            for batch in DataLoader(TileDataset(val), batch_size=4):
                predicted = (model(data.normalisation.batch(batch["image"]))[:, 0] > 0).long()
                counts += np.bincount((batch["mask"] * 2 + predicted).numpy().ravel(), minlength=4)
    finally:
        torch.set_num_threads(threads)

    tn, fp, fn, tp = counts
    iou = tp / (tp + fp + fn)
    miou = (iou + tn / (tn + fp + fn)) / 2
    background_only_miou = (tn + fp) / counts.sum() / 2  # landslide IoU 0, background IoU = background share
    print(
        f"\n{steps} SGD steps of {batch_size}×128² in {train_s:.0f} s; {len(val)} held-out tiles: "
        f"landslide IoU {iou:.3f}, mIoU {miou:.3f} (all-background mIoU {background_only_miou:.3f})"
    )
    assert iou > 0.3
    assert miou > background_only_miou + 0.1
