"""Landslide4Sense source on HDF5 patches written here in the original release's format.

``TrainData/img/image_N.h5`` holds dataset ``img`` (128×128×14 floats, standardised,
NaN in places) and ``TrainData/mask/mask_N.h5`` dataset ``mask`` (128×128 uint8 0/1).
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from landslide_core.data.splits import make_split
from landslide_core.data.torch_dataset import TileDataset
from landslide_core.data.validate import validate_root
from landslide_core.errors import (
    DatasetNotFoundError,
    ImageFormatError,
    MaskValueError,
    MissingPartnerError,
    NoDirectDownloadError,
    UnreadableTileError,
)
from landslide_core.sources import IMAGENET, Landslide4SenseSource, get_source
from landslide_core.sources.landslide4sense import RGB_BANDS, write_stand_in
from landslide_core.sources.standardize import Stretch, sample_indices

SQUARE = (slice(20, 60), slice(50, 90))


def _h5(path: Path, key: str, data: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset(key, data=data)
    return path


def _img(path: Path) -> np.ndarray:
    with h5py.File(path, "r") as f:
        return f["img"][()]


def _patch(rng: np.random.Generator, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Standardised floats (negative too) whose B4/B3/B2 are high on a landslide square; other bands are wild."""
    image = rng.normal(0, 1, (size, size, 14)).astype(np.float32)
    image[..., list(RGB_BANDS)] = rng.normal(-0.5, 0.3, (size, size, 3)).astype(np.float32)
    mask = np.zeros((size, size), np.uint8)
    if size == 128:
        image[SQUARE[0], SQUARE[1], 1:4] += 2.0
        mask[SQUARE] = 1
    image[..., [0, 4, 12, 13]] *= 50  # bands the RGB must not depend on
    return image, mask


def _write(root: Path, n: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for number in range(1, n + 1):
        image, mask = _patch(rng)
        _h5(root / "TrainData" / "img" / f"image_{number}.h5", "img", image)
        _h5(root / "TrainData" / "mask" / f"mask_{number}.h5", "mask", mask)
    return root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return _write(tmp_path / "l4s", 5)


def test_scan_pairs_patches_by_number_and_ignores_unlabelled_folders(root: Path) -> None:
    _h5(root / "ValidData" / "img" / "image_1.h5", "img", _patch(np.random.default_rng(9))[0])
    (root / "TrainData" / "mask" / "mask_3.h5").unlink()
    _h5(root / "TrainData" / "mask" / "mask_9.h5", "mask", np.zeros((128, 128), np.uint8))
    found = Landslide4SenseSource().scan(root)
    assert [r.name for r in found.records] == ["image_1", "image_2", "image_4", "image_5"]
    assert all(r.mask == root / "TrainData" / "mask" / f"mask_{r.name[6:]}.h5" for r in found.records)
    assert {r.split for r in found.records} == {None} and {r.source for r in found.records} == {"Landslide4Sense"}
    assert {r.subdataset for r in found.records} == {"landslide4sense"}
    assert [(type(p), p.path.name) for p in found.problems] == [
        (MissingPartnerError, "image_3.h5"), (MissingPartnerError, "mask_9.h5")
    ]
    assert "mask_3.h5" in str(found.problems[0]) and "image_9.h5" in str(found.problems[1])


def test_missing_root_or_layout_names_the_layout_and_where_to_download(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="does not exist") as caught:
        Landslide4SenseSource().scan(tmp_path / "nowhere")
    assert caught.value.path == tmp_path / "nowhere"
    _h5(tmp_path / "flat" / "image_1.h5", "img", _patch(np.random.default_rng(0))[0])
    with pytest.raises(DatasetNotFoundError) as caught:
        Landslide4SenseSource().scan(tmp_path / "flat")
    message = str(caught.value)
    assert "TrainData/img/image_N.h5" in message and "github.com/iarai/Landslide4Sense-2022" in message
    with pytest.raises(NoDirectDownloadError, match="Landslide4Sense-2022"):
        Landslide4SenseSource().download([], tmp_path)


@pytest.mark.parametrize(
    ("key", "data", "error", "words"),
    [
        ("image", np.zeros((128, 128, 14), np.float32), ImageFormatError, "has no HDF5 dataset 'img'"),
        ("img", np.zeros((128, 128, 13), np.float32), ImageFormatError, r"shape \(128, 128, 13\)"),
        ("img", np.zeros((128, 128, 14), np.int16), ImageFormatError, "int16 array"),
        ("img", np.zeros((64, 64, 14), np.float32), ImageFormatError, r"shape \(64, 64, 14\)"),
    ],
)
def test_a_first_image_in_another_format_is_refused(root: Path, key, data, error, words) -> None:
    path = _h5(root / "TrainData" / "img" / "image_1.h5", key, data)
    with pytest.raises(error, match=words) as caught:
        Landslide4SenseSource().scan(root)
    assert caught.value.path == path


def test_a_first_mask_in_another_format_or_an_unreadable_file_is_refused(root: Path) -> None:
    mask = root / "TrainData" / "mask" / "mask_1.h5"
    _h5(mask, "mask", np.full((128, 128), 255, np.uint8))
    with pytest.raises(MaskValueError, match="values outside") as caught:
        Landslide4SenseSource().scan(root)
    assert caught.value.path == mask
    _h5(mask, "label", np.zeros((128, 128), np.uint8))
    with pytest.raises(ImageFormatError, match="has no HDF5 dataset 'mask'"):
        Landslide4SenseSource().scan(root)
    mask.write_bytes(b"not hdf5")
    with pytest.raises(UnreadableTileError, match="h5py cannot read") as caught:
        Landslide4SenseSource().scan(root)
    assert caught.value.path == mask


def test_read_tile_stretches_b4_b3_b2_and_keeps_the_mask(root: Path) -> None:
    source = Landslide4SenseSource()
    records = source.list_tiles(root)
    images = [_img(r.image) for r in records]
    expected = Stretch.from_samples([np.moveaxis(i[..., [3, 2, 1]], -1, 0) for i in images], (2.0, 98.0))
    assert source.stretch(root) == expected and expected.low[0] < 0  # standardised values go negative

    raw, mask = source.load(records[2])
    np.testing.assert_array_equal(raw, expected.apply(np.moveaxis(images[2][..., [3, 2, 1]], -1, 0)))
    image, big_mask = source.read_tile(records[2])
    assert image.shape == (3, 512, 512) and image.dtype == np.uint8 and big_mask.shape == (1, 512, 512)
    truth = np.zeros((512, 512), np.uint8)
    truth[80:240, 200:360] = 1
    np.testing.assert_array_equal(big_mask[0], truth)
    assert image[:, 100:220, 220:340].mean() > image[:, 300:, :].mean() + 100

    with h5py.File(records[2].image, "r+") as f:  # other bands change; the picture does not
        f["img"][..., 0] = 1e6
    np.testing.assert_array_equal(source.load(records[2])[0], raw)


def test_the_stretch_uses_a_seeded_sample_of_up_to_256_patches(tmp_path: Path) -> None:
    root = _write(tmp_path / "many", 1)
    rng = np.random.default_rng(3)
    for number in range(2, 301):
        _h5(root / "TrainData" / "img" / f"image_{number}.h5", "img", rng.normal(number / 100, 1, (4, 4, 14)))
    paths = sorted((root / "TrainData" / "img").glob("image_*.h5"), key=lambda p: p.name)
    bands = [np.moveaxis(_img(p)[..., [3, 2, 1]], -1, 0) for p in paths]
    chosen = sample_indices(300, 256, seed=0)
    source = Landslide4SenseSource()
    assert source.stretch(root) == Stretch.from_samples([bands[i] for i in chosen])
    assert source.stretch(root) != Stretch.from_samples(bands)
    assert Landslide4SenseSource().stretch(root) == source.stretch(root)


def test_nan_pixels_become_black_and_a_nan_mask_is_refused(root: Path) -> None:
    source = Landslide4SenseSource()
    path = root / "TrainData" / "img" / "image_2.h5"
    image, mask = _patch(np.random.default_rng(5))
    image[0:16, 0:16, 3] = np.nan  # red only
    image[100:110, 100:110, :] = np.nan
    _h5(path, "img", image)
    records = source.list_tiles(root)
    rgb = source.load(records[1])[0]
    assert (rgb[0, :16, :16] == 0).all() and (rgb[1:, :16, :16] > 0).any()
    assert (rgb[:, 100:110, 100:110] == 0).all()
    _h5(records[1].mask, "mask", np.where(mask == 1, np.nan, 0.0).astype(np.float32))
    with pytest.raises(MaskValueError, match="nan") as caught:
        source.read_tile(records[1])
    assert caught.value.path == records[1].mask


def test_an_unreadable_sampled_patch_is_named(root: Path) -> None:
    broken = root / "TrainData" / "img" / "image_4.h5"
    broken.write_bytes(broken.read_bytes()[:2000])  # truncated
    source = Landslide4SenseSource()
    records = source.list_tiles(root)  # the first pair is fine
    with pytest.raises(UnreadableTileError) as caught:
        source.read_tile(records[0])
    assert caught.value.path == broken


def test_spec_round_trip_and_torch_dataset(root: Path) -> None:
    source = get_source("landslide4sense")
    assert source.spec() == {"name": "landslide4sense"}
    again = get_source(json.loads(json.dumps(source.spec())))
    assert isinstance(again, Landslide4SenseSource) and again.options == {}
    records = make_split(source.list_tiles(root), seed=0)
    assert sorted(r.split for r in records) == ["train"] * 3 + ["val"] * 2  # no split of its own: drawn
    item = TileDataset(records, source=again)[0]
    image, mask = source.read_tile(records[0])
    torch.testing.assert_close(IMAGENET.batch(item["image"][None])[0], torch.from_numpy(IMAGENET.apply(image)))
    assert item["image"].shape == (3, 512, 512) and item["mask"].dtype == torch.int64
    assert torch.equal(item["mask"], torch.from_numpy(mask[0].astype(np.int64)))


def test_stand_in_is_in_the_official_format_and_validates(tmp_path: Path) -> None:
    root = write_stand_in(tmp_path / "stand-in", train=6, valid=2)
    assert sorted(p.name for p in (root / "ValidData" / "img").iterdir()) == ["image_1.h5", "image_2.h5"]
    assert not (root / "ValidData" / "mask").exists()
    with h5py.File(root / "TrainData" / "img" / "image_2.h5", "r") as f:
        assert list(f) == ["img"] and f["img"].shape == (128, 128, 14) and f["img"].dtype == np.float32
        image = f["img"][()]
    assert np.isnan(image).any() and np.nanmin(image) < 0 < np.nanmax(image)
    assert not np.isnan(_img(root / "TrainData" / "img" / "image_1.h5")).any()
    with h5py.File(root / "TrainData" / "mask" / "mask_2.h5", "r") as f:
        assert list(f) == ["mask"] and f["mask"].shape == (128, 128) and f["mask"].dtype == np.uint8
        assert set(np.unique(f["mask"][()]).tolist()) <= {0, 1}
    again = write_stand_in(tmp_path / "again", train=6, valid=2)
    assert np.array_equal(_img(again / "TrainData" / "img" / "image_3.h5"), _img(root / "TrainData" / "img" / "image_3.h5"))

    source = Landslide4SenseSource()
    assert source.is_synthetic(root) and source.data_label(root) == "Landslide4Sense stand-in, synthetic"
    records = source.list_tiles(root)
    assert len(records) == 6 and {r.source for r in records} == {"Landslide4Sense stand-in, synthetic"}
    tiles = [source.read_tile(r) for r in records]
    on_scar = np.mean([i[:, m[0] == 1].mean() for i, m in tiles if m.any()])
    assert on_scar > np.mean([i[:, m[0] == 0].mean() for i, m in tiles]) + 20  # landslides show in the RGB
    report = validate_root(root, source=source, progress=False)
    assert report.ok and report.tiles_checked == 6

    _h5(root / "TrainData" / "mask" / "mask_4.h5", "mask", np.full((128, 128), 2, np.uint8))
    problems = validate_root(root, source=source, progress=False).problems
    assert [(type(p), p.path) for p in problems] == [(MaskValueError, root / "TrainData" / "mask" / "mask_4.h5")]
