"""Block labels for the bootstrap: tiles that share pixels get one label, the rest one each; the labels are cached
beside the split manifest and read back only while they list the tiles asked for."""

from __future__ import annotations

import numpy as np

from landslide_core.experiments.blocks import blocks_path, leakage_blocks
from landslide_core.sources import get_source
from tests.conftest import write_pair

CAS = get_source("cas").with_tile_size(None)


def test_tiles_sharing_pixels_are_one_block_and_the_labels_are_cached(tmp_path):
    rng = np.random.default_rng(0)
    ground = rng.integers(0, 256, (3, 256, 384), dtype=np.uint8)
    mask = np.zeros((256, 256), np.uint8)
    root = tmp_path / "root"
    write_pair(root, "Lombok", "left", ground[:, :, :256], mask)
    write_pair(root, "Lombok", "right", ground[:, :, 128:], mask)  # shares 128 columns with "left"
    write_pair(root, "Lombok", "alone", rng.integers(0, 256, (3, 256, 256), dtype=np.uint8), mask)
    records = CAS.list_tiles(root)
    manifest = tmp_path / "split-seed0.csv"
    manifest.write_text("uid,split\n")
    cache = blocks_path(manifest, "UAV&SAT")
    assert cache.parent == tmp_path and cache.name.startswith("split-seed0_UAV+SAT_")
    labels = leakage_blocks(records, source=CAS, cache=cache)
    by_name = {uid.split("/")[1]: label for uid, label in labels.items()}
    assert by_name["left"] == by_name["right"] != by_name["alone"]
    assert cache.is_file()
    cache.write_text("tile,block\n" + "".join(f"{uid},cached\n" for uid in labels))
    assert set(leakage_blocks(records, source=CAS, cache=cache).values()) == {"cached"}  # read back
    fewer = leakage_blocks(records[:2], source=CAS, cache=cache)  # other tiles: audited again, cache replaced
    assert "cached" not in fewer.values() and len(fewer) == 2
