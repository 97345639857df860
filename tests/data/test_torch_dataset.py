"""The torch Dataset: shapes, normalization, seeded crops and flips that keep image and mask aligned."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from landslide_core.data.torch_dataset import TileDataset
from landslide_core.sources import IMAGENET, Normalisation
from landslide_core.sources.cas import CAS


@pytest.fixture
def records(make_root):
    return CAS.list_tiles(make_root({"Lombok": 3, "Moxitaidi (UAV-1m)": 2}))


def test_items_are_normalized_chw_floats_and_01_masks(records):
    item = TileDataset(records)[0]
    assert item["image"].shape == (3, 512, 512) and item["image"].dtype == torch.float32
    assert item["mask"].shape == (512, 512) and item["mask"].dtype == torch.int64
    assert set(item["mask"].unique().tolist()) <= {0, 1}
    raw = TileDataset(records, normalisation=Normalisation())[0]["image"]
    assert 0.0 <= raw.min() and raw.max() <= 1.0
    expected = (raw - torch.tensor(IMAGENET.mean).view(3, 1, 1)) / torch.tensor(IMAGENET.std).view(3, 1, 1)
    assert torch.allclose(item["image"], expected, atol=1e-6)
    assert (item["subdataset"], item["group"]) == (records[0].subdataset, records[0].group)


def aligned(item: dict) -> bool:
    """The fixture's images encode the mask in the red channel (red > 127 ⇔ landslide)."""
    return torch.equal(item["image"][0] > 0.5, item["mask"].bool())


def test_crops_and_flips_are_seeded_and_keep_mask_aligned(records):
    dataset = TileDataset(records, crop_size=128, augment=True, seed=7, normalisation=Normalisation())
    first = [dataset[i] for i in range(len(records))]
    assert all(item["image"].shape == (3, 128, 128) and item["mask"].shape == (128, 128) for item in first)
    assert all(aligned(item) for item in first)
    again = TileDataset(records, crop_size=128, augment=True, seed=7, normalisation=Normalisation())
    assert all(torch.equal(a["image"], again[i]["image"]) for i, a in enumerate(first))
    dataset.set_epoch(1)
    assert any(not torch.equal(a["image"], dataset[i]["image"]) for i, a in enumerate(first))
    other_seed = TileDataset(records, crop_size=128, augment=True, seed=8, normalisation=Normalisation())
    assert any(not torch.equal(a["image"], other_seed[i]["image"]) for i, a in enumerate(first))


def test_items_are_identical_in_worker_processes(records):
    dataset = TileDataset(records, crop_size=64, augment=True, seed=3)
    in_process = torch.stack([dataset[i]["image"] for i in range(len(dataset))])
    loader = DataLoader(dataset, batch_size=2, num_workers=2)
    in_workers = torch.cat([batch["image"] for batch in loader])
    assert torch.equal(in_process, in_workers)


def test_crop_larger_than_tile_is_refused(records):
    with pytest.raises(ValueError, match="crop_size 1024 is larger than the 512×512 tile"):
        TileDataset(records, crop_size=1024)[0]


def test_a_centre_crop_is_the_middle_of_the_tile_whatever_the_epoch(records):
    full = TileDataset(records, normalisation=Normalisation())[1]
    dataset = TileDataset(records, crop_size=128, centre_crop=True, normalisation=Normalisation())
    first = dataset[1]
    dataset.set_epoch(5)
    assert torch.equal(dataset[1]["image"], first["image"])
    assert torch.equal(first["image"], full["image"][:, 192:320, 192:320])
    assert torch.equal(first["mask"], full["mask"][192:320, 192:320])


def test_inverting_the_normalisation_gives_back_raw_over_scale_for_a_tile_and_a_batch():
    image = np.random.default_rng(0).integers(0, 256, (3, 8, 8), dtype=np.uint8)
    standardised = IMAGENET.apply(image)
    np.testing.assert_allclose(IMAGENET.invert(standardised), image / 255.0, atol=1e-6)
    np.testing.assert_allclose(IMAGENET.invert(np.stack([standardised] * 2)), np.stack([image / 255.0] * 2), atol=1e-6)
    np.testing.assert_array_equal(Normalisation().invert(image / 255.0), (image / 255.0).astype(np.float32))
