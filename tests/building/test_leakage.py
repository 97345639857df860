"""The leakage audit, judged by an independent brute-force pixel comparison: anchors, pairs and groups of tiles cut
at every stride with flush edges, the same scene in two sub-datasets, flipped and rotated copies; the report; the
grouped split; footprints; the real tiles; the CLI; the benchmark's core.

Every test scene gives each pixel its own colour (a 24-bit id, shuffled), so two tiles share a pixel exactly when they
hold the same colour: :func:`brute_force_shared` counts, for every two tiles, the colours they have in common, which
compares every pixel of one with every pixel of the other at every offset and in every orientation at once, without
the audit's anchors or alignments. It is itself checked against the overlaps the cut positions give.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import Affine

from landslide_core.building.leakage import (
    _Audit,
    audit_arrays,
    audit_records,
    leakage_report,
    merge_groups,
    spatial_groups,
    write_groups_csv,
)
from landslide_core.building.leakage_keys import (
    BLOCK,
    GUARANTEED_SIDE,
    compose,
    inverse,
    orient,
    oriented_box,
    tile_anchors,
)
from landslide_core.building.leakage_split import grouped_split, save_grouped_split
from landslide_core.building.tiling import TilingOptions, tile_scene, tile_windows
from landslide_core.cli import main
from landslide_core.data.splits import make_grouped_split, make_split, read_manifest
from landslide_core.errors import ManifestError, TileSizeError
from landslide_core.io.raster import read_raster, write_raster
from landslide_core.sources import BijieSource
from landslide_core.sources.cas import CAS
from landslide_core.tiles import TileRecord
from tests.conftest import REPO, SAMPLE, write_pair

RNG = np.random.default_rng(7)
_next_id = [0]  # pixel ids handed out so far


def unique_scene(rows: int, cols: int) -> np.ndarray:
    """An RGB scene whose every pixel has a colour no other pixel of the scenes made shortly before or after it has
    (ids shuffled, so noise; never black or white, the fill colours). One test uses far fewer than 2**24 - 2."""
    ids = (RNG.permutation(rows * cols) + _next_id[0]) % (0xFFFFFF - 1) + 1
    _next_id[0] += rows * cols
    return np.stack([(ids >> 16) & 255, (ids >> 8) & 255, ids & 255]).reshape(3, rows, cols).astype(np.uint8)


def noise(*shape: int) -> np.ndarray:
    return RNG.integers(0, 256, (3, *shape), dtype=np.uint8)


def brute_force_shared(images: dict[str, np.ndarray]) -> dict[tuple[str, str], int]:
    """For every two tiles (uids sorted), how many pixel colours they have in common; pairs with none left out."""
    uids = sorted(images)
    assert len(uids) < 256
    # colour and tile number in one integer: sorted, equal colours lie next to each other, lower tile first
    packed = np.sort(np.concatenate([((images[u][0].astype(np.int64) << 16 | images[u][1].astype(np.int64) << 8
                                       | images[u][2]) << 8 | i).ravel() for i, u in enumerate(uids)]))
    colours, owner = packed >> 8, packed & 255
    counts = np.zeros(len(uids) ** 2, np.int64)
    step = 1
    while (same := colours[step:] == colours[:-step]).any():
        a, b = owner[:-step][same], owner[step:][same]
        assert (a != b).all(), "a test tile holds one colour twice"
        counts += np.bincount(a * len(uids) + b, minlength=len(uids) ** 2)
        step += 1
    return {(uids[i // len(uids)], uids[i % len(uids)]): int(n) for i, n in enumerate(counts) if n}


class Planted:
    """Test tiles with where they come from: scene, window on it and orientation."""

    def __init__(self) -> None:
        self.images: dict[str, np.ndarray] = {}
        self.subdataset: dict[str, str] = {}
        self.origin: dict[str, tuple[int, int, int, int]] = {}  # scene number, row, col, side
        self.copies: dict[str, str] = {}  # copy → original

    def cut(self, scene: np.ndarray, number: int, stride: int, subdataset: str, prefix: str, *,
            size: int = 512) -> list[str]:
        """The project's tiler's windows (last row and column flush with the edge)."""
        windows = tile_windows(scene.shape[2], scene.shape[1], TilingOptions(size=size, stride=stride))
        uids = []
        for _, _, w in windows:
            y, x = int(w.row_off), int(w.col_off)
            uids.append(self.add(f"{subdataset}/{prefix}_{y:04d}_{x:04d}", subdataset,
                                 scene[:, y:y + size, x:x + size], (number, y, x, size)))
        return uids

    def add(self, uid: str, subdataset: str, image: np.ndarray, origin: tuple[int, int, int, int]) -> str:
        self.images[uid], self.subdataset[uid], self.origin[uid] = image, subdataset, origin
        return uid

    def copy(self, uid: str, transform: int, subdataset: str) -> str:
        name = f"{subdataset}/copy{transform}-{uid.replace('/', '-')}"
        self.copies[name] = uid
        return self.add(name, subdataset, np.ascontiguousarray(orient(self.images[uid], transform)), self.origin[uid])

    def items(self) -> list[tuple[str, str, np.ndarray]]:
        return [(uid, self.subdataset[uid], image) for uid, image in self.images.items()]

    @functools.cached_property
    def truth(self) -> dict[tuple[str, str], int]:
        """The brute-force count (compute once all tiles are added)."""
        return brute_force_shared(self.images)

    def overlaps(self) -> dict[tuple[str, str], int]:
        """Pixels every two tiles share by construction: the overlap of their windows on one scene."""
        found = {}
        for a, b in combinations(sorted(self.images), 2):
            (sa, ya, xa, na), (sb, yb, xb, nb) = self.origin[a], self.origin[b]
            rows = min(ya + na, yb + nb) - max(ya, yb)
            cols = min(xa + na, xb + nb) - max(xa, xb)
            if sa == sb and rows > 0 and cols > 0:
                found[(a, b)] = rows * cols
        return found


def pairs_of(audit) -> dict[tuple[str, str], int]:
    return dict(zip(zip(audit.pairs["uid_a"], audit.pairs["uid_b"], strict=True), audit.pairs["shared_pixels"],
                    strict=True))


def shared_across(split: list[TileRecord], truth: dict[tuple[str, str], int]) -> list[tuple[str, str, int]]:
    """Validation and training tiles that share pixels, by the brute-force count."""
    side = {r.uid: r.split for r in split}
    return [(a, b, n) for (a, b), n in truth.items() if {side[a], side[b]} == {"train", "val"}]


# --------------------------------------------------------------------------- the orientation algebra and anchors


def test_orientations_compose_invert_and_move_boxes_as_the_arrays_do():
    array = RNG.integers(0, 100, (5, 7))
    for a in range(8):
        assert (orient(orient(array, a), inverse(a)) == array).all()
        for b in range(8):
            assert (orient(orient(array, a), b) == orient(array, compose(a, b))).all()
        marked = np.zeros((9, 13), int)
        marked[2:5, 3:9] = 1
        rows, cols = np.nonzero(orient(marked, a))
        assert oriented_box(a, 9, 13, 2, 3, 3, 6) == (rows.min(), cols.min(), np.ptp(rows) + 1, np.ptp(cols) + 1)


def test_anchors_are_the_same_in_every_orientation_and_at_every_offset():
    scene = noise(700, 700)
    tile = scene[:, :512, :512]
    keys = set(tile_anchors(tile).keys.tolist())
    assert 150 < len(keys) < 600
    assert all(set(tile_anchors(orient(tile, t)).keys.tolist()) == keys for t in range(8))
    for dy, dx in ((137, 61), (1, 0), (100, 188)):  # a shifted tile keeps the anchors of what it still holds
        moved = tile_anchors(scene[:, dy:dy + 512, dx:dx + 512])
        inner = (tile_anchors(tile).rows >= dy + GUARANTEED_SIDE) & (tile_anchors(tile).cols >= dx + GUARANTEED_SIDE)
        assert set(tile_anchors(tile).keys[inner].tolist()) <= set(moved.keys.tolist())


@pytest.mark.parametrize("trial", range(12))
def test_any_shared_64_px_square_is_found_in_any_orientation_and_position(trial):
    """The documented guarantee, at random: two otherwise unrelated tiles sharing one 64×64 square."""
    rng = np.random.default_rng(trial)
    a, b = unique_scene(256, 192), unique_scene(200, 256)
    square = a[:, (y := int(rng.integers(0, 256 - 64))):y + 64, (x := int(rng.integers(0, 192 - 64))):x + 64]
    transform = int(rng.integers(8))
    y, x = int(rng.integers(0, 200 - 64)), int(rng.integers(0, 256 - 64))
    b[:, y:y + 64, x:x + 64] = orient(square, transform)
    audit = audit_arrays([("sd/a", "sd", a), ("sd/b", "sd", b)], progress=False)
    assert pairs_of(audit) == {("sd/a", "sd/b"): 64 * 64} == brute_force_shared({"sd/a": a, "sd/b": b})
    row = audit.pairs.iloc[0]
    assert (row.a_bottom - row.a_top, row.a_right - row.a_left) == (64, 64) and row.found_by == "content"
    assert row.orientation == inverse(transform) if transform else not row.transformed
    assert GUARANTEED_SIDE == 64 and BLOCK == 8


def test_blank_and_fill_tiles_have_no_anchors_and_link_nothing():
    white, grey = np.full((3, 128, 128), 255, np.uint8), np.full((3, 128, 128), 90, np.uint8)
    half_white = [noise(128, 128) for _ in range(2)]
    for image in half_white:
        image[:, :64] = 255
    black = np.zeros((3, 128, 128), np.uint8)
    items = {"sd/w1": white, "sd/w2": white.copy(), "sd/grey": grey, "sd/grey2": grey.copy(), "sd/black": black,
             "sd/t1": half_white[0], "sd/t2": half_white[1]}
    audit = audit_arrays([(uid, "sd", image) for uid, image in items.items()], progress=False)
    assert audit.pairs.empty and (audit.tiles["group_size"] == 1).all()
    anchors = audit.tiles.set_index("uid")["anchors"]
    assert (anchors.drop(["sd/t1", "sd/t2"]) == 0).all() and (anchors[["sd/t1", "sd/t2"]] > 0).all()
    assert audit.blank_tiles == 5 and "5 blank tiles" in audit.summary()


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="at least 8×8 pixels"):
        tile_anchors(noise(64, 6))
    with pytest.raises(ValueError, match="given twice"):
        audit_arrays([("sd/a", "sd", noise(16, 16)), ("sd/a", "sd", noise(16, 16))], progress=False)
    with pytest.raises(ValueError, match="instead of a generator"):
        audit_arrays(((f"sd/{i}", "sd", noise(16, 16)) for i in range(2)), progress=False)


def test_merge_groups_joins_groupings():
    merged = merge_groups({"a": "a", "b": "a", "d": "d"}, {"b": "b", "c": "b", "e": "e"}, {"d": "x", "e": "x"})
    assert merged == {"a": "a", "b": "a", "c": "a", "d": "d", "e": "d"}


# --------------------------------------------------------------------------- scenes cut at every stride


@pytest.fixture(scope="module")
def every_stride() -> Planted:
    """Four scenes of 1000×1100 px cut at strides 128, 256, 384 and 512 (flush edges: 24-px strips at 512)."""
    planted = Planted()
    for number, stride in enumerate((128, 256, 384, 512)):
        planted.cut(unique_scene(1000, 1100), number, stride, "sd", f"s{stride}")
    return planted


def test_brute_force_agrees_with_the_cut_positions(every_stride):
    truth = every_stride.truth
    assert truth == every_stride.overlaps()
    assert len(every_stride.images) == 30 + 12 + 9 + 6 and min(truth.values()) == 24 * 52  # a corner at stride 128


def test_tiles_cut_at_every_stride_pair_exactly_as_the_brute_force_finds(every_stride):
    audit = audit_arrays(every_stride.items(), progress=False)
    truth = every_stride.truth
    assert pairs_of(audit) == truth  # every pair that shares a pixel (recall 1), with its count, and no other
    assert not audit.pairs["transformed"].any()
    for row in audit.pairs.itertuples():  # the shared rectangles are the windows' overlap
        (_, ya, xa, _), (_, yb, xb, _) = every_stride.origin[row.uid_a], every_stride.origin[row.uid_b]
        assert (row.dy, row.dx) == (yb - ya, xb - xa)
        assert (row.a_top, row.a_left) == (max(0, yb - ya), max(0, xb - xa))
    by_stride = audit.tiles.assign(stride=audit.tiles["uid"].str.extract(r"/s(\d+)_")[0])
    # at stride 512 the first column of tiles shares no pixel with the other two (they touch)
    assert by_stride.groupby("stride")["group_id"].nunique().to_dict() == {"128": 1, "256": 1, "384": 1, "512": 2}
    thin = audit.pairs[(audit.pairs["a_bottom"] - audit.pairs["a_top"]).clip(upper=512).combine(
        audit.pairs["a_right"] - audit.pairs["a_left"], min) < GUARANTEED_SIDE]
    assert len(thin) > 0  # strips of the flush tiles, narrower than the anchors' guarantee, found all the same


def test_a_random_split_leaks_and_the_grouped_split_does_not_at_any_stride(every_stride):
    audit = audit_arrays(every_stride.items(), progress=False)
    truth = every_stride.truth
    records = [record(uid) for uid in every_stride.images]
    assert shared_across(make_split(records, seed=0), truth)
    for seed in range(5):
        split = make_grouped_split(records, audit.groups(), links=audit.links(), seed=seed)
        assert shared_across(split, truth) == []
        report = leakage_report(audit, split).set_index("subdataset")
        assert report.loc["total", "val_pixels_in_train"] == 0 and report.loc["total", "val_tiles"] == 17
        assert sum(r.split == "buffer" for r in split) > 0


def test_a_scene_cut_at_stride_128_is_split_with_a_buffer_and_without_leakage(every_stride):
    uids = [uid for uid in every_stride.images if "/s128_" in uid]
    audit = audit_arrays([(uid, "sd", every_stride.images[uid]) for uid in uids], progress=False)
    truth = {pair: n for pair, n in every_stride.truth.items() if pair[0] in uids and pair[1] in uids}
    records = [record(uid) for uid in uids]
    for seed in range(5):
        split = make_grouped_split(records, audit.groups(), links=audit.links(), seed=seed)
        assert shared_across(split, truth) == []
        assert sum(r.split == "val" for r in split) == 9 and sum(r.split == "buffer" for r in split) > 0


def test_thin_overlaps_are_found_through_the_places_of_linked_tiles():
    """The production cropper's flush tiles (stride 256): on 1000 px the first and last tiles share a 24-px strip
    and a 24×24 corner, on 1023 px a 1-px column; anchors cannot find such strips, the tiles' places can."""
    planted = Planted()
    planted.cut(unique_scene(1000, 1000), 0, 256, "sd", "t")
    planted.cut(unique_scene(700, 1023), 1, 256, "sd", "u")
    audit = audit_arrays(planted.items(), progress=False)
    truth = brute_force_shared(planted.images)
    assert truth == planted.overlaps() and pairs_of(audit) == truth
    pairs = audit.pairs.set_index(["uid_a", "uid_b"])
    assert pairs.loc[("sd/t_0000_0000", "sd/t_0488_0488")].shared_pixels == 24 * 24
    assert pairs.loc[("sd/u_0000_0000", "sd/u_0000_0511")].shared_pixels == 512 * 1
    assert pairs.loc[("sd/u_0000_0000", "sd/u_0188_0511")].shared_pixels == 324 * 1
    assert set(pairs["found_by"]) == {"content", "placement"}


# --------------------------------------------------------------------------- sub-datasets and copies


@pytest.fixture(scope="module")
def two_subdatasets() -> Planted:
    """One scene cut at stride 256 into sub-dataset x and at stride 384 into y; flipped and turned copies in both;
    a second scene in x; unrelated tiles in both."""
    planted = Planted()
    scene = unique_scene(1000, 1100)
    x_tiles = planted.cut(scene, 0, 256, "x", "a")
    y_tiles = planted.cut(scene, 0, 384, "y", "a")
    planted.cut(unique_scene(900, 1000), 1, 128, "x", "b")
    for t, uid in zip(range(1, 8), [*x_tiles[:4], *y_tiles[:3]], strict=True):
        planted.copy(uid, t, "y" if t % 2 else "x")
    for i in range(6):
        planted.add(f"{'xy'[i % 2]}/single{i}", "xy"[i % 2], unique_scene(512, 512), (100 + i, 0, 0, 512))
    return planted


def test_the_same_scene_in_two_subdatasets_and_flipped_copies_pair_exactly(two_subdatasets):
    audit = audit_arrays(two_subdatasets.items(), progress=False)
    truth = two_subdatasets.truth
    assert truth == two_subdatasets.overlaps() and pairs_of(audit) == truth
    across = audit.pairs[audit.pairs["subdataset_a"] != audit.pairs["subdataset_b"]]
    assert len(across) > 20
    pairs = audit.pairs.set_index(["uid_a", "uid_b"])
    for copy, original in two_subdatasets.copies.items():  # a copy lines up on its original in full, turned back
        row = pairs.loc[tuple(sorted((copy, original)))]
        assert row.shared_pixels == 512 * 512 and row.transformed


def test_a_grouped_split_keeps_linked_tiles_of_other_subdatasets_out_of_training(two_subdatasets):
    audit = audit_arrays(two_subdatasets.items(), progress=False)
    truth = two_subdatasets.truth
    records = [record(uid) for uid in two_subdatasets.images]
    assert shared_across(make_split(records, seed=0), truth)
    left_out_in_y = []
    for seed in range(6):
        split = make_grouped_split(records, audit.groups(), links=audit.links(), seed=seed)
        assert shared_across(split, truth) == []
        x = [r for r in split if r.subdataset == "x"]
        assert sum(r.split == "val" for r in x) == round(0.3 * len(x))  # a scene is cut in x
        left_out_in_y.append(sum(r.split == "buffer" for r in split if r.subdataset == "y"))
    # where x's validation region lies on the scene y holds too, y's tiles with its pixels are left out
    assert max(left_out_in_y) > 0


def record(uid: str, split: str | None = None) -> TileRecord:
    subdataset, name = uid.split("/")
    return TileRecord(subdataset=subdataset, group="SAT", name=name, image=Path(f"{name}.tif"), split=split)


# --------------------------------------------------------------------------- report


def test_report_counts_validation_pixels_seen_in_training():
    scene = unique_scene(128, 192)
    a, b, c = scene[:, :, :128], scene[:, :, 64:], unique_scene(128, 128)  # b: left half is a's right half
    d = np.ascontiguousarray(np.rot90(a, 2, axes=(1, 2)))  # a turned copy in another sub-dataset
    audit = audit_arrays([("x/a", "x", a), ("x/b", "x", b), ("x/c", "x", c), ("y/d", "y", d)], progress=False)
    report = leakage_report(audit, [record("x/a", "train"), record("x/b", "val"), record("x/c", "val"),
                                    record("y/d", "val")]).set_index("subdataset")
    tile = 128 * 128
    assert report.loc["x"].tolist() == [2, 1, 0.5, 2 * tile, tile // 2, 0.25]
    assert report.loc["y"].tolist() == [1, 1, 1.0, tile, tile, 1.0]
    assert report.loc["total"].tolist() == [3, 2, 2 / 3, 3 * tile, 3 * tile // 2, 0.5]
    with pytest.raises(ValueError, match="needs split"):
        leakage_report(audit, [record("x/a")])
    with pytest.raises(ValueError, match="not in the audit"):
        leakage_report(audit, [record("x/zzz", "val")])


def test_written_groups_csv(tmp_path):
    scene = unique_scene(128, 192)
    audit = audit_arrays([("sd/t0", "sd", scene[:, :, :128]), ("sd/t1", "sd", scene[:, :, 64:])], progress=False)
    table = pd.read_csv(write_groups_csv(audit, tmp_path / "g.csv"))
    assert table.to_dict("list") == {"tile": ["sd/t0", "sd/t1"], "subdataset": ["sd", "sd"],
                                     "group_id": ["sd/t0", "sd/t0"], "group_size": [2, 2]}


# --------------------------------------------------------------------------- tiles on disk


@pytest.mark.real_data
def test_real_hokkaido_tiles_pair_exactly_as_known():
    records = CAS.list_tiles(SAMPLE)
    assert len(records) == 24
    audit = audit_records(records, progress=False, workers=2)
    pairs = {(a.split("/")[1], b.split("/")[1]) for a, b in audit.pairs[["uid_a", "uid_b"]].itertuples(index=False)}
    assert pairs == {("10301", "10340"), ("10303", "10340"), ("10509", "10555"), ("10784", "10785")}
    images = {r.uid: read_raster(r.image) for r in records}
    for row in audit.pairs.itertuples():  # real colours repeat, so the pixels are compared where the audit says
        a = images[row.uid_a][:, row.a_top:row.a_bottom, row.a_left:row.a_right]
        b = orient(images[row.uid_b], row.orientation)[:, row.a_top - row.dy:row.a_bottom - row.dy,
                                                     row.a_left - row.dx:row.a_right - row.dx]
        assert (a == b).all() and row.shared_pixels == a[0].size >= 256 * 256
    assert not audit.pairs["transformed"].any() and audit.blank_tiles == 0
    assert audit.tiles["anchors"].between(238, 292).all()  # as the keys module says
    assert audit.tiles.equals(audit_records(records, progress=False, workers=1).tiles)


@pytest.mark.real_data
def test_grouped_split_of_real_tiles_has_no_leakage(hokkaido_copy):
    records = CAS.list_tiles(hokkaido_copy)
    split, audit = grouped_split(records, seed=0, progress=False)
    assert leakage_report(audit, split)["val_pixels_in_train"].tolist() == [0, 0]
    assert leakage_report(audit, make_split(records, seed=0))["val_pixels_in_train"].iloc[-1] > 0
    side = {r.uid: r.split for r in split}
    assert side["hokkaido/10301"] == side["hokkaido/10303"] == side["hokkaido/10340"]
    assert sum(s == "val" for s in side.values()) == 7
    manifest = hokkaido_copy / "grouped.csv"
    assert save_grouped_split(split, manifest, root=hokkaido_copy, seed=0, val_fraction=0.3) is True
    assert save_grouped_split(split, manifest, root=hokkaido_copy, seed=0, val_fraction=0.3) is False
    with pytest.raises(ManifestError, match="holds another split"):
        save_grouped_split(make_split(records, seed=0), manifest, root=hokkaido_copy, seed=0, val_fraction=0.3)


def test_tiles_smaller_than_a_block_are_refused_naming_the_file(tmp_path):
    write_pair(tmp_path, "Lombok", "tiny", noise(64, 6), np.zeros((64, 6), np.uint8))
    records = CAS.with_tile_size(None).list_tiles(tmp_path)
    with pytest.raises(TileSizeError, match="tiny.tif: is 64×6; the leakage audit needs tiles of at least 8×8"):
        audit_records(records, source=CAS.with_tile_size(None), progress=False)


def test_georeferenced_tiles_are_linked_by_footprint_and_split_without_leakage(tmp_path):
    """Scenes cut by the project's tiler at stride 512 (24-px flush strips only, no other links) and 384."""
    root = tmp_path / "root"
    images = {}
    for number, (stride, folder) in enumerate(((512, "Lombok"), (384, "Wenchuan"))):
        scene = tmp_path / f"scene{number}.tif"
        transform = Affine(3.0, 0, 500_000 + 10_000 * number, 0, -3.0, 4_000_000)
        write_raster(scene, unique_scene(1000, 1000), crs="EPSG:32650", transform=transform)
        labels = write_raster(tmp_path / f"labels{number}.tif", np.zeros((1000, 1000), np.uint8), crs="EPSG:32650",
                              transform=transform)
        tile_scene(scene, root, labels=labels, subdataset=folder, options=TilingOptions(stride=stride),
                   progress=False)
    records = CAS.list_tiles(root)
    images = {r.uid: read_raster(r.image) for r in records}
    truth = brute_force_shared(images)
    split, audit = grouped_split(records, seed=1, progress=False)
    assert pairs_of(audit) == truth
    assert audit.pairs["found_by"].str.contains("footprint").all()
    assert shared_across(split, truth) == []
    assert leakage_report(audit, split).iloc[-1]["val_pixels_in_train"] == 0
    # the blocks from the footprints the audit read are those read from every tile again (as the split once did)
    assert set(audit.footprints) == {r.uid for r in records}
    blocks = merge_groups(audit.groups(), spatial_groups(records, progress=False))
    assert split == make_grouped_split(records, blocks, links=audit.links(), seed=1)


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


# --------------------------------------------------------------------------- reading the tiles


@pytest.fixture(scope="module")
def cut_root(tmp_path_factory) -> Path:
    """Lombok: a 1000×1100 scene cut at stride 256 (12 tiles, no georeferencing); Wenchuan: flipped and turned copies
    of three of them and two unrelated tiles."""
    root = tmp_path_factory.mktemp("cut") / "root"
    planted = Planted()
    uids = planted.cut(unique_scene(1000, 1100), 0, 256, "lombok", "t")
    for transform, uid in zip((4, 2, 7), uids[:3], strict=True):
        planted.copy(uid, transform, "wenchuan")
    for i in range(2):
        planted.add(f"wenchuan/single{i}", "wenchuan", unique_scene(512, 512), (1 + i, 0, 0, 512))
    mask = np.zeros((512, 512), np.uint8)
    for uid, image in planted.images.items():
        write_pair(root, "Lombok" if uid.startswith("lombok/") else "Wenchuan", uid.split("/")[1], image, mask)
    return root


def test_a_grouped_split_reads_each_mask_once_and_each_image_again_only_for_the_pixel_check(cut_root, monkeypatch):
    opened: Counter[Path] = Counter()
    rasterio_open = rasterio.open

    def counted(path, *args, **kwargs):
        opened[Path(path)] += 1
        return rasterio_open(path, *args, **kwargs)

    monkeypatch.setattr(rasterio, "open", counted)
    records = CAS.list_tiles(cut_root)
    _, audit = grouped_split(records, seed=0, progress=False)
    linked = set(audit.pairs["uid_a"]) | set(audit.pairs["uid_b"])
    assert len(linked) == 15 and not audit.footprints
    assert {r.uid: opened[r.mask] for r in records} == {r.uid: 1 for r in records}
    # the pixels for anchors, the header for a footprint (none), the pixels again where a candidate needs them;
    # no tile is opened again for its map block, none having georeferencing
    assert {r.uid: opened[r.image] for r in records} == {r.uid: 3 if r.uid in linked else 2 for r in records}


def test_the_pixel_check_confirms_the_same_pairs_in_any_order_of_reading(cut_root):
    records = CAS.list_tiles(cut_root)
    images = {r.uid: read_raster(r.image) for r in records}
    from_files = audit_records(records, progress=False)  # reads the tiles again in the reverse order
    from_arrays = audit_arrays([(r.uid, r.subdataset, images[r.uid]) for r in records], progress=False)  # in order
    pd.testing.assert_frame_equal(from_files.pairs, from_arrays.pairs)
    assert from_files.groups() == from_arrays.groups()
    assert pairs_of(from_files) == brute_force_shared(images)
    audit = _Audit()
    for r in records:
        audit.add(r.uid, r.subdataset, r.name, tile_anchors(images[r.uid]))
    candidates = audit.candidates()
    needed = audit.needed(candidates)
    in_order = audit.check(candidates, needed, [images[records[t].uid] for t in needed])
    assert len(in_order) == len(from_files.pairs)
    for order in (needed[::-1], RNG.permutation(needed).tolist()):
        assert audit.check(candidates, order, [images[records[t].uid] for t in order]) == in_order


def test_a_source_that_resizes_its_tiles_is_read_through_itself_for_the_pixel_check(tmp_path):
    """Bijie PNGs: 512-px crops of one scene at stride 256 and one 600×400 image, which the source resizes."""
    base = tmp_path / "Bijie-landslide-dataset" / "landslide"
    scene = unique_scene(512, 1024)
    mask = np.zeros((512, 512), np.uint8)
    for i in range(3):
        write_raster(base / "image" / f"df{i:03d}.png", scene[:, :, 256 * i:256 * i + 512], driver="PNG")
        write_raster(base / "mask" / f"df{i:03d}.png", mask, driver="PNG")
    write_raster(base / "image" / "df003.png", unique_scene(600, 400), driver="PNG")
    write_raster(base / "mask" / "df003.png", np.zeros((600, 400), np.uint8), driver="PNG")
    source = BijieSource()
    records = source.list_tiles(tmp_path)
    audit = audit_records(records, source=source, progress=False)
    arrays = audit_arrays([(r.uid, r.subdataset, source.read_tile(r)[0]) for r in records], progress=False)
    pd.testing.assert_frame_equal(audit.pairs, arrays.pairs)
    assert audit.pairs["shared_pixels"].tolist() == [256 * 512, 256 * 512]


# --------------------------------------------------------------------------- command line


@pytest.fixture
def overlap_root(tmp_path):
    """Three 512-px tiles cut from one scene with stride 256 (chained by half overlaps) and four unrelated ones."""
    root = tmp_path / "root"
    scene = unique_scene(512, 1024)
    mask = np.zeros((512, 512), np.uint8)
    for i in range(3):
        write_pair(root, "Lombok", f"Lombok{i:03d}", scene[:, :, 256 * i:256 * i + 512], mask)
    for i in range(3, 7):
        write_pair(root, "Lombok", f"Lombok{i:03d}", unique_scene(512, 512), mask)
    return root


def test_leakage_command_writes_groups_pairs_and_report(overlap_root, capsys):
    assert main(["leakage", str(overlap_root), "-q", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("7 tiles in 5 groups (3 tiles share pixels with another); 2 pairs (2 by content), 0 of them")
    folder = overlap_root / "leakage"
    pairs = pd.read_csv(folder / "leakage-pairs.csv")
    assert pairs[["uid_a", "uid_b", "shared_pixels", "dx"]].values.tolist() == [
        ["lombok/Lombok000", "lombok/Lombok001", 256 * 512, 256], ["lombok/Lombok001", "lombok/Lombok002", 256 * 512, 256]]
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


def test_benchmark_core_finds_every_planted_pair():
    spec = importlib.util.spec_from_file_location("leakage_audit_benchmark", REPO / "benchmarks" / "leakage_audit.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    spec.loader.exec_module(bench)
    row = bench.run_core(200, seed=1)
    assert row["tiles"] == 200 and row["planted_groups"] > 10 and row["planted_copies"] > 5
    assert row["pairs_found"] == row["planted_pairs"] > 100 and row["false_pairs"] == 0
    assert row["partitions_equal"] == "yes" and row["copies_found_as_transformed"] == row["planted_copies"]
    assert row["blank_tiles"] > 0
