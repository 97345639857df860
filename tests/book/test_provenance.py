"""Records with provenance: written atomically, read back, and traceable to code, data and device."""

from __future__ import annotations

import json
import re
import time

import pandas as pd
import pytest

from landslide_core.book.compare import paper_vs_run
from landslide_core.book.page import SectionRun
from landslide_core.errors import PathProblemError
from landslide_core.eval.paper import paper_values
from landslide_core.provenance import (
    collect_provenance,
    git_state,
    listing_checksum,
    read_record,
    write_record,
)
from landslide_core.sources.cas import CAS, CAS_DATA


@pytest.fixture
def root(make_root):
    return make_root({"palu": 2, "Lombok": 1}, size=64)


def test_a_record_round_trips_with_its_provenance(root, tmp_path):
    records = CAS.list_tiles(root)
    started = time.time() - 2.0
    provenance = collect_provenance(parameters={"data_root": root, "groups": ("UAV", "SAT")}, data_root=root,
                                    records=records, started=started, section="benchmarks", profile="demo")
    table = pd.DataFrame({"model": ["FCN", "U-Net"], "iou": [1.5, 2.5]}).set_index("model")
    csv_path, json_path = write_record(table, tmp_path / "out" / "table5", provenance, caption="Table 5")
    assert pd.read_csv(csv_path).to_dict("list") == {"model": ["FCN", "U-Net"], "iou": [1.5, 2.5]}
    rows, back = read_record(tmp_path / "out" / "table5")
    assert rows.to_dict("list") == {"model": ["FCN", "U-Net"], "iou": [1.5, 2.5]}
    assert back == provenance
    assert back.parameters == {"data_root": str(root), "groups": ["UAV", "SAT"]}
    assert back.data_kind == CAS_DATA and back.wall_time_s >= 2.0
    assert back.versions["torch"] and back.device.startswith(("CPU: ", "GPU: "))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["table5.csv", "table5.json"]  # no temporary files
    assert back.subdatasets == ["lombok", "palu"] and back.source == {"name": "cas"}


def test_sub_datasets_come_from_the_tile_records_given_even_as_a_generator(root):
    records = CAS.list_tiles(root)
    given = collect_provenance(parameters={}, data_root=root, records=(r for r in records))
    assert given.subdatasets == ["lombok", "palu"] and given.data_checksum == listing_checksum(records, root)
    assert collect_provenance(parameters={}, data_root=root).subdatasets == []


def test_a_record_written_before_sub_datasets_were_recorded_reads_back(root, tmp_path):
    provenance = collect_provenance(parameters={}, data_root=root, records=CAS.list_tiles(root))
    json_path = write_record(pd.DataFrame({"a": [1]}), tmp_path / "old", provenance)[1]
    document = json.loads(json_path.read_text(encoding="utf-8"))
    del document["provenance"]["subdatasets"], document["provenance"]["source"]
    json_path.write_text(json.dumps(document), encoding="utf-8")
    _, back = read_record(tmp_path / "old")
    assert back.subdatasets == [] and back.source == {} and back.data_checksum == provenance.data_checksum


def test_the_provenance_line_names_commit_profile_data_device_and_time(root):
    provenance = collect_provenance(parameters={"data_root": str(root), "epochs": 2}, data_root=root,
                                    records=CAS.list_tiles(root), profile="demo")
    line = provenance.line()
    commit, _ = git_state()
    assert line.startswith("Provenance: commit " + commit[:10])
    assert "profile demo (epochs=2)" in line and f"CAS data (sha256 {provenance.data_checksum[:12]})" in line
    assert provenance.device in line and re.search(r"\d+\.\d s", line)


def test_the_data_checksum_changes_with_the_tiles(root):
    records = CAS.list_tiles(root)
    before = listing_checksum(records, root)
    assert listing_checksum(reversed(records), root) == before
    with open(records[0].mask, "ab") as f:
        f.write(b"\0")
    assert listing_checksum(records, root) != before


def test_a_missing_or_foreign_record_is_named(tmp_path):
    with pytest.raises(PathProblemError, match="table.json: no such record"):
        read_record(tmp_path / "table")
    (tmp_path / "other.json").write_text('{"rows": []}')
    with pytest.raises(PathProblemError, match="other.json: not a landslide-core record"):
        read_record(tmp_path / "other")


def test_paper_vs_run_puts_the_paper_beside_the_run_and_the_difference():
    published = paper_values(5)
    run = published[published["group"] == "SAT"][["model", "group", "precision", "recall", "iou", "f1", "miou", "oa"]]
    run = run.assign(iou=run["iou"] + 1.25).iloc[:3]  # three of the four SAT rows, IoU moved by 1.25 points
    table = paper_vs_run(run, 5, run_label="this run (demo data, synthetic)")
    assert list(table.columns.get_level_values(0).unique()) == ["Precision", "Recall", "IoU", "F1 score", "mIoU", "OA"]
    assert list(table.columns.get_level_values(1)[:3]) == ["paper", "this run (demo data, synthetic)", "difference"]
    assert len(table) == 12  # every published row, in the paper's order
    iou = table["IoU"]
    assert iou.loc[("FCN", "SAT"), "difference"] == pytest.approx(1.25)
    assert iou.loc[("FCN", "SAT"), "paper"] == published.set_index(["model", "group"]).loc[("FCN", "SAT"), "iou"]
    assert pd.isna(iou.loc[("MFFENet", "SAT"), "this run (demo data, synthetic)"])  # not run: no number


def test_paper_vs_run_names_missing_columns():
    with pytest.raises(Exception, match=r"missing columns \['oa'\]"):
        paper_vs_run(pd.DataFrame(columns=["model", "group", "precision", "recall", "iou", "f1", "miou"]), 5,
                     run_label="x")


def test_a_section_run_shows_a_table_and_writes_its_record(root, tmp_path, monkeypatch):
    shown: list[object] = []
    monkeypatch.setattr("landslide_core.book.page.display", shown.append)
    run = SectionRun.start("dataset", profile="demo", parameters={"data_root": None}, data_root=root,
                           records=CAS.list_tiles(root), results_dir=tmp_path / "results")
    assert run.run_label == "this run (CAS data)"
    run.show(pd.DataFrame({"tiles": [3]}), "counts", caption="Tiles")
    rows, provenance = read_record(tmp_path / "results" / "counts")
    assert rows["tiles"].tolist() == [3] and provenance.section == "dataset"
    styler, note = shown
    assert "<caption>Tiles</caption>" in styler.to_html() and ">3<" in styler.to_html()
    assert note.data.startswith('<p class="provenance"><small>Provenance: commit') and "counts.csv" in note.data


def test_a_run_that_read_no_tiles_says_so_without_a_checksum(root):
    line = collect_provenance(parameters={}, data_root=root).line()
    assert "CAS data ·" in line and "sha256" not in line
