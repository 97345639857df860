"""The reproducibility appendix: benchmark records read back and laid out to fit the book's text column."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from landslide_core.provenance import Provenance, write_record
from landslide_core.sections.rehearsal import is_rehearsal
from landslide_core.sections.reproducibility import (
    MAX_COLUMNS,
    pipeline_rate_summary,
    record_view,
    throughput_records,
)

PROVENANCE = Provenance(
    git_commit="0123456789abcdef0123456789abcdef01234567", git_modified=False, profile="", section="throughput",
    parameters={}, data_root="none", data_kind="none: random tensors", data_checksum="none (no tiles read)",
    device="CPU: test (2 cores)", versions={}, wall_time_s=1.0, created_utc="2026-11-30 02:10 UTC",
)


def _records(folder: Path, tables: dict[str, pd.DataFrame]):
    for name, table in tables.items():
        write_record(table, folder / name, PROVENANCE)
    return {r.path.stem: r for r in throughput_records(folder)}


def test_a_one_row_record_is_turned_on_its_side(tmp_path):
    (audit,) = _records(tmp_path, {"audit": pd.DataFrame(
        [{"tiles": 20000, "found": "yes", "seconds": 81.3, "peak_mib": 164.0, "note": ""}])}).values()
    view = record_view(audit, tmp_path)
    assert view.note == "**audit** (`audit.csv`); columns with no value on this device left out: note."
    assert view.table.index.tolist() == ["tiles", "found", "seconds", "peak_mib"]
    assert view.table["value"].tolist() == ["20000", "yes", "81.3", "164"]  # whole floats without ".0"


def test_values_the_same_in_every_row_are_said_once(tmp_path):
    rows = pd.DataFrame({"model": ["fcn", "fcn", "unet"], "phase": ["inference", "training", "inference"],
                         "batch_size": [2, 2, 2], "images_per_s": [0.2187, 0.1056, 0.5884],
                         "speedup": [None, 1.5, None]})
    (throughput,) = _records(tmp_path, {"throughput": rows}).values()
    view = record_view(throughput, tmp_path)
    assert view.note == "**throughput** (`throughput.csv`). The same in every row: `batch_size` 2."
    assert view.table.index.name == "model" and view.table.index.tolist() == ["fcn", "fcn", "unet"]
    assert view.table.columns.tolist() == ["phase", "images per s", "speedup"]  # spaced, so that headers wrap
    assert view.table["speedup"].tolist() == ["—", "1.5", "—"]


def test_a_table_too_wide_shows_one_column_per_row_when_its_rows_are_named_once(tmp_path):
    measures = {f"measure_{i}": [i, i + 0.5, i + 0.25] for i in range(MAX_COLUMNS + 1)}
    records = _records(tmp_path, {"named": pd.DataFrame({"process": ["imports only", "tile", "scene"], **measures}),
                                  "repeated": pd.DataFrame({"process": ["scene", "scene", "tile"], **measures})})
    view = record_view(records["named"], tmp_path)
    assert view.table.columns.tolist() == ["imports only", "tile", "scene"]
    assert view.table.index.tolist() == list(measures)
    assert view.table.loc["measure_2"].tolist() == ["2", "2.5", "2.25"]
    view = record_view(records["repeated"], tmp_path)  # "scene" twice: turned, two columns would share a name
    assert view.table.index.tolist() == ["scene", "scene", "tile"] and view.table.columns.tolist() == [m.replace("_", " ") for m in measures]


def test_the_saved_benchmark_records_fit_in_few_columns_and_keep_every_value():
    root = Path(__file__).resolve().parents[2]
    records = throughput_records(root / "benchmarks" / "results")
    assert records, "benchmarks/results holds the records the appendix shows"
    for record in (r for r in records if not is_rehearsal(r)):  # the rehearsal has its own table (test_rehearsal)
        view = record_view(record, root)
        assert view.table.shape[1] <= MAX_COLUMNS, record.path.name
        shown = {*view.table.to_numpy().ravel(), *view.table.index, *view.table.columns}
        for column in record.rows.columns:
            for value in record.rows[column]:
                if pd.isna(value) or value == "":
                    text = "—"
                else:
                    text = str(int(value) if isinstance(value, float) and value.is_integer() else value)
                assert text in shown or f"`{column}` {text}" in view.note, (record.path.name, column, value)


def test_the_pipeline_rate_is_said_in_one_sentence_from_its_record(tmp_path):
    rows = pd.DataFrame({"measurement": ["PIL decode", "rasterio decode", "training item", "normalised batch"],
                         "tiles_per_s_per_core": [800.4, 823.6, 522.9, 400.0]})
    provenance = replace(PROVENANCE, section="pipeline-rate", data_root="/data/shared/cas-sample", data_kind="CAS data",
                         device="CPU: AMD EPYC 7B13 (2 cores)",
                         extra={"ratio": 0.6533, "target_ratio": 0.5, "tiles": 24})
    write_record(rows, tmp_path / "pipeline-rate-cpu-amd-epyc-2cores", provenance)
    write_record(rows.assign(tiles_per_s_per_core=[800.0, 800.0, 300.0, 400.0]), tmp_path / "pipeline-rate-slow",
                 replace(provenance, extra={"ratio": 0.375, "target_ratio": 0.5, "tiles": 24}))
    write_record(rows, tmp_path / "pipeline-cpu", PROVENANCE)  # the throughput benchmark's DataLoader table
    records = {r.path.stem: r for r in throughput_records(tmp_path)}
    assert pipeline_rate_summary(records["pipeline-rate-cpu-amd-epyc-2cores"]) == (
        "On one core of the AMD EPYC 7B13 (2 cores), over the 24 tiles of `cas-sample` (CAS data): decoding image "
        "and mask with PIL ran at 800 tiles/s and making a training item at 523 tiles/s, 65% of the decode rate; "
        "the target of at least 50% is reached.")
    assert pipeline_rate_summary(records["pipeline-rate-slow"]).endswith(
        "at 300 tiles/s, 38% of the decode rate; the target of at least 50% is not reached.")
    assert pipeline_rate_summary(records["pipeline-cpu"]) is None
