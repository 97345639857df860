"""Finding sub-dataset folders and pairing tiles in the real layout."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from landslide_core.errors import DatasetNotFoundError, MissingPartnerError, SubDatasetFolderError
from landslide_core.sources.cas import CAS, layout
from landslide_core.sources.cas.layout import TILE_SUFFIXES, scan
from tests.conftest import random_pair, write_pair


def test_full_width_folders_and_mixed_suffixes_are_paired(make_root):
    root = make_root({"Longxi River（UAV）": 2, "palu": 1}, size=64)
    write_pair(root, "palu", "Palu0117", *random_pair(np.random.default_rng(1), 64), suffix=".tiff")
    records = CAS.list_tiles(root)
    assert [(r.subdataset, r.name, r.image.suffix) for r in records] == [
        ("palu", "Palu0117", ".tiff"),
        ("palu", "tile0000", ".tif"),
        ("longxi-uav", "tile0000", ".tif"),
        ("longxi-uav", "tile0001", ".tif"),
    ]  # registry (paper Table 2) order, then name
    assert {r.group for r in records if r.subdataset == "longxi-uav"} == {"UAV"}
    assert all(r.label is not None and r.label.stem == r.name for r in records)
    assert all(r.source == "CAS" for r in records)
    assert [r.name for r in CAS.select_group(records, "SAT")] == ["Palu0117", "tile0000"]
    assert len(CAS.select_group(records, "UAV&SAT")) == 4
    assert len(CAS.select_subdatasets(records, ["Longxi River (UAV)"])) == 2


def test_a_wrapping_folder_inside_a_subdataset_is_tolerated(make_root):
    root = make_root({"Wenchuan/Wenchuan": 2}, size=64)
    assert [r.subdataset for r in CAS.list_tiles(root)] == ["wenchuan", "wenchuan"]


def test_layout_problems_are_reported_not_skipped(make_root):
    root = make_root({"Lombok": 3, "Atlantis": 1}, size=64)
    (root / "Lombok" / "mask" / "tile0001.tif").unlink()
    (root / "Lombok" / "img" / "tile0002.tif").unlink()
    (root / "Wenchuan" / "img").mkdir(parents=True)
    (root / "study_areas").mkdir()
    (root / "study_areas" / "areas.shp").write_bytes(b"")
    result = scan(root)
    messages = [str(p) for p in result.problems]
    assert len(result.records) == 1
    assert any("tile0001.tif: image has no mask" in m and "Fix:" in m for m in messages)
    assert any("tile0002.tif: mask has no image" in m for m in messages)
    assert any(m.startswith(str(root / "Atlantis")) and "unknown sub-dataset folder" in m for m in messages)
    assert any(m.startswith(str(root / "Wenchuan")) and "empty sub-dataset folder" in m for m in messages)
    assert result.ignored == [root / "study_areas"]
    with pytest.raises((MissingPartnerError, SubDatasetFolderError)) as info:
        CAS.list_tiles(root)
    assert "3 more problem(s) found" in info.value.__notes__[0]


def test_missing_root_and_missing_subdataset_name_the_fix(tmp_path, make_root):
    with pytest.raises(DatasetNotFoundError, match="landslide-core download --root"):
        CAS.list_tiles(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="no sub-dataset folder found"):
        CAS.list_tiles(tmp_path / "empty")
    root = make_root({"Lombok": 1}, size=64)
    with pytest.raises(DatasetNotFoundError, match="landslide-core download hokkaido"):
        CAS.list_tiles(root, ["Hokkaido Iburi-Tobu"])
    assert len(CAS.list_tiles(root, ["lombok"])) == 1


def test_duplicate_stems_are_a_problem(make_root):
    root = make_root({"Lombok": 1}, size=64)
    shutil.copy(root / "Lombok" / "img" / "tile0000.tif", root / "Lombok" / "img" / "tile0000.tiff")
    with pytest.raises(MissingPartnerError, match="two img files share the stem 'tile0000'"):
        CAS.list_tiles(root)


def _listed_as_before(folder: Path) -> list[Path]:
    """How tile files were listed before a folder was read once: a ``stat`` per file, ``Path`` objects sorted."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in TILE_SUFFIXES)


def test_tile_files_are_listed_as_before_without_a_stat_per_file(tmp_path, monkeypatch):
    folder = tmp_path / "img"
    folder.mkdir()
    for name in ("b.tif", "a.TIFF", "B.tif", "a.tif.bak", ".tif", "..tif", "x.", "tif", "d.Tif", "e.tiff.tif"):
        (folder / name).write_bytes(b"")
    (folder / "folder.tif").mkdir()
    (folder / "link.tif").symlink_to(folder / "b.tif")
    (folder / "broken.tif").symlink_to(folder / "missing.tif")
    assert layout._tile_files(folder) == _listed_as_before(folder)
    assert [p.name for p in layout._tile_files(folder)] == ["..tif", "B.tif", "a.TIFF", "b.tif", "d.Tif",
                                                             "e.tiff.tif", "link.tif"]
    assert layout._tile_files(tmp_path / "nowhere") == []
    calls = []
    stat = os.stat
    monkeypatch.setattr(os, "stat", lambda *args, **kwargs: calls.append(args[0]) or stat(*args, **kwargs))
    layout._tile_files(folder)
    assert calls == [folder]  # whether it is a folder; the entries say which are files


def test_a_scan_pairs_and_reports_as_before(make_root, monkeypatch):
    root = make_root({"Lombok": 4, "Wenchuan": 2}, size=16)
    lombok = root / "Lombok"
    (lombok / "mask" / "tile0001.tif").unlink()
    (lombok / "img" / "tile0002.tif").unlink()
    shutil.copy(lombok / "img" / "tile0000.tif", lombok / "img" / "tile0000.tiff")
    shutil.copy(lombok / "mask" / "tile0003.tif", lombok / "mask" / "tile0003.TIF")
    found = scan(root)
    monkeypatch.setattr(layout, "_tile_files", _listed_as_before)
    before = scan(root)
    assert found.records == before.records
    assert [str(p) for p in found.problems] == [str(p) for p in before.problems]
    assert [(r.subdataset, r.name) for r in found.records] == [("lombok", "tile0000"), ("lombok", "tile0003"),
                                                                ("wenchuan", "tile0000"), ("wenchuan", "tile0001")]
    assert [str(p).split(": ", 1)[1].split(". Fix:")[0] for p in found.problems] == [
        "two img files share the stem 'tile0000' (tile0000.tif and tile0000.tiff)",
        "two mask files share the stem 'tile0003' (tile0003.TIF and tile0003.tif)",
        "image has no mask with the same file stem",
        "mask has no image with the same file stem",
    ]
