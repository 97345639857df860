"""The Bijie source on files in the download's layout: PNG pairs, 0/255 masks, optional non-landslide samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from landslide_core.data.splits import make_split, read_manifest, write_manifest
from landslide_core.data.torch_dataset import TileDataset
from landslide_core.data.validate import validate_root
from landslide_core.errors import (
    DatasetNotFoundError,
    ImageFormatError,
    MaskValueError,
    MissingPartnerError,
    NoDirectDownloadError,
)
from landslide_core.io.raster import read_raster, write_raster
from landslide_core.sources import IMAGENET, BijieSource, get_source
from landslide_core.sources.bijie import write_stand_in
from landslide_core.sources.standardize import resize_mask

HOMEPAGE = "http://gpcv.whu.edu.cn/data/Bijie_pages.html"


def write_png(path: Path, array: np.ndarray) -> Path:
    return write_raster(path, array, driver="PNG")


@pytest.fixture
def bijie(tmp_path: Path) -> Path:
    """``Bijie-landslide-dataset`` with three landslide pairs (masks 0/255), two non-landslide images, DEM and polygons."""
    base = tmp_path / "Bijie-landslide-dataset"
    rng = np.random.default_rng(0)
    for stem, (h, w) in {"df001": (200, 260), "df002": (640, 480), "df003": (150, 150)}.items():
        mask = np.zeros((h, w), np.uint8)
        mask[h // 4: h // 2, w // 3: w // 2] = 255
        image = rng.integers(0, 100, (3, h, w), dtype=np.uint8)
        image[0][mask > 0] = 250
        write_png(base / "landslide" / "image" / f"{stem}.png", image)
        write_png(base / "landslide" / "mask" / f"{stem}.png", mask)
        write_png(base / "landslide" / "dem" / f"{stem}.png", image[1])
        (base / "landslide" / "polygon_coordinate").mkdir(exist_ok=True)
        (base / "landslide" / "polygon_coordinate" / f"{stem}.txt").write_text("0 0\n1 1\n")
    for stem in ("df001", "n002"):
        write_png(base / "non-landslide" / "image" / f"{stem}.png", rng.integers(0, 255, (3, 300, 200), dtype=np.uint8))
        write_png(base / "non-landslide" / "dem" / f"{stem}.png", np.zeros((300, 200), np.uint8))
    return tmp_path


def test_landslide_samples_only_by_default_at_the_root_or_one_level_down(bijie):
    for root in (bijie, bijie / "Bijie-landslide-dataset"):
        found = BijieSource().scan(root)
        assert [r.name for r in found.records] == ["df001", "df002", "df003"]
        assert not found.problems and not found.ignored
        record = found.records[1]
        base = bijie / "Bijie-landslide-dataset" / "landslide"
        assert (record.image, record.mask) == (base / "image" / "df002.png", base / "mask" / "df002.png")
        assert (record.subdataset, record.group, record.source, record.split) == ("bijie", "all", "Bijie", None)


def test_tiles_are_512_with_the_landslide_where_the_mask_is_255(bijie):
    source = BijieSource()
    for record in source.scan(bijie).records:
        image, mask = source.read_tile(record)
        assert image.shape == (3, 512, 512) and image.dtype == np.uint8 and mask.shape == (1, 512, 512)
        assert set(np.unique(mask)) == {0, 1}
        assert np.array_equal(mask, resize_mask((read_raster(record.mask) == 255).astype(np.uint8), 512))
        assert image[0][mask[0] == 1].mean() > 200 > 100 > image[0][mask[0] == 0].mean()  # edges blend when resized


def test_non_landslide_samples_have_all_background_masks_and_survive_a_manifest(bijie):
    source = BijieSource(non_landslide=True)
    records = source.scan(bijie).records
    assert [r.name for r in records] == ["df001", "df002", "df003", "non-landslide_df001", "non-landslide_n002"]
    extra = records[3]
    assert extra.image == extra.mask == bijie / "Bijie-landslide-dataset" / "non-landslide" / "image" / "df001.png"
    image, mask = source.read_tile(extra)
    assert image.shape == (3, 512, 512) and image.any() and mask.shape == (1, 512, 512) and not mask.any()
    split = make_split(records, seed=0)
    back = read_manifest(write_manifest(split, bijie / "split.csv", root=bijie, seed=0, val_fraction=0.3), bijie)
    for record in back:
        original = next(r for r in split if r.name == record.name)
        assert np.array_equal(source.read_tile(record)[1], source.read_tile(original)[1])
    assert not source.read_tile(next(r for r in back if r.name == "non-landslide_n002"))[1].any()


def test_masks_that_are_not_0_255_single_band_fail_with_what_was_found(bijie):
    mask = bijie / "Bijie-landslide-dataset" / "landslide" / "mask" / "df001.png"
    write_png(mask, (read_raster(mask) // 255).astype(np.uint8))  # 0/1
    with pytest.raises(MaskValueError, match=r"values 0 \d+ %, 1 \d+ %; Bijie masks hold only 0") as error:
        BijieSource().scan(bijie)
    assert error.value.path == mask
    write_png(mask, np.zeros((3, 200, 260), np.uint8))
    with pytest.raises(ImageFormatError, match="3 bands; Bijie masks are single-band") as error:
        BijieSource().scan(bijie)
    assert error.value.path == mask


def test_missing_root_wrong_layout_and_lone_files(bijie, tmp_path):
    for root in (tmp_path / "nowhere", bijie / "Bijie-landslide-dataset" / "landslide"):
        with pytest.raises(DatasetNotFoundError, match=HOMEPAGE) as error:
            BijieSource().scan(root)
        assert error.value.path == root and "Bijie-landslide-dataset/landslide/{image,mask}" in str(error.value)
    (bijie / "Bijie-landslide-dataset" / "landslide" / "mask" / "df002.png").unlink()
    found = BijieSource().scan(bijie)
    assert [r.name for r in found.records] == ["df001", "df003"]
    assert [(type(p), p.path.name) for p in found.problems] == [(MissingPartnerError, "df002.png")]
    for path in (bijie / "Bijie-landslide-dataset" / "non-landslide" / "image").iterdir():
        path.unlink()
    (bijie / "Bijie-landslide-dataset" / "non-landslide" / "image").rmdir()
    with pytest.raises(DatasetNotFoundError, match="non_landslide=True"):
        BijieSource(non_landslide=True).scan(bijie)


def test_spec_round_trip_download_and_layout():
    source = BijieSource(non_landslide=True)
    again = get_source(source.spec())
    assert isinstance(again, BijieSource) and again.non_landslide and again.spec() == {"name": "bijie",
                                                                                        "non_landslide": True}
    assert get_source("bijie").spec() == {"name": "bijie", "non_landslide": False}
    with pytest.raises(NoDirectDownloadError, match=HOMEPAGE):
        source.download([], "/tmp/bijie")


@pytest.mark.slow
def test_stand_in_in_the_download_format_validates_and_feeds_the_torch_dataset(tmp_path):
    root = write_stand_in(tmp_path / "bijie", landslide=6, non_landslide=2)
    again = write_stand_in(tmp_path / "again", landslide=6, non_landslide=2)
    base = root / "Bijie-landslide-dataset"
    images = sorted((base / "landslide" / "image").iterdir())
    assert [p.name for p in images] == [f"000{n}.png" for n in range(1, 7)]
    assert all(p.read_bytes() == (again / p.relative_to(root)).read_bytes() for p in images)
    sizes = [read_raster(p).shape for p in images]
    assert len(set(sizes)) == 6 and all(s[0] == 3 and 150 <= min(s[1:]) and max(s[1:]) <= 600 for s in sizes)
    assert sum(max(s[1:]) < 512 for s in sizes) >= 3
    masks = [read_raster(p) for p in sorted((base / "landslide" / "mask").iterdir())]
    assert all(m.shape[0] == 1 and m.dtype == np.uint8 and set(np.unique(m)) == {0, 255} for m in masks)
    assert len(list((base / "landslide" / "dem").iterdir())) == 1
    assert len(list((base / "landslide" / "polygon_coordinate").iterdir())) == 1
    assert len(list((base / "non-landslide" / "dem").iterdir())) == 1
    source = BijieSource(non_landslide=True)
    assert source.is_synthetic(root) and source.data_label(root) == "Bijie stand-in, synthetic"
    records = source.scan(root).records
    assert len(records) == 8 and {r.source for r in records} == {"Bijie stand-in, synthetic"}
    report = validate_root(root, source=source, progress=False)
    assert report.ok and report.tiles_checked == 8
    broken = write_png(base / "landslide" / "mask" / "0004.png", np.full(masks[3].shape[1:], 7, np.uint8))
    report = validate_root(root, source=source, progress=False)
    assert [(type(p), p.path) for p in report.problems] == [(MaskValueError, broken)]
    item = TileDataset(records, source="bijie")[0]
    image, mask = source.read_tile(records[0])
    assert item["image"].dtype == torch.uint8 and torch.equal(item["image"], torch.from_numpy(image))
    assert torch.equal(IMAGENET.batch(item["image"][None])[0], torch.from_numpy(IMAGENET.apply(image)))
    assert torch.equal(item["mask"], torch.from_numpy(mask[0].astype(np.int64))) and item["mask"].any()
