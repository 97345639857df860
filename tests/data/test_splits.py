"""The seeded 7:3 split per sub-dataset and its manifest."""

from __future__ import annotations

import shutil

import pytest

from landslide_core.cli import main
from landslide_core.data.splits import (
    load_or_make_split,
    make_split,
    manifest_checksum,
    read_manifest,
    split_sizes,
    write_manifest,
)
from landslide_core.errors import ManifestError
from landslide_core.sources.cas import CAS


@pytest.fixture
def root(make_root):
    return make_root({"Lombok": 10, "Wenchuan": 7, "palu": 1}, size=32)


def test_split_is_7_to_3_within_each_subdataset(root):
    records = make_split(CAS.list_tiles(root), seed=0)
    for key, (n_train, n_val) in {"lombok": (7, 3), "wenchuan": (5, 2), "palu": (1, 0)}.items():
        members = [r for r in records if r.subdataset == key]
        assert sum(r.split == "train" for r in members) == n_train
        assert sum(r.split == "val" for r in members) == n_val
    assert split_sizes(2, 0.3) == (1, 1) and split_sizes(100, 0.3) == (70, 30)


def test_split_depends_on_the_seed_only(root):
    tiles = CAS.list_tiles(root)
    val = lambda records: {r.uid for r in records if r.split == "val"}  # noqa: E731
    assert val(make_split(tiles, seed=0)) == val(make_split(list(reversed(tiles)), seed=0))
    assert val(make_split(tiles, seed=0)) != val(make_split(tiles, seed=1))
    only_lombok = [r for r in tiles if r.subdataset == "lombok"]
    lombok_val = {u for u in val(make_split(tiles, seed=0)) if u.startswith("lombok/")}
    assert val(make_split(only_lombok, seed=0)) == lombok_val  # other sub-datasets do not reshuffle it


def test_manifest_round_trip_is_portable(root, tmp_path):
    records = make_split(CAS.list_tiles(root), seed=3)
    manifest = write_manifest(records, tmp_path / "split.csv", root=root, seed=3, val_fraction=0.3)
    text = manifest.read_text(encoding="utf-8")
    assert text.startswith("# landslide-core split manifest: seed=3 val_fraction=0.3\n")
    assert str(root) not in text  # paths relative to the data root
    moved = tmp_path / "moved"
    shutil.copytree(root, moved)
    back = read_manifest(manifest, moved)
    assert sorted((r.uid, r.split) for r in back) == sorted((r.uid, r.split) for r in records)
    assert all(r.image.is_relative_to(moved) for r in back)


def test_later_runs_read_the_manifest_back(root, tmp_path):
    manifest = tmp_path / "splits" / "seed0.csv"
    first = load_or_make_split(root, manifest, seed=0)
    checksum = manifest_checksum(manifest)
    again = load_or_make_split(root, manifest, seed=0)
    assert [(r.uid, r.split) for r in again] == sorted((r.uid, r.split) for r in first)
    assert manifest_checksum(manifest) == checksum
    with pytest.raises(ManifestError, match="written with seed=0 val_fraction=0.3, but seed=1"):
        load_or_make_split(root, manifest, seed=1)
    assert len(load_or_make_split(root, manifest, seed=0, subdataset_names=["Wenchuan"])) == 7


def test_manifest_disagreeing_with_the_disk_is_an_error(root, tmp_path):
    manifest = tmp_path / "seed0.csv"
    load_or_make_split(root, manifest, seed=0)
    shutil.copy(root / "Lombok" / "img" / "tile0000.tif", root / "Lombok" / "img" / "new.tif")
    shutil.copy(root / "Lombok" / "mask" / "tile0000.tif", root / "Lombok" / "mask" / "new.tif")
    with pytest.raises(ManifestError, match="1 tile\\(s\\) on disk are not in this manifest \\(first: lombok/new\\)"):
        load_or_make_split(root, manifest, seed=0)
    (root / "Lombok" / "mask" / "tile0003.tif").unlink()
    with pytest.raises(ManifestError, match="tile0003.tif: listed in split manifest"):
        read_manifest(manifest, root)
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ManifestError, match="not a landslide-core split manifest"):
        read_manifest(tmp_path / "other.csv", root)


def test_split_command_writes_then_reads(root, capsys):
    manifest = root / "splits" / "split-seed5.csv"
    assert main(["split", str(root), "--seed", "5"]) == 0
    assert capsys.readouterr().out == f"wrote {manifest}: 13 train, 5 val tiles\n"
    assert main(["split", str(root), "--seed", "5"]) == 0
    assert capsys.readouterr().out == f"read {manifest}: 13 train, 5 val tiles\n"
