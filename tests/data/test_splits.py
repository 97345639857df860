"""The seeded 7:3 split per sub-dataset and its manifest."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from landslide_core.cli import main
from landslide_core.data.splits import (
    BUFFER,
    load_or_make_split,
    make_grouped_split,
    make_split,
    manifest_checksum,
    read_manifest,
    split_sizes,
    write_manifest,
)
from landslide_core.errors import ManifestError
from landslide_core.sources.cas import CAS
from landslide_core.tiles import TileRecord


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


def _records(counts):
    return [TileRecord(subdataset=sd, group="SAT", name=f"t{i:03d}", image=Path(f"{sd}/t{i:03d}.tif"))
            for sd, n in counts.items() for i in range(n)]


def _grouping(records):
    """Runs of 1 to 5 neighbouring tiles per group, plus one group spanning both sub-datasets."""
    groups, rng = {}, np.random.default_rng(0)
    i = 0
    while i < len(records):
        size = int(rng.integers(1, 6))
        groups.update((r.uid, records[i].uid) for r in records[i:i + size])
        i += size
    groups.update({"a/t000": "both", "a/t001": "both", "b/t005": "both", "b/t006": "both"})
    return groups


def test_grouped_split_keeps_every_group_on_one_side():
    records = _records({"a": 60, "b": 41})
    groups = _grouping(records)
    split = make_grouped_split(records, groups, seed=4)
    side = {r.uid: r.split for r in split}
    members = {}
    for uid, group in groups.items():
        members.setdefault(group, set()).add(side[uid])
    assert all(len(sides) == 1 for sides in members.values()) and len(members) > 20
    for sd, n in (("a", 60), ("b", 41)):
        n_val = sum(r.split == "val" for r in split if r.subdataset == sd)
        assert abs(n_val - round(0.3 * n)) <= 1
    assert sorted((r.uid, r.split) for r in split) == sorted(
        (r.uid, r.split) for r in make_grouped_split(list(reversed(records)), groups, seed=4))
    assert [r.split for r in split] != [r.split for r in make_grouped_split(records, groups, seed=5)]


def test_grouped_split_without_groups_is_the_random_split(root, tmp_path):
    tiles = CAS.list_tiles(root)
    for seed in range(3):
        assert sorted((r.uid, r.split) for r in make_grouped_split(tiles, {}, seed=seed)) == sorted(
            (r.uid, r.split) for r in make_split(tiles, seed=seed))
    grouped = make_grouped_split(tiles, {r.uid: "one" for r in tiles if r.subdataset == "wenchuan"}, seed=0)
    assert {r.split for r in grouped if r.subdataset == "wenchuan"} == {"train"}  # 7 tiles cannot go to val whole
    manifest = write_manifest(grouped, tmp_path / "grouped.csv", root=root, seed=0, val_fraction=0.3)
    assert manifest.read_text(encoding="utf-8").startswith("# landslide-core split manifest: seed=0 val_fraction=0.3\n")
    assert sorted((r.uid, r.split) for r in read_manifest(manifest, root)) == sorted((r.uid, r.split) for r in grouped)
    with pytest.raises(ValueError, match="val_fraction"):
        make_grouped_split(tiles, {}, val_fraction=1.0)


def test_a_group_larger_than_the_target_is_cut_with_a_buffer_so_nothing_links_validation_to_training():
    """A 6×6 grid of tiles cut with half overlap: each tile shares pixels with its 8 neighbours, one group."""
    records = _records({"a": 36})
    uid = {(i // 6, i % 6): r.uid for i, r in enumerate(sorted(records, key=lambda r: r.name))}
    links = [(uid[p], uid[(p[0] + dy, p[1] + dx)]) for p in uid for dy in (0, 1) for dx in (-1, 0, 1)
             if (dy, dx) > (0, 0) and (p[0] + dy, p[1] + dx) in uid]
    groups = {u: "scene" for u in uid.values()}
    split = make_grouped_split(records, groups, links=links, seed=2)
    side = {r.uid: r.split for r in split}
    assert sum(s == "val" for s in side.values()) == round(0.3 * 36)
    assert not any({side[a], side[b]} == {"train", "val"} for a, b in links)
    buffer = {u for u, s in side.items() if s == BUFFER}
    assert buffer and all(any(side[o] == "val" for a, b in links for o in (a, b) if u in (a, b) and o != u)
                          for u in buffer)  # every buffer tile touches validation
    assert sum(s == "train" for s in side.values()) == 36 - 11 - len(buffer) > 0
    assert [r.split for r in split] == [r.split for r in make_grouped_split(records, groups, links=links, seed=2)]
    assert make_grouped_split(records, groups, seed=2) == make_grouped_split(records, groups, seed=2)


def test_a_split_the_source_set_is_kept_and_the_other_sub_datasets_are_drawn():
    official = [TileRecord("hr-gldd", "all", f"train_{i:05d}", Path("trainX.npy"), split="train") for i in range(6)]
    official += [TileRecord("hr-gldd", "all", f"val_{i:05d}", Path("valX.npy"), split="val") for i in range(2)]
    drawn = _records({"palu": 10})
    split = make_split(official + drawn, seed=0)
    assert {r.name: r.split for r in split if r.subdataset == "hr-gldd"} == {r.name: r.split for r in official}
    assert sum(r.split == "val" for r in split if r.subdataset == "palu") == 3


def test_linked_tiles_are_kept_together_whatever_the_grouping_says():
    records = _records({"a": 20})
    links = [("a/t000", "a/t001"), ("a/t001", "a/t002")]  # three tiles the grouping has in three groups
    for seed in range(10):
        side = {r.uid: r.split for r in make_grouped_split(records, {}, links=links, seed=seed)}
        assert not any({side[x], side[y]} == {"train", "val"} for x, y in links)
        assert side["a/t000"] == side["a/t001"] == side["a/t002"]


def test_a_group_cut_in_one_subdataset_leaves_its_linked_tiles_in_another_out_of_training():
    """A 6×6 grid of overlapping tiles in sub-dataset a, its first two rows again (the same scene) in b."""
    grid = _records({"a": 36})
    copies = _records({"b": 12})
    uid = {(i // 6, i % 6): r.uid for i, r in enumerate(grid)}
    links = [(uid[p], uid[(p[0] + dy, p[1] + dx)]) for p in uid for dy in (0, 1) for dx in (-1, 0, 1)
             if (dy, dx) > (0, 0) and (p[0] + dy, p[1] + dx) in uid]
    for i, copy in enumerate(copies):  # a copy shares pixels with its original and the original's neighbours
        row, col = divmod(i, 6)
        links += [(copy.uid, uid[(row + dy, col + dx)]) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                  if (row + dy, col + dx) in uid]
    records = grid + copies
    left_out_in_b = 0
    for seed in range(8):
        split = make_grouped_split(records, {}, links=links, seed=seed)
        side = {r.uid: r.split for r in split}
        assert not any({side[x], side[y]} == {"train", "val"} for x, y in links)
        assert sum(side[u] == "val" for u in uid.values()) == round(0.3 * 36)  # cut in a, the first sub-dataset
        left_out_in_b += sum(side[c.uid] == BUFFER for c in copies)
    assert left_out_in_b > 0  # copies next to a's validation region were neither trained on nor validated
