"""The torch Dataset: raw uint8 items, batch normalisation, seeded crops and flips, cheap checks that still raise."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from landslide_core.data.torch_dataset import TileDataset
from landslide_core.data.transforms import flip_rotate
from landslide_core.errors import ImageFormatError, MaskValueError, TileSizeError, UnreadableTileError
from landslide_core.io.raster import read_raster, write_raster
from landslide_core.sources import IMAGENET, Normalisation
from landslide_core.sources.cas import CAS


@pytest.fixture
def records(make_root):
    return CAS.list_tiles(make_root({"Lombok": 3, "Moxitaidi (UAV-1m)": 2}))


def test_items_are_raw_uint8_chw_and_01_masks(records):
    item = TileDataset(records)[0]
    assert item["image"].shape == (3, 512, 512) and item["image"].dtype == torch.uint8
    assert torch.equal(item["image"], torch.from_numpy(read_raster(records[0].image)))
    assert item["mask"].shape == (512, 512) and item["mask"].dtype == torch.int64
    assert set(item["mask"].unique().tolist()) <= {0, 1}
    assert (item["subdataset"], item["group"]) == (records[0].subdataset, records[0].group)


def test_a_normalised_batch_equals_its_tiles_through_apply_bit_for_bit(records):
    dataset = TileDataset(records)
    assert dataset.normalisation == IMAGENET  # the source's
    raw = torch.stack([dataset[i]["image"] for i in range(len(records))])
    batch = dataset.normalisation.batch(raw)
    expected = torch.from_numpy(np.stack([IMAGENET.apply(image.numpy()) for image in raw]))
    assert batch.dtype == torch.float32 and torch.equal(batch, expected)
    assert torch.equal(Normalisation().batch(raw), raw.float() / 255)  # no mean/std: [0, 1]
    floats = raw.float()
    assert torch.equal(IMAGENET.batch(floats), expected) and torch.equal(floats, raw.float())  # input untouched


def test_a_channels_last_batch_stays_channels_last(records):
    dataset = TileDataset(records, crop_size=64, centre_crop=True)
    raw = torch.stack([dataset[i]["image"] for i in range(len(records))])
    nhwc = raw.contiguous(memory_format=torch.channels_last)
    batch = IMAGENET.batch(nhwc)
    assert batch.is_contiguous(memory_format=torch.channels_last) and not batch.is_contiguous()
    assert torch.equal(batch, IMAGENET.batch(raw))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; benchmarks/gpu_check.sh runs these on one")
def test_a_batch_is_normalised_on_the_gpu_after_the_uint8_copy(records):
    dataset = TileDataset(records, augment=True)
    raw = torch.stack([dataset[i]["image"] for i in range(len(records))])
    on_gpu = raw.pin_memory().to("cuda", non_blocking=True).contiguous(memory_format=torch.channels_last)
    batch = dataset.normalisation.batch(on_gpu)
    assert batch.device.type == "cuda" and batch.dtype == torch.float32
    assert batch.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(batch.cpu(), IMAGENET.batch(raw), rtol=0, atol=1e-6)


def test_constants_made_in_inference_mode_serve_training_too(records):
    raw = torch.stack([TileDataset(records, crop_size=32, centre_crop=True)[0]["image"]])
    odd = Normalisation(255.0, (0.1, 0.2, 0.3), (0.3, 0.2, 0.1))  # constants not cached by another test
    with torch.inference_mode():
        odd.batch(raw)
    weight = torch.ones(1, requires_grad=True)
    (odd.batch(raw) * weight).sum().backward()  # an inference tensor here would refuse the backward pass
    assert weight.grad is not None


def aligned(item: dict) -> bool:
    """The fixture's images encode the mask in the red channel (red > 127 ⇔ landslide)."""
    return torch.equal(item["image"][0] > 127, item["mask"].bool())


def test_crops_and_flips_are_seeded_and_keep_mask_aligned(records):
    dataset = TileDataset(records, crop_size=128, augment=True, seed=7)
    first = [dataset[i] for i in range(len(records))]
    assert all(item["image"].shape == (3, 128, 128) and item["mask"].shape == (128, 128) for item in first)
    assert all(aligned(item) for item in first)
    again = TileDataset(records, crop_size=128, augment=True, seed=7)
    assert all(torch.equal(a["image"], again[i]["image"]) for i, a in enumerate(first))
    dataset.set_epoch(1)
    assert any(not torch.equal(a["image"], dataset[i]["image"]) for i, a in enumerate(first))
    other_seed = TileDataset(records, crop_size=128, augment=True, seed=8)
    assert any(not torch.equal(a["image"], other_seed[i]["image"]) for i, a in enumerate(first))


def test_every_flip_and_turn_is_copied_exactly(records):
    """Items of turned tiles are copied block by block: the same pixels as numpy's own copy, in C order."""
    dataset = TileDataset(records[:1], augment=True, seed=0)
    image, mask = read_raster(records[0].image), read_raster(records[0].mask)[0]
    seen = set()
    for epoch in range(40):
        dataset.set_epoch(epoch)
        item = dataset[0]
        rng = dataset._rng(0)
        want_image, want_mask = flip_rotate(image, mask, rng)
        seen.add(want_image.strides)
        assert item["image"].is_contiguous() and torch.equal(item["image"], torch.from_numpy(want_image.copy()))
        assert torch.equal(item["mask"], torch.from_numpy(want_mask.astype(np.int64)))
    assert len(seen) == 8  # all eight flips and turns drawn


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
    full = TileDataset(records)[1]
    dataset = TileDataset(records, crop_size=128, centre_crop=True)
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


def _spoil(record, kind: str):
    """Make one tile bad in one way; returns the file the error must name."""
    mask = read_raster(record.mask)
    if kind == "mask value 7":
        mask[0, 100:110, 100:110] = 7
        return write_raster(record.mask, mask)
    if kind == "mask 0/255":
        return write_raster(record.mask, mask * 255)
    if kind == "two bands":
        return write_raster(record.image, read_raster(record.image)[:2])
    if kind == "size mismatch":
        return write_raster(record.mask, mask[:, :256, :256])
    size = record.image.stat().st_size  # truncated: the header survives, the pixels do not
    with open(record.image, "r+b") as file:
        file.truncate(size // 2)
    return record.image


@pytest.mark.parametrize(("kind", "error", "message"), [
    ("mask value 7", MaskValueError, "mask has values outside {0, 1}: 7"),
    ("mask 0/255", MaskValueError, "mask is coded 0/255"),
    ("two bands", ImageFormatError, "image has 2 band(s) of uint8; expected 3-band uint8 RGB"),
    ("size mismatch", TileSizeError, "mask is 256×256 pixels; tiles must be 512×512"),
    ("truncated", UnreadableTileError, "truncated or corrupt"),
])
def test_a_bad_tile_still_raises_the_sources_error_naming_the_file(records, kind, error, message):
    named = _spoil(records[2], kind)
    dataset = TileDataset(records, augment=True)
    dataset[1]  # the good ones still read
    with pytest.raises(error) as raised:
        dataset[2]
    assert raised.value.path == named and message in str(raised.value)


def test_a_size_mismatch_of_any_size_tile_names_the_mask(make_root):
    root = make_root({"Lombok": 1})
    record = CAS.list_tiles(root)[0]
    write_raster(record.mask, read_raster(record.mask)[:, :256, :])
    with pytest.raises(TileSizeError, match="but its image tile0000.tif is 512×512") as raised:
        TileDataset([record], source=CAS.with_tile_size(None))[0]
    assert raised.value.path == record.mask


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc thresholds (mallopt) are Linux's")
def test_a_process_that_only_makes_items_reuses_its_memory(records):
    """With glibc's starting thresholds every item cost about 900 page faults; after the first item, a few dozen."""
    code = (
        "import resource, sys\n"
        "from landslide_core.data.torch_dataset import TileDataset\n"
        "from landslide_core.sources.cas import CAS\n"
        f"dataset = TileDataset(CAS.list_tiles({str(records[0].image.parents[2])!r}), augment=True)\n"
        "for i in range(10): dataset[i % len(dataset)]\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for i in range(50): dataset[i % len(dataset)]\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50)\n"
    )
    faults = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert faults < 200, f"{faults:.0f} page faults per item: freed memory is handed back to the kernel each time"
