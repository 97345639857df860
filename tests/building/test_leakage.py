"""The leakage audit: quadrant keys, pairs and groups by construction and on real tiles, the report, spatial groups,
the grouped split, the CLI and the benchmark's core."""

from __future__ import annotations

import importlib.util
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rasterio.transform import Affine

from landslide_core.building.leakage import (
    audit_arrays,
    audit_records,
    leakage_report,
    merge_groups,
    quadrant_keys,
    spatial_groups,
    write_groups_csv,
)
from landslide_core.building.leakage_keys import orient
from landslide_core.building.leakage_split import grouped_split, save_grouped_split
from landslide_core.cli import main
from landslide_core.data.splits import make_grouped_split, make_split, read_manifest
from landslide_core.errors import ManifestError, TileSizeError
from landslide_core.io.raster import write_raster
from landslide_core.sources.cas import CAS
from landslide_core.tiles import TileRecord
from tests.conftest import HOKKAIDO, REPO, requires_real_data, write_pair

RNG = np.random.default_rng(7)


def noise(*shape: int) -> np.ndarray:
    return RNG.integers(0, 256, (3, *shape), dtype=np.uint8)


def cut(scene: np.ndarray, size: int, prefix: str) -> dict[tuple[int, int], tuple[str, np.ndarray]]:
    """Tiles of ``size`` every ``size // 2`` pixels, as the CAS production code cut them, keyed by grid position."""
    step = size // 2
    return {(r, c): (f"sd/{prefix}{r}{c}", scene[:, r * step:r * step + size, c * step:c * step + size])
            for r in range((scene.shape[1] - size) // step + 1) for c in range((scene.shape[2] - size) // step + 1)}


def record(uid: str, split: str | None = None) -> TileRecord:
    subdataset, name = uid.split("/")
    return TileRecord(subdataset=subdataset, group="SAT", name=name, image=Path(f"{name}.tif"), split=split)


# --------------------------------------------------------------------------- keys, pairs, groups


def test_stride_half_tiles_pair_exactly_with_their_neighbours():
    first, second = cut(noise(160, 160), 64, "a"), cut(noise(96, 128), 64, "b")  # 4×4 and 2×3 tiles
    audit = audit_arrays([(uid, "sd", image) for uid, image in [*first.values(), *second.values()]], progress=False)
    expected = {}
    for tiles in (first, second):
        for (p, (uid_p, _)), (q, (uid_q, _)) in combinations(sorted(tiles.items()), 2):
            dr, dc = abs(p[0] - q[0]), abs(p[1] - q[1])
            if dr <= 1 and dc <= 1:
                expected[tuple(sorted((uid_p, uid_q)))] = (2 - dr) * (2 - dc)  # side neighbours 2, diagonal 1
    found = {(a, b): n for a, b, n in audit.pairs[["uid_a", "uid_b", "quadrants_shared"]].itertuples(index=False)}
    assert found == expected and not audit.pairs["transformed"].any()
    assert audit.tiles["group_id"].nunique() == 2 and set(audit.tiles["group_size"]) == {16, 6}
    assert audit.groups()["sd/b12"] == "sd/b00"  # the smallest uid names the group
    assert audit.skipped_quadrants == 0 and len(audit.quadrants) == 4 * 22


def test_flipped_and_rotated_copies_are_found_as_transformed():
    tile = noise(64, 64)
    images = {"sd/orig": tile, "sd/flip": tile[:, :, ::-1], "sd/turn": np.rot90(tile, 1, axes=(1, 2)),
              "sd/same": tile.copy(), "sd/other": noise(64, 64)}
    audit = audit_arrays([(uid, "sd", image) for uid, image in images.items()], progress=False)
    pairs = {(a, b): (n, t) for a, b, n, t in audit.pairs[["uid_a", "uid_b", "quadrants_shared", "transformed"]]
             .itertuples(index=False)}
    assert pairs == {
        ("sd/flip", "sd/orig"): (4, True), ("sd/flip", "sd/same"): (4, True), ("sd/flip", "sd/turn"): (4, True),
        ("sd/orig", "sd/turn"): (4, True), ("sd/same", "sd/turn"): (4, True), ("sd/orig", "sd/same"): (4, False),
    }
    assert audit.groups()["sd/other"] == "sd/other"
    assert "6 pairs, 5 of them flipped/rotated" in audit.summary()


@pytest.mark.parametrize("side", [64, 30, 510])
def test_a_quadrant_has_one_key_in_all_eight_orientations(side):
    quadrant = noise(side, side)
    keys = {quadrant_keys(np.tile(orient(quadrant, t), (1, 2, 2)))[0].key for t in range(8)}
    assert len(keys) == 1 and None not in keys
    assert quadrant_keys(noise(side * 2, side * 2))[0].key not in keys
    flags = [quadrant_keys(np.tile(orient(quadrant, t), (1, 2, 2)))[0].transformed for t in range(8)]
    assert sum(flags) == 7  # exactly one orientation is the canonical one


def test_blank_and_fill_quadrants_are_skipped_and_link_nothing():
    white, grey = np.full((3, 64, 64), 255, np.uint8), np.full((3, 64, 64), 90, np.uint8)
    top_white = [noise(64, 64) for _ in range(2)]
    for image in top_white:
        image[:, :32] = 255  # two quadrants of pure white
    black_60, black_40 = noise(64, 64), noise(64, 64)
    black_60[:, :32, :32][:, : round(32 * 0.6)] = 0  # 60 % of the top-left quadrant pure black
    black_40[:, :32, :32][:, : round(32 * 0.4)] = 0
    items = {"sd/w1": white, "sd/w2": white.copy(), "sd/grey": grey, "sd/t1": top_white[0], "sd/t2": top_white[1],
             "sd/b60": black_60, "sd/b40": black_40}
    audit = audit_arrays([(uid, "sd", image) for uid, image in items.items()], progress=False)
    assert audit.pairs.empty and (audit.tiles["group_size"] == 1).all()
    skipped = audit.quadrants[audit.quadrants["key"].isna()].groupby("uid")["quadrant"].apply(list).to_dict()
    assert skipped == {"sd/w1": [0, 1, 2, 3], "sd/w2": [0, 1, 2, 3], "sd/grey": [0, 1, 2, 3], "sd/t1": [0, 1],
                       "sd/t2": [0, 1], "sd/b60": [0]}
    assert audit.skipped_quadrants == 17


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="square tiles with an even side"):
        quadrant_keys(noise(64, 32))
    with pytest.raises(ValueError, match="given twice"):
        audit_arrays([("sd/a", "sd", noise(8, 8)), ("sd/a", "sd", noise(8, 8))], progress=False)


def test_merge_groups_joins_groupings():
    merged = merge_groups({"a": "a", "b": "a", "d": "d"}, {"b": "b", "c": "b", "e": "e"}, {"d": "x", "e": "x"})
    assert merged == {"a": "a", "b": "a", "c": "a", "d": "d", "e": "d"}


# --------------------------------------------------------------------------- report and grouped split


def test_report_counts_validation_pixels_seen_in_training():
    scene = noise(64, 96)
    a, b, c = scene[:, :, :64], scene[:, :, 32:], noise(64, 64)  # b: left half is a's right half
    d = np.rot90(a, 2, axes=(1, 2))  # a turned copy in another sub-dataset
    audit = audit_arrays([("x/a", "x", a), ("x/b", "x", b), ("x/c", "x", c), ("y/d", "y", d)], progress=False)
    report = leakage_report(audit, [record("x/a", "train"), record("x/b", "val"), record("x/c", "val"),
                                    record("y/d", "val")]).set_index("subdataset")
    assert report.loc["x"].tolist() == [2, 1, 0.5, 2 * 64 * 64, 2 * 32 * 32, 0.25]
    assert report.loc["y"].tolist() == [1, 1, 1.0, 64 * 64, 64 * 64, 1.0]
    assert report.loc["total"].tolist() == [3, 2, 2 / 3, 3 * 64 * 64, 6144, 0.5]
    with pytest.raises(ValueError, match="needs split"):
        leakage_report(audit, [record("x/a")])
    with pytest.raises(ValueError, match="not in the audit"):
        leakage_report(audit, [record("x/zzz", "val")])


def test_grouped_split_leaves_no_content_shared_across_it():
    items = []
    for s in range(6):  # six planted groups of 2 to 6 tiles, in two sub-datasets
        sd = "x" if s % 2 else "y"
        items += [(f"{sd}/{uid.split('/')[1]}", sd, image)
                  for uid, image in cut(noise(64 + 32 * (s % 2), 96 + 32 * (s // 3)), 64, f"s{s}").values()]
    items += [(f"{'xy'[i % 2]}/single{i:02d}", "xy"[i % 2], noise(64, 64)) for i in range(30)]
    audit = audit_arrays(items, progress=False)
    records = [record(uid) for uid, _, _ in items]
    random = leakage_report(audit, make_split(records, seed=0)).set_index("subdataset")
    assert random.loc["total", "val_tiles_sharing"] > 0  # the leakage the grouped split removes
    split = make_grouped_split(records, audit.groups(), seed=0)
    report = leakage_report(audit, split).set_index("subdataset")
    assert report.loc["total", "val_tiles_sharing"] == 0 and report.loc["total", "val_pixels_in_train"] == 0
    side = {r.uid: r.split for r in split}
    assert all(len({side[u] for u in members}) == 1 for _, members in audit.tiles.groupby("group_id")["uid"])
    for sd in ("x", "y"):
        n = sum(r.subdataset == sd for r in split)
        assert abs(report.loc[sd, "val_tiles"] - round(0.3 * n)) <= 1


def test_written_groups_csv(tmp_path):
    audit = audit_arrays([(uid, "sd", image) for uid, image in cut(noise(64, 96), 64, "t").values()], progress=False)
    table = pd.read_csv(write_groups_csv(audit, tmp_path / "g.csv"))
    assert table.to_dict("list") == {"tile": ["sd/t00", "sd/t01"], "subdataset": ["sd", "sd"],
                                     "group_id": ["sd/t00", "sd/t00"], "group_size": [2, 2]}


# --------------------------------------------------------------------------- tiles on disk


@requires_real_data
def test_real_hokkaido_tiles_pair_exactly_as_known():
    records = CAS.list_tiles(HOKKAIDO.parent)
    assert len(records) == 24
    audit = audit_records(records, progress=False, workers=2)
    pairs = {(a.split("/")[1], b.split("/")[1]) for a, b in audit.pairs[["uid_a", "uid_b"]].itertuples(index=False)}
    assert pairs == {("10301", "10340"), ("10303", "10340"), ("10509", "10555"), ("10784", "10785")}
    assert not audit.pairs["transformed"].any() and audit.skipped_quadrants == 0
    assert audit.tiles.equals(audit_records(records, progress=False, workers=1).tiles)


@requires_real_data
def test_grouped_split_of_real_tiles_has_no_leakage(hokkaido_copy):
    records = CAS.list_tiles(hokkaido_copy)
    split, audit = grouped_split(records, seed=0, progress=False)
    assert leakage_report(audit, split)["val_pixels_in_train"].tolist() == [0, 0]
    assert leakage_report(audit, make_split(records, seed=0))["val_pixels_in_train"].iloc[-1] == 3 * 256 * 256
    side = {r.uid: r.split for r in split}
    assert side["hokkaido/10301"] == side["hokkaido/10303"] == side["hokkaido/10340"]
    assert sum(s == "val" for s in side.values()) == 7
    manifest = hokkaido_copy / "grouped.csv"
    assert save_grouped_split(split, manifest, root=hokkaido_copy, seed=0, val_fraction=0.3) is True
    assert save_grouped_split(split, manifest, root=hokkaido_copy, seed=0, val_fraction=0.3) is False
    with pytest.raises(ManifestError, match="holds another split"):
        save_grouped_split(make_split(records, seed=0), manifest, root=hokkaido_copy, seed=0, val_fraction=0.3)


def test_non_square_tiles_are_refused_naming_the_file(tmp_path):
    image, mask = write_pair(tmp_path, "Lombok", "narrow", noise(64, 32), np.zeros((64, 32), np.uint8))
    records = CAS.with_tile_size(None).list_tiles(tmp_path)
    with pytest.raises(TileSizeError, match="narrow.tif: is 64×32; the leakage audit needs square tiles"):
        audit_records(records, source=CAS.with_tile_size(None), progress=False)


def test_spatial_groups_link_overlapping_and_nearby_tiles(tmp_path):
    def tile(name: str, left: float, top: float, crs: str | None = "EPSG:32654") -> TileRecord:
        georef = {"crs": crs, "transform": Affine(1, 0, left, 0, -1, top)} if crs else {}
        path = write_raster(tmp_path / f"{name}.tif", noise(16, 16), **georef)
        return TileRecord(subdataset="sd", group="SAT", name=name, image=path)

    records = [
        tile("a", 20, 16), tile("b", 28, 16),  # overlap by 8 columns, centres in different 32-unit blocks
        tile("c", 960, 16), tile("d", 980, 16),  # apart, but centres in one 32-unit block
        tile("e", 44, 16),  # touches b's right edge: no shared area
        tile("f", 20, 16, crs="EPSG:4326"),  # a's footprint in another CRS
        tile("g", 20, 16, crs=None),  # no georeferencing
    ]
    assert spatial_groups(records, block=1, progress=False) == {
        "sd/a": "sd/a", "sd/b": "sd/a", "sd/c": "sd/c", "sd/d": "sd/d", "sd/e": "sd/e", "sd/f": "sd/f"}
    assert spatial_groups(records, progress=False) == {  # default block: twice the tile width, 32
        "sd/a": "sd/a", "sd/b": "sd/a", "sd/c": "sd/c", "sd/d": "sd/c", "sd/e": "sd/a", "sd/f": "sd/f"}
    assert spatial_groups(records[-1:], progress=False) == {}
    with pytest.raises(ValueError, match="positive"):
        spatial_groups(records, block=0)


# --------------------------------------------------------------------------- command line


@pytest.fixture
def overlap_root(tmp_path):
    """Three 512-px tiles cut from one scene with stride 256 (chained by half overlaps) and four unrelated ones."""
    root = tmp_path / "root"
    scene = noise(512, 1024)
    mask = np.zeros((512, 512), np.uint8)
    for i in range(3):
        write_pair(root, "Lombok", f"Lombok{i:03d}", scene[:, :, 256 * i:256 * i + 512], mask)
    for i in range(3, 7):
        write_pair(root, "Lombok", f"Lombok{i:03d}", noise(512, 512), mask)
    return root


def test_leakage_command_writes_groups_pairs_and_report(overlap_root, capsys):
    assert main(["leakage", str(overlap_root), "-q", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("7 tiles in 5 groups (3 tiles share content with another); 2 pairs, 0 of them")
    folder = overlap_root / "leakage"
    pairs = pd.read_csv(folder / "leakage-pairs.csv")
    assert pairs[["uid_a", "uid_b", "quadrants_shared"]].values.tolist() == [
        ["lombok/Lombok000", "lombok/Lombok001", 2], ["lombok/Lombok001", "lombok/Lombok002", 2]]
    assert set(pd.read_csv(folder / "leakage-groups.csv")["group_id"]) == {
        "lombok/Lombok000", "lombok/Lombok003", "lombok/Lombok004", "lombok/Lombok005", "lombok/Lombok006"}
    report = pd.read_csv(folder / "leakage-report.csv")
    assert report["subdataset"].tolist() == ["lombok", "total"] and report["val_tiles"].tolist() == [2, 2]


def test_split_grouped_command(overlap_root, capsys):
    manifest = overlap_root / "splits" / "split-grouped-seed0.csv"
    assert main(["split", str(overlap_root), "--grouped", "-q"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"wrote {manifest}: 5 train, 2 val tiles")
    assert out[1] == "0 validation pixels seen in training"
    side = {r.name: r.split for r in read_manifest(manifest, overlap_root)}
    assert side["Lombok000"] == side["Lombok001"] == side["Lombok002"] == "train"
    assert main(["split", str(overlap_root), "--grouped", "-q"]) == 0
    assert capsys.readouterr().out.startswith(f"checked {manifest}")
    assert main(["leakage", str(overlap_root), "-q", "--manifest", str(manifest), "--out", str(overlap_root / "l")]) == 0
    assert pd.read_csv(overlap_root / "l" / "leakage-report.csv")["val_pixels_in_train"].tolist() == [0, 0]


@pytest.mark.parametrize("command", [["leakage"], ["split", "--grouped"]])
def test_missing_root_is_an_error(tmp_path, capsys, command):
    assert main([command[0], str(tmp_path / "nowhere"), *command[1:], "-q"]) == 1
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'nowhere'}: the data root does not exist")


# --------------------------------------------------------------------------- benchmark


def test_benchmark_core_finds_every_planted_group():
    spec = importlib.util.spec_from_file_location("leakage_audit_benchmark", REPO / "benchmarks" / "leakage_audit.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    spec.loader.exec_module(bench)
    row = bench.run_core(200, seed=1)
    assert row["tiles"] == 200 and row["planted_groups"] > 20 and row["planted_copies"] > 5
    assert row["all_planted_groups_found"] == "yes" and row["partitions_equal"] == "yes" and row["false_links"] == 0
    assert row["copies_found_as_transformed"] == row["planted_copies"] and row["skipped_quadrants"] > 0
