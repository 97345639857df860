"""The registry of paper Tables 2 and 4, and name matching for the irregular real names."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from landslide_core.errors import UnknownSubDatasetError
from landslide_core.sources.cas import registry as cas


def test_table2_counts_add_up_to_the_papers_totals():
    subs = cas.subdatasets()
    assert len(subs) == 16
    assert sum(s.paper_tiles for s in subs) == 20865
    assert sum(s.paper_tiles for s in subs if s.group == "UAV") == 13443
    assert sum(s.paper_tiles for s in subs if s.group == "SAT") == 7422
    assert len(cas.group_members("UAV")) == 7 and len(cas.group_members("SAT")) == 9
    assert len(cas.group_members("UAV&SAT")) == 16
    assert len({s.key for s in subs}) == 16 and len({s.zenodo_file for s in subs}) == 16


def test_table2_rows_match_the_paper_text(paper_text):
    for sd in cas.subdatasets():
        row = f"{sd.name}\t{sd.paper_tiles}\t{sd.acquisition_time}\t{sd.source}\t{sd.sensor}\t"
        assert row in paper_text, row


def test_readme_states_the_licences_exactly_as_computed():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert cas.licence_summary() in readme


def test_licence_counts_match_the_paper_text(paper_text):
    # Counted here from Table 2 in the text of the paper (its last column), not from the registry.
    rows = [line.split("\t") for line in paper_text.splitlines() if line.count("\t") == 6 and line.split("\t")[1].isdigit()]
    assert len(rows) == 16
    sub_datasets, tiles = Counter(r[6] for r in rows), Counter()
    for r in rows:
        tiles[r[6]] += int(r[1])
    summary = cas.licence_summary()
    for licence, n in sub_datasets.items():
        assert f"{licence}: {n} sub-dataset{'s' if n > 1 else ''}, {tiles[licence]:,} tiles" in summary, licence
    assert f"({len(sub_datasets)} different ones" in summary and f"{sum(tiles.values()):,} tiles in all" in summary
    assert (sub_datasets["Derivative Works Licence"], tiles["Derivative Works Licence"]) == (7, 13443)
    assert sub_datasets["CC-BY-NC 4.0"] + sub_datasets["Non-commercial use"] == 4


def test_table4_regions_match_the_paper_text(paper_text):
    regions = cas.regions()
    assert len(regions) == 9
    for r in regions:
        row = "\t".join([r.location, r.trigger, r.landforms, r.lithology, r.climate, r.vegetation])
        assert row in paper_text, row
        assert -90 <= r.approx_lat <= 90 and -180 <= r.approx_lon <= 180
    assert {sd.region for sd in cas.subdatasets()} == {r.key for r in regions}


@pytest.mark.parametrize(
    ("spelling", "key"),
    [
        ("Longxi River（UAV）", "longxi-uav"),
        ("Longxi River（UAV）.zip", "longxi-uav"),
        ("longxi river (uav)", "longxi-uav"),
        ("Longxi River(SAT)", "longxi-sat"),
        ("Tiburon Peninsula（planet）", "tiburon-planet"),
        ("Tiburon Peninsula（Sentinel）", "tiburon-sentinel"),
        ("Moxi town（UAV-0.2m）", "moxi-town-0.2m"),
        ("Moxi town (0.2m)", "moxi-town-0.2m"),
        ("Moxitaidi (UAV-0.6m)", "moxitaidi-uav-0.6m"),
        ("Moxitaidi (UAV-0.6 m)", "moxitaidi-uav-0.6m"),
        ("Jiuzhai valley (UAV-0.5m)", "jiuzhai-0.5m"),
        ("Mengdong Township", "mengdong"),
        ("palu", "palu"),
        ("PALU", "palu"),
        ("Hokkaido Iburi-Tobu", "hokkaido"),
    ],
)
def test_real_folder_and_zip_names_resolve(spelling, key):
    assert cas.get_subdataset(spelling).key == key


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(UnknownSubDatasetError, match="valid names: .*palu \\(Palu\\)"):
        cas.get_subdataset("Atlantis")
    assert cas.find_subdataset("Atlantis") is None
    with pytest.raises(UnknownSubDatasetError, match="UAV&SAT"):
        cas.group_members("drone")


@pytest.mark.parametrize(
    ("file_name", "key"),
    [
        ("Haiti146.tiff", "tiburon-sentinel"),
        ("Haiti_Planet043.tiff", "tiburon-planet"),
        ("Luding_1m_UAV014.tiff", "moxitaidi-uav-1m"),
        ("Moxitaidi_Satellite101.tiff", "moxitaidi-sat"),
        ("jiuzzhaigou_0.2m_UVA0155.tif", "jiuzhai-0.2m"),
        ("LongxiheSAT0108.tiff", "longxi-sat"),
        ("longxihe_UAV0001.tif", "longxi-uav"),
        ("Hokkaido0017.tiff", "hokkaido"),
    ],
)
def test_tile_names_map_to_their_subdataset(file_name, key):
    assert cas.subdataset_for_tile_name(file_name).key == key


def test_unknown_tile_names_map_to_nothing():
    assert cas.subdataset_for_tile_name("10025.tif") is None
    assert cas.subdataset_for_tile_name("Haiti_Planetary1.tif") is None
