"""The reader on real CAS files: the 24 Hokkaido Iburi-Tobu pairs shipped in data/sample (every clone) and the 29
original tiles (beside the team's checkout only)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from landslide_core.data.statistics import tile_statistics
from landslide_core.data.torch_dataset import TileDataset
from landslide_core.io.raster import read_info, read_raster
from landslide_core.sources import Normalisation
from landslide_core.sources.cas import CAS, subdataset_for_tile_name
from landslide_core.sources.checks import check_image
from tests.conftest import ORIGINALS, SAMPLE, requires_originals

pytestmark = pytest.mark.real_data


@requires_originals
def test_all_29_original_tiles_read_quietly_as_512_rgb():
    files = sorted(ORIGINALS.iterdir())
    assert len(files) == 29 and {f.suffix for f in files} == {".tif", ".tiff"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not one warning per tile, not one at all
        for f in files:
            image = read_raster(f)
            assert image.shape == (3, 512, 512) and image.dtype == np.uint8, f
            assert check_image(f, image) == []
            assert not read_info(f).georeferenced
            assert image.std() > 5, f"{f} reads as a flat image"
            assert subdataset_for_tile_name(f.name) is not None, f


def test_24_hokkaido_pairs_read_with_their_landslide_shares():
    records = CAS.list_tiles(SAMPLE)
    assert len(records) == 24 and {r.subdataset for r in records} == {"hokkaido"}
    assert {r.group for r in records} == {"SAT"}
    stats = tile_statistics(records, progress=False)
    share = stats.set_index("name")["landslide_share"]
    # The sample's landslide share per tile: 0.3 % to 37 %, mean 14 %.
    assert share.min() == pytest.approx(0.0031, abs=5e-4)
    assert share.max() == pytest.approx(0.367, abs=5e-3)
    assert share.mean() == pytest.approx(0.139, abs=5e-3)
    for record in records:  # the label rendering (landslide black) agrees with the mask, pixel for pixel
        label = read_raster(record.label)
        mask = read_raster(record.mask)[0]
        assert np.array_equal(label[0] == 0, mask == 1)
        assert share[record.name] == pytest.approx((label[0] == 0).mean())


def test_dataset_items_match_the_files():
    records = CAS.list_tiles(SAMPLE)
    dataset = TileDataset(records)
    for i in (0, 11, 23):
        item = dataset[i]
        image = read_raster(records[i].image)
        assert item["image"].dtype == torch.uint8 and torch.equal(item["image"], torch.from_numpy(image))
        assert torch.equal(Normalisation().batch(item["image"][None])[0], torch.from_numpy(image).float() / 255)
        mask = read_raster(records[i].mask)[0]
        assert item["mask"].dtype == torch.int64
        assert torch.equal(item["mask"], torch.from_numpy(mask).long())
