"""`landslide-core validate` and the Dataset report every kind of bad tile with the file and the fix.

The corruption test runs twice: on copies of the 24 real Hokkaido Iburi-Tobu pairs shipped in data/sample and on
generated tiles, so every check meets both real and made-up pixels.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from landslide_core import errors
from landslide_core.cli import main
from landslide_core.data.torch_dataset import TileDataset
from landslide_core.data.validate import validate_root
from landslide_core.io.raster import read_raster, write_raster
from landslide_core.sources.cas import CAS
from landslide_core.sources.cas.layout import scan
from tests.conftest import random_pair, write_pair


@pytest.fixture(params=[pytest.param("real", marks=pytest.mark.real_data), "synthetic"])
def clean_root(request, make_root) -> tuple[Path, str]:
    if request.param == "real":
        root = request.getfixturevalue("hokkaido_copy")
        return root, "Hokkaido Iburi-Tobu"
    return make_root({"Hokkaido Iburi-Tobu": 12}), "Hokkaido Iburi-Tobu"


def corrupt(root: Path, folder: str) -> list[tuple[Path, type[errors.PathProblemError], str]]:
    """Break tiles in every way validate must catch; return (file, error type, message fragment)."""
    sub = root / folder
    names = sorted(p.name for p in (sub / "img").iterdir())
    img, mask = sub / "img", sub / "mask"
    expected = []

    def take() -> str:
        return names.pop(0)

    n = take()  # missing partner: image without mask
    (mask / n).unlink()
    expected.append((img / n, errors.MissingPartnerError, "image has no mask"))
    n = take()  # missing partner: mask without image
    (img / n).unlink()
    expected.append((mask / n, errors.MissingPartnerError, "mask has no image"))
    n = take()  # both 256×256: wrong tile size
    write_raster(img / n, read_raster(img / n)[:, :256, :256])
    write_raster(mask / n, read_raster(mask / n)[:, :256, :256])
    expected += [(img / n, errors.TileSizeError, "image is 256×256 pixels; tiles must be 512×512"),
                 (mask / n, errors.TileSizeError, "mask is 256×256 pixels; tiles must be 512×512")]
    n = take()  # image 512×512, mask 512×384: size mismatch
    write_raster(mask / n, read_raster(mask / n)[:, :384, :])
    expected += [(mask / n, errors.TileSizeError, "mask is 512×384 pixels but its image"),
                 (mask / n, errors.TileSizeError, "mask is 512×384 pixels; tiles must be 512×512")]
    n = take()  # mask coded 0/255
    write_raster(mask / n, (read_raster(mask / n) > 0).astype(np.uint8) * 255)
    expected.append((mask / n, errors.MaskValueError, "mask is coded 0/255 (255 = landslide)"))
    n = take()  # mask with a third class
    m = read_raster(mask / n)
    m[0, :10, :10] = 2
    write_raster(mask / n, m)
    expected.append((mask / n, errors.MaskValueError, "mask has values outside {0, 1}: 2"))
    n = take()  # single-band image
    write_raster(img / n, read_raster(img / n)[:1])
    expected.append((img / n, errors.ImageFormatError, "image has 1 band(s) of uint8; expected 3-band uint8 RGB"))
    n = take()  # 16-bit image
    write_raster(img / n, read_raster(img / n).astype(np.uint16) * 4)
    expected.append((img / n, errors.ImageFormatError, "image has 3 band(s) of uint16"))
    n = take()  # truncated TIFF: the header survives, the pixels do not
    size = (img / n).stat().st_size
    with open(img / n, "r+b") as f:
        f.truncate(size // 2)
    expected.append((img / n, errors.UnreadableTileError, "truncated or corrupt"))
    n = take()  # not a TIFF at all
    (mask / n).write_bytes(b"this is not a TIFF file" * 10)
    expected.append((mask / n, errors.UnreadableTileError, "GDAL cannot read this raster"))
    (root / "Wenchuan" / "img").mkdir(parents=True)  # empty sub-dataset folder
    (root / "Wenchuan" / "mask").mkdir()
    expected.append((root / "Wenchuan", errors.SubDatasetFolderError, "empty sub-dataset folder"))
    write_pair(root, "Atlantis (UAV)", "x0001", *random_pair(np.random.default_rng(0), 512))  # unknown folder
    expected.append((root / "Atlantis (UAV)", errors.SubDatasetFolderError, "unknown sub-dataset folder"))
    return expected


def test_validate_reports_each_kind_of_problem(clean_root, capsys):
    root, folder = clean_root
    assert main(["validate", str(root), "-q"]) == 0
    assert "no problems found" in capsys.readouterr().out
    expected = corrupt(root, folder)
    report = validate_root(root, progress=False)
    found = [(p.path, type(p), str(p)) for p in report.problems]
    for path, kind, fragment in expected:
        hits = [m for p, k, m in found if p == path and k is kind and fragment in m]
        assert hits, f"no {kind.__name__} '{fragment}' reported for {path}; got {found}"
        assert hits[0].startswith(f"{path}: ") and ". Fix: " in hits[0]
    assert len(found) == len(expected), "problems reported beyond those introduced"
    n_tiles = len(list((root / folder / "img").iterdir())) - 1  # minus the image without mask
    assert report.tiles_checked == n_tiles

    assert main(["validate", str(root), "-q"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(expected) + 1  # one line per problem and a summary
    assert lines[-1].endswith(f"{n_tiles} tile(s) checked, {len(expected)} problem(s) found")


def test_validate_on_a_missing_root_says_how_to_get_data(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nowhere"), "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'nowhere'}: the data root does not exist")
    assert "landslide-core demo-data" in err


def test_dataset_raises_the_same_errors_as_validate(clean_root):
    root, folder = clean_root
    corrupt(root, folder)
    records = scan(root, [folder]).records
    report = {(p.path, str(p)) for p in validate_root(root, [folder], progress=False).problems}
    dataset = TileDataset(records)
    raised = 0
    for i, _record in enumerate(records):
        try:
            dataset[i]
        except errors.TileError as error:
            raised += 1
            assert (error.path, str(error)) in report
    assert raised == 8  # every corrupted pair; the two lone files are not records
    assert len(records) == len(list((root / folder / "img").iterdir())) - 1


@pytest.mark.real_data
def test_real_sample_validates_clean(hokkaido_copy):
    report = validate_root(hokkaido_copy, progress=False)
    assert report.ok and report.tiles_checked == 24


def test_symlinked_tiles_are_followed(make_root):
    root = make_root({"Lombok": 1}, size=512)
    linked = root / "Lombok" / "img" / "tile0001.tif"
    os.symlink(root / "Lombok" / "img" / "tile0000.tif", linked)
    os.symlink(root / "Lombok" / "mask" / "tile0000.tif", root / "Lombok" / "mask" / "tile0001.tif")
    assert validate_root(root, progress=False).tiles_checked == 2


def test_problems_of_one_tile_come_image_first_then_mask(make_root):
    """A bad image and an unreadable mask: the image's problem is listed before the mask's."""
    root = make_root({"palu": 1}, size=64)
    image = next((root / "palu" / "img").iterdir())
    mask = root / "palu" / "mask" / image.name
    write_raster(image, np.zeros((1, 64, 64), np.uint8))
    mask.write_bytes(b"not a tiff")
    problems = validate_root(root, progress=False, source=CAS.with_tile_size(None)).problems
    assert [type(p).__name__ for p in problems] == ["ImageFormatError", "UnreadableTileError"]
    assert [p.path for p in problems] == [image, mask]
