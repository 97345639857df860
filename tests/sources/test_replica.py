"""The synthetic full-size replica: Table 2 counts, the real layout and names, uncompressed tiles cut from scenes
every 256 px, the same bytes whatever the workers, resuming, refusing other settings, and the synthetic label."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from landslide_core.book.page import SectionRun
from landslide_core.building.leakage import audit_records
from landslide_core.cli import main
from landslide_core.errors import ConfigError, PathProblemError
from landslide_core.io.raster import open_raster, read_raster
from landslide_core.provenance import read_record
from landslide_core.sections.building import published_root
from landslide_core.sources import get_source
from landslide_core.sources.cas import CAS, REPLICA_DATA, find_subdataset, is_replica, subdatasets
from landslide_core.sources.cas.demo import folder_name, write_demo_data
from landslide_core.sources.cas.registry import TILE_SIZE
from landslide_core.sources.cas.replica import (
    CAS_PART,
    GENERATOR,
    NAMING,
    STAND_INS_FOLDER,
    STRIDE,
    plan_scenes,
    replica_counts,
    table7_count,
    tile_prefix,
    write_replica,
)
from landslide_core.sources.cas.synthetic import synthetic_info
from landslide_core.sources.replica_stand_ins import replica_stand_ins
from landslide_core.sources.stand_in_marker import stand_in_label

FRACTION = 0.002
"""About 40 tiles: every sub-dataset at least one, the largest a dozen from one scene."""
TINY = 0.0005
"""One to three tiles per sub-dataset: for the runs a test writes twice."""


@pytest.fixture(scope="module")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small replica with the four stand-ins, written once for this module (in this process)."""
    root = tmp_path_factory.mktemp("replica") / "cas"
    write_replica(root, fraction=FRACTION, workers=1, progress=False, stand_ins=replica_stand_ins())
    return root


def _tile_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.tif*"))}


def test_counts_are_table2_scaled_and_sum_to_the_dataset_at_full_size() -> None:
    full = replica_counts(1.0)
    assert full == {sd.key: sd.paper_tiles for sd in subdatasets()}
    assert sum(full.values()) == 20_865
    tenth = replica_counts(0.1)
    assert tenth == {sd.key: max(1, round(sd.paper_tiles * 0.1)) for sd in subdatasets()}
    assert set(replica_counts(1e-6).values()) == {1}
    for fraction in (0, -0.5, 1.5):
        with pytest.raises(ConfigError, match="fraction"):
            replica_counts(fraction)


def test_the_full_plan_gives_every_count_from_overlapping_windows() -> None:
    """At full size, without painting: each sub-dataset's tiles come from its scenes, with gaps in the numbering."""
    per_subdataset: dict[str, list[str]] = defaultdict(list)
    for scene in plan_scenes(0, 1.0):
        assert scene.side == TILE_SIZE + STRIDE * (scene.grid - 1)
        per_subdataset[scene.subdataset] += [name for _, _, name in scene.tiles]
    assert {key: len(names) for key, names in per_subdataset.items()} == replica_counts(1.0)
    for key, names in per_subdataset.items():
        assert len(set(names)) == len(names)
        numbers = sorted(int(re.search(r"(\d+)\.tiff?$", name).group(1)) for name in names)
        assert numbers[-1] > len(numbers), f"{key}: no window removed"


def test_scans_clean_with_all_16_folders_under_their_real_names(replica: Path) -> None:
    scan = CAS.scan(replica)
    assert scan.problems == []
    assert scan.ignored == []  # the stand-ins' folder starts with '_': not even listed
    assert len(scan.records) == sum(replica_counts(FRACTION).values())
    assert sorted(f.path.name for f in scan.folders) == sorted(folder_name(sd.key) for sd in subdatasets())
    assert {f.subdataset.key for f in scan.folders if f.subdataset} == {sd.key for sd in subdatasets()}
    names = {f.path.name for f in scan.folders}
    assert {"Longxi River（UAV）", "Tiburon Peninsula（planet）", "Moxi town（UAV-1m）",
            "Jiuzhai valley (UAV-0.5m)"} <= names
    counts = defaultdict(int)
    for record in scan.records:
        counts[record.subdataset] += 1
    assert counts == replica_counts(FRACTION)


def test_file_names_are_in_the_real_style_with_gaps_and_both_endings(replica: Path) -> None:
    records = CAS.scan(replica).records
    suffixes = {r.image.suffix for r in records}
    assert suffixes == {".tif", ".tiff"}
    gaps = 0
    for sd in subdatasets():
        digits, endings = NAMING[sd.key]
        files = [r.image.name for r in records if r.subdataset == sd.key]
        for name in files:
            assert re.fullmatch(rf"{re.escape(tile_prefix(sd))}\d{{{digits},}}\.tiff?", name), name
            assert Path(name).suffix in endings
        numbers = sorted(int(re.search(r"(\d+)\.tiff?$", name).group(1)) for name in files)
        gaps += numbers != list(range(1, len(numbers) + 1))
        if sd.tile_name_prefixes:
            assert find_subdataset(sd.name) == sd
    assert gaps > 0
    assert tile_prefix(next(sd for sd in subdatasets() if sd.key == "hokkaido")) == "Hokkaido"


def test_tiles_are_uncompressed_512_rgb_with_0_1_masks(replica: Path) -> None:
    records = CAS.scan(replica).records
    shares = []
    for record in records:
        for path, bands in ((record.image, 3), (record.mask, 1)):
            with open_raster(path) as src:
                assert (src.width, src.height, src.count) == (TILE_SIZE, TILE_SIZE, bands)
                assert src.dtypes[0] == "uint8"
                assert src.compression is None and not src.profile.get("tiled")
                assert src.crs is None
        mask = read_raster(record.mask)
        assert set(np.unique(mask).tolist()) <= {0, 1}
        shares.append(float(mask.mean()))
    assert max(shares) > 0.01 and len(set(shares)) > len(shares) // 2
    image = read_raster(records[0].image)
    assert image.std() > 5  # textured, not flat


def test_same_bytes_whatever_the_workers(tmp_path: Path) -> None:
    one = write_replica(tmp_path / "one", fraction=TINY, workers=1, progress=False)
    two = write_replica(tmp_path / "two", fraction=TINY, workers=2, progress=False)
    assert (one.workers, two.workers) == (1, 2)
    assert _tile_bytes(tmp_path / "one") == _tile_bytes(tmp_path / "two")
    assert len(_tile_bytes(tmp_path / "one")) == 2 * sum(replica_counts(TINY).values())


def test_the_leakage_audit_finds_neighbouring_windows(replica: Path) -> None:
    records = CAS.scan(replica).records
    audit = audit_records(records, progress=False)
    pairs = audit.pairs
    assert len(pairs) > 0
    subdataset = dict(zip(audit.tiles["uid"], audit.tiles["subdataset"], strict=True))
    assert all(subdataset[a] == subdataset[b] for a, b in zip(pairs["uid_a"], pairs["uid_b"], strict=True))
    assert (pairs["shared_pixels"] == TILE_SIZE * STRIDE).any()  # side by side: half a tile shared
    assert not pairs["transformed"].any()


def test_resuming_rewrites_only_what_is_missing(tmp_path: Path) -> None:
    root = tmp_path / "replica"
    write_replica(root, fraction=TINY, workers=1, progress=False)
    before = _tile_bytes(root)
    times = {p: p.stat().st_mtime_ns for p in root.rglob("*.tif*")}
    removed = sorted(times)[0]
    removed.unlink()
    leftover = removed.parent / f".{removed.name}.x1y2.tmp.tif"  # a write cut short by a killed run
    leftover.write_bytes(b"half")
    report = write_replica(root, fraction=TINY, workers=1, progress=False)
    assert [(p.name, p.samples) for p in report.parts] == [(CAS_PART, 1)]
    assert report.parts[0].skipped == sum(replica_counts(TINY).values()) - 1
    assert not leftover.exists()
    assert _tile_bytes(root) == before
    assert [p for p, t in times.items() if p.stat().st_mtime_ns != t] == [removed]


def test_refuses_other_settings_other_data_and_demo_data(replica: Path, tmp_path: Path) -> None:
    with pytest.raises(PathProblemError, match="other settings") as error:
        write_replica(replica, seed=1, fraction=FRACTION, workers=1, progress=False)
    assert str(replica) in str(error.value) and f"--seed 0 --fraction {FRACTION}" in str(error.value)
    with pytest.raises(PathProblemError, match="other settings"):
        write_replica(replica, fraction=FRACTION / 2, workers=1, progress=False)
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "notes.txt").write_text("keep me")
    with pytest.raises(PathProblemError, match="holds no replica"):
        write_replica(tmp_path / "real", fraction=TINY, progress=False)
    demo = write_demo_data(tmp_path / "demo", subdatasets=("hokkaido",), tiles_per_subdataset=1, progress=False)
    with pytest.raises(PathProblemError, match="demo data, not a replica"):
        write_replica(demo, fraction=TINY, progress=False)


def test_labelled_synthetic_with_its_settings(replica: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert CAS.is_synthetic(replica) and is_replica(replica)
    assert CAS.data_label(replica) == REPLICA_DATA == "full-size replica, synthetic"
    assert {r.source for r in CAS.scan(replica).records} == {"replica (synthetic)"}
    # Laid out as the published dataset: the building and validation pages audit it as published tiles.
    assert published_root(replica) == replica
    shown: list[object] = []
    monkeypatch.setattr("landslide_core.book.page.display", shown.append)
    run = SectionRun.start("building", profile="rehearsal", parameters={}, data_root=replica, records=[],
                           results_dir=tmp_path)
    assert run.synthetic and run.data_label == REPLICA_DATA
    run.banner()
    assert shown[-1].data.startswith("**Full-size replica, synthetic.** The tiles behind this page were written by "
                                     f"`landslide-core replica` (seed 0, fraction {FRACTION} ")
    assert "not CAS imagery" in shown[-1].data
    # A page on other data (the building page's demo scenes) with a part on the replica: the part says so and its
    # records carry the replica's provenance.
    page = SectionRun.start("building", profile="rehearsal", parameters={}, data_root=tmp_path, records=[],
                            results_dir=tmp_path)
    part = page.on_data(replica)
    part.banner()
    assert shown[-1].data.startswith("**Full-size replica, synthetic.** The tiles behind this part were written")
    part.record(pd.DataFrame({"tiles": [len(part.records)]}), "published_counts")
    _, provenance = read_record(tmp_path / "published_counts")
    assert provenance.data_kind == REPLICA_DATA and provenance.data_root == str(replica.resolve())
    assert len(part.records) == len(CAS.scan(replica).records) > 0
    info = synthetic_info(replica)
    assert (info["generator"], info["seed"], info["fraction"], info["complete"]) == (GENERATOR, 0, FRACTION, True)
    assert info["stand_ins"] == sorted(s.name for s in replica_stand_ins())


def test_stand_ins_at_their_scaled_real_sizes(replica: Path) -> None:
    sizes = {s.name: s.scaled(FRACTION) for s in replica_stand_ins()}
    assert replica_stand_ins()[0].sizes == {"landslide": table7_count("Bijie")}
    expected = {"bijie": sizes["bijie"]["landslide"], "sichuan": sizes["sichuan"]["count"],
                "hr-gldd": sizes["hr-gldd"]["train"] + sizes["hr-gldd"]["val"],  # the source reads one held-out array
                "landslide4sense": sizes["landslide4sense"]["train"]}
    for name, count in expected.items():
        source = get_source(name)
        folder = replica / STAND_INS_FOLDER / name
        assert len(source.scan(folder).records) == count, name
        assert source.data_label(folder) == stand_in_label(source.title)
    for split, rows in sizes["hr-gldd"].items():
        assert np.load(replica / STAND_INS_FOLDER / "hr-gldd" / f"{split}X.npy", mmap_mode="r").shape[0] == rows


def test_cli_writes_and_says_synthetic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "replica"
    assert main(["replica", str(root), "--fraction", str(TINY), "--no-stand-ins", "--workers", "1", "-q"]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC replica" in out and f"cas: {sum(replica_counts(TINY).values())} written" in out
    assert main(["replica", str(root), "--fraction", "0.5", "-q"]) == 1
    assert "other settings" in capsys.readouterr().err
