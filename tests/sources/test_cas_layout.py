"""Finding sub-dataset folders and pairing tiles in the real layout."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from landslide_core.errors import DatasetNotFoundError, MissingPartnerError, SubDatasetFolderError
from landslide_core.sources.cas import CAS
from landslide_core.sources.cas.layout import scan
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
