"""The tile-source contract holds a dataset unlike CAS: other bands, data type, tile size, no sub-datasets.

A four-band uint16 source of 128-px patches, written here in a few lines, goes
through the same layers as CAS (validation, torch dataset, split manifest,
group selection, scoring table) without any CAS constant getting in the way.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
import torch

from landslide_core.data.splits import load_or_make_split, split_records
from landslide_core.data.torch_dataset import TileDataset
from landslide_core.data.validate import validate_root
from landslide_core.errors import ConfigError, DatasetNotFoundError, UnknownSourceError, UnknownSubDatasetError
from landslide_core.io.raster import write_raster
from landslide_core.scoring import ConfusionMatrix, scores_table
from landslide_core.sources import CAS, Normalisation, Scan, TileSource, available_sources, get_source, register_source
from landslide_core.tiles import TileRecord


class FourBandPatches(TileSource):
    """``<root>/images/<name>.tif`` (4 × uint16, 128 px) and ``<root>/masks/<name>.tif`` (0/1)."""

    name = "fourband-test"
    title = "Four-band test patches"
    bands = ("blue", "green", "red", "nir")
    dtype = "uint16"
    value_range = (0.0, 10000.0)
    tile_size = 128
    normalisation = Normalisation(10000.0)
    mask_encoding = "one uint8 band: 1 = landslide, 0 = background"
    groups = {"all": ("fourband-test",)}

    def scan(self, root: str | Path, subdatasets: Iterable[str] | None = None) -> Scan:
        root = Path(root)
        found = Scan(root)
        for image in sorted((root / "images").glob("*.tif")):
            found.records.append(TileRecord(self.name, self.name, image.stem, image, root / "masks" / image.name,
                                            source=self.title))
        return found

    def download(self, names: Iterable[str], root: str | Path, **options: object) -> list[Path]:
        raise DatasetNotFoundError(root, "these test patches have no download", "write them with the test")


@pytest.fixture
def patches(tmp_path: Path) -> tuple[FourBandPatches, Path]:
    rng = np.random.default_rng(0)
    for i in range(6):
        write_raster(tmp_path / "images" / f"p{i}.tif", rng.integers(0, 10000, (4, 128, 128), dtype=np.uint16))
        write_raster(tmp_path / "masks" / f"p{i}.tif", (rng.random((128, 128)) < 0.2).astype(np.uint8))
    return FourBandPatches(), tmp_path


def test_the_torch_dataset_reads_and_normalises_with_the_source(patches):
    source, root = patches
    records = source.list_tiles(root)
    item = TileDataset(records, source=source)[0]
    raw = source.read_tile(records[0])[0]
    assert item["image"].shape == (4, 128, 128) and item["mask"].shape == (128, 128)
    assert item["image"].dtype == torch.uint16 and np.array_equal(item["image"].numpy(), raw)  # as stored
    network_input = source.normalisation.batch(item["image"][None])[0]
    torch.testing.assert_close(network_input, torch.from_numpy(raw.astype(np.float32)) / 10000.0)
    assert item["subdataset"] == item["group"] == "fourband-test"


def test_validation_checks_against_the_source_not_cas(patches):
    source, root = patches
    assert validate_root(root, source=source, progress=False).ok
    write_raster(root / "images" / "p0.tif", np.zeros((3, 512, 512), np.uint8))  # a CAS-shaped tile is wrong here
    problems = [str(p) for p in validate_root(root, source=source, progress=False).problems]
    assert any("expected 4-band uint16" in p for p in problems) and any("tiles must be 128×128" in p for p in problems)
    assert CAS.tile_size == 512 and source.with_tile_size(None).tile_size is None and source.tile_size == 128


def test_splits_groups_and_scores_follow_the_source(patches, tmp_path):
    source, root = patches
    records = load_or_make_split(root, tmp_path / "split.csv", seed=0, source=source)
    assert sorted(r.split for r in records) == ["train"] * 4 + ["val"] * 2
    val = split_records(root, tmp_path / "split.csv", seed=0, val_fraction=0.3, group="all", split="val",
                        source=source)
    assert len(val) == 2 and source.widest_group == "all"
    with pytest.raises(UnknownSubDatasetError, match="valid groups: all"):
        source.select_group(records, "UAV")
    matrix = ConfusionMatrix()
    matrix.update(torch.tensor([1, 0, 1]), torch.tensor([1, 0, 0]))
    table = scores_table({"fourband-test": matrix}, val, model="m", source=source)
    assert table[["group", "subdataset", "tiles", "tp", "fp"]].values.tolist() == [
        ["all", "", 2, 1, 1], ["all", "fourband-test", 2, 1, 1]]


def test_sources_are_found_by_name():
    register_source("fourband-test", FourBandPatches)
    assert get_source("cas") is CAS and isinstance(get_source("fourband-test"), FourBandPatches)
    assert {"cas", "fourband-test"} <= set(available_sources())
    with pytest.raises(UnknownSourceError, match="unknown tile source 'bijie-typo'; valid sources: bijie, cas, "):
        get_source("bijie-typo")
    with pytest.raises(ConfigError, match="tile source 'bijie' does not take these options"):
        get_source("bijie", colour="red")
    assert get_source({"name": "hr-gldd", "held_out": "test"}).spec() == {"name": "hr-gldd", "held_out": "test",
                                                                          "rgb": [0, 1, 2]}
