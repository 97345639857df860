"""The Sichuan source on files in the download's layout: LandslideNNN.tif with LandslideLabelNNN.tif in one folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from landslide_core.data.torch_dataset import TileDataset
from landslide_core.data.validate import validate_root
from landslide_core.errors import (
    DatasetNotFoundError,
    ImageFormatError,
    MaskValueError,
    MissingPartnerError,
    NoDirectDownloadError,
)
from landslide_core.io.raster import read_info, read_raster, write_raster
from landslide_core.sources import IMAGENET, SichuanSource, get_source
from landslide_core.sources.sichuan import write_stand_in
from landslide_core.sources.standardize import resize_mask

DOI = "https://doi.org/10.11922/sciencedb.j00001.00222"


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_stand_in(tmp_path_factory.mktemp("sichuan"), count=2)


def write_pair(folder: Path, n: int, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A small image (red where the label is not background) and the label as given."""
    landslide = label.any(axis=0)
    image = np.full((3, *label.shape[1:]), 40, np.uint8)
    image[0][landslide] = 230
    write_raster(folder / f"Landslide{n:03d}.tif", image)
    write_raster(folder / f"LandslideLabel{n:03d}.tif", label)
    return image, landslide.astype(np.uint8)


def square(value: int | tuple[int, ...], bands: int = 1, size: int = 96) -> np.ndarray:
    label = np.zeros((bands, size, size), np.uint8)
    label[:, 20:50, 30:70] = np.asarray(value, np.uint8).reshape(-1, 1, 1)
    return label


def test_stand_in_in_the_download_format(stand_in):
    folder = stand_in / "landslide"
    assert sorted(p.name for p in folder.iterdir()) == [
        "Landslide001.tif", "Landslide002.tif", "LandslideLabel001.tif", "LandslideLabel002.tif"]
    image, label = read_info(folder / "Landslide001.tif"), read_info(folder / "LandslideLabel001.tif")
    assert (image.width, image.height, image.count, image.dtype, image.georeferenced) == (1181, 1181, 3, "uint8", True)
    assert (label.width, label.height, label.count, label.dtype) == (1181, 1181, 1, "uint8")
    assert set(np.unique(read_raster(folder / "LandslideLabel001.tif"))) == {0, 255}
    again = write_stand_in(stand_in.parent / "again", count=2)
    assert (folder / "Landslide002.tif").read_bytes() == (again / "landslide" / "Landslide002.tif").read_bytes()


def test_the_folder_is_found_at_the_root_or_one_level_down_and_tiles_are_standard(stand_in):
    source = SichuanSource()
    for root in (stand_in, stand_in / "landslide"):
        found = source.scan(root)
        assert [(r.name, r.image.name, r.mask.name) for r in found.records] == [
            ("001", "Landslide001.tif", "LandslideLabel001.tif"), ("002", "Landslide002.tif", "LandslideLabel002.tif")]
        assert not found.problems and not found.ignored and found.folders == [stand_in / "landslide"]
    record = found.records[0]
    assert (record.subdataset, record.source) == ("sichuan", "Sichuan and surrounding areas stand-in, synthetic")
    image, mask = source.read_tile(record)
    assert image.shape == (3, 512, 512) and image.dtype == np.uint8 and set(np.unique(mask)) == {0, 1}
    assert np.array_equal(mask, resize_mask((read_raster(record.mask) == 255).astype(np.uint8), 512))


@pytest.mark.parametrize("label", [square(255), square(1), square(7), square((255, 255, 0), 3), square(200, 3),
                                   np.zeros((1, 96, 96), np.uint8), np.full((1, 96, 96), 255, np.uint8)],
                         ids=["0/255", "0/1", "0/7", "black/yellow", "black/grey RGB", "all background", "all landslide"])
def test_two_valued_or_two_coloured_labels_are_read(tmp_path, label):
    image, landslide = write_pair(tmp_path, 1, label)
    source = SichuanSource()
    loaded_image, mask = source.load(source.scan(tmp_path).records[0])
    assert np.array_equal(loaded_image, image) and np.array_equal(mask[0], landslide)


def patched(label: np.ndarray, value: int | tuple[int, ...], where: tuple[slice, slice]) -> np.ndarray:
    label = label.copy()
    label[:, where[0], where[1]] = np.asarray(value, np.uint8).reshape(-1, 1, 1)
    return label


SOUTH = (slice(70, 90), slice(10, 30))


@pytest.mark.parametrize(("label", "found"), [
    (patched(square(255), 3, SOUTH), r"values 0 \d+ %, 255 \d+ %, 3 \d+ %; expected two: 0"),
    (np.where(square(255) == 0, 1, 255).astype(np.uint8), r"values 1 \d+ %, 255 \d+ %; expected two: 0"),
    (patched(square((255, 0, 0), 3), (0, 255, 0), SOUTH), r"colours #000000 \d+ %, #ff0000 \d+ %, #00ff00"),
], ids=["three values", "no zero", "three colours"])
def test_other_labels_fail_listing_what_they_hold(tmp_path, label, found):
    write_pair(tmp_path, 1, label)
    with pytest.raises(MaskValueError, match=found) as error:
        SichuanSource().scan(tmp_path)
    assert error.value.path == tmp_path / "LandslideLabel001.tif" and "--mask-value N" in str(error.value)
    write_raster(tmp_path / "LandslideLabel001.tif", np.zeros((2, 96, 96), np.uint8))
    with pytest.raises(ImageFormatError, match="2 bands"):
        SichuanSource().scan(tmp_path)


def test_missing_or_ambiguous_folders_and_lone_files(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=DOI) as error:
        SichuanSource().scan(tmp_path)
    assert error.value.path == tmp_path and "LandslideNNN.tif" in str(error.value)
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        SichuanSource().scan(tmp_path / "nowhere")
    for folder in ("a", "b"):
        write_pair(tmp_path / folder, 1, square(255))
    with pytest.raises(DatasetNotFoundError, match="several folders hold Landslide.*: a, b"):
        SichuanSource().scan(tmp_path)
    write_raster(tmp_path / "a" / "Landslide002.tif", np.zeros((3, 96, 96), np.uint8))
    write_raster(tmp_path / "a" / "LandslideLabel003.tif", np.zeros((1, 96, 96), np.uint8))
    found = SichuanSource().scan(tmp_path / "a")
    assert [r.name for r in found.records] == ["001"]
    assert [(type(p), p.path.name) for p in found.problems] == [(MissingPartnerError, "Landslide002.tif"),
                                                                (MissingPartnerError, "LandslideLabel003.tif")]


def test_spec_download_validation_and_torch_dataset(stand_in, tmp_path):
    source = SichuanSource()
    assert source.spec() == {"name": "sichuan"} and isinstance(get_source(source.spec()), SichuanSource)
    with pytest.raises(NoDirectDownloadError, match=DOI):
        source.download([], tmp_path)
    report = validate_root(stand_in, source=source, progress=False)
    assert report.ok and report.tiles_checked == 2
    records = source.scan(stand_in).records
    item = TileDataset(records, source="sichuan")[1]
    image, mask = source.read_tile(records[1])
    assert item["image"].dtype == torch.uint8 and torch.equal(item["image"], torch.from_numpy(image))
    assert torch.equal(IMAGENET.batch(item["image"][None])[0], torch.from_numpy(IMAGENET.apply(image)))
    assert torch.equal(item["mask"], torch.from_numpy(mask[0].astype(np.int64))) and item["mask"].any()
    root = tmp_path / "broken"
    write_pair(root, 1, square(255))
    write_pair(root, 2, square(255))
    broken = write_raster(root / "LandslideLabel002.tif", square(255) + square(9)[:, ::-1])
    report = validate_root(root, source=source, progress=False)
    assert [(type(p), p.path) for p in report.problems] == [(MaskValueError, broken)]
