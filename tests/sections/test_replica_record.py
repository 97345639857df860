"""The replica's record in the reproducibility appendix: a narrow table in GB and one sentence, from a hand-made
record and from the committed one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from landslide_core.book import repository_root
from landslide_core.provenance import Provenance, write_record
from landslide_core.sections.replica_record import TABLE_COLUMNS, is_replica, replica_summary, replica_table
from landslide_core.sections.reproducibility import throughput_records

PROVENANCE = Provenance(
    git_commit="0123456789abcdef0123456789abcdef01234567", git_modified=False, profile="", section="",
    parameters={"seed": 0, "fraction": 1.0, "workers": 2}, data_root="/replica", data_kind="a synthetic replica (test)",
    data_checksum="none", device="CPU: test (2 cores)", versions={}, wall_time_s=1.0,
    created_utc="2026-12-06 20:00 UTC", extra={"target_seconds": 900, "target_bytes": 25e9},
)
PARTS = [  # part, samples, files, bytes on disk, apparent bytes, CPU s, the part's peak RSS
    ("cas", 20865, 41731, 19_423_907_840, 21_901_782_750, 504.36, 949.1),
    ("bijie", 770, 1552, 87_248_896, 83_781_136, 144.05, 1200.4),
]
TOTAL = {"part": "total", "samples_written": 21635, "files": 43283, "bytes_on_disk": 19_511_156_736,
         "apparent_bytes": 21_985_563_886, "cpu_seconds": 648.41, "wall_seconds": 843.34, "workers": 2.0,
         "peak_rss_mib_main": 602.6, "peak_rss_mib_largest_worker": 802.5, "scan_tiles": 20865.0,
         "scan_folders_recognised": 16.0, "scan_problems": 0.0}


def _record(folder: Path, total: dict = TOTAL, provenance: Provenance = PROVENANCE):
    rows = [{"part": part, "samples_written": samples, "files": files, "bytes_on_disk": disk, "apparent_bytes": size,
             "cpu_seconds": cpu, "peak_rss_mib_job": peak} for part, samples, files, disk, size, cpu, peak in PARTS]
    write_record(pd.DataFrame([*rows, total]), folder / "replica-cpu-test", provenance)
    return next(r for r in throughput_records(folder) if r.path.stem == "replica-cpu-test")


def test_the_table_has_one_row_per_part_and_the_total_in_gb(tmp_path):
    table = replica_table(_record(tmp_path))
    assert table.columns.tolist() == list(TABLE_COLUMNS)
    assert table.loc["cas"].tolist() == ["20,865", "41,731", "19.42", "504", "949"]
    assert table.loc["total"].tolist() == ["21,635", "43,283", "19.51", "648", "603"]


def test_the_sentence_judges_time_and_disk_and_names_the_largest_process(tmp_path):
    assert replica_summary(_record(tmp_path)) == (
        "On the test (2 cores), with 2 worker processes, writing the replica took 843 s (within the target of 15 "
        "minutes) and 19.5 GB on disk (within the target of 25 GB; 22.0 GB of file sizes); no process exceeded "
        "1,200 MiB. Scanning the written CAS layout found 20,865 tiles in 16 sub-dataset folders with 0 problems. "
        "The data is a synthetic replica (test).")
    slower = _record(tmp_path, {**TOTAL, "wall_seconds": 1000.0, "bytes_on_disk": 26e9},
                     replace(PROVENANCE, extra={"target_seconds": 600, "target_bytes": 25e9}))
    assert "took 1,000 s (over the target of 10 minutes) and 26.0 GB on disk (over the target of 25 GB" in (
        replica_summary(slower))


def test_only_replica_records_are_shown_as_such_and_the_committed_one_fits_the_page(tmp_path):
    write_record(pd.DataFrame({"a": [1]}), tmp_path / "rehearsal-cpu-test", PROVENANCE)
    (other,) = throughput_records(tmp_path)
    assert not is_replica(other)
    committed = [r for r in throughput_records(repository_root() / "benchmarks" / "results") if is_replica(r)]
    assert committed, "benchmarks/results holds the replica's record"
    for record in committed:
        table = replica_table(record)
        assert len(table.columns) == len(TABLE_COLUMNS) and table.index[-1] == "total"
        assert "20,865 tiles in 16 sub-dataset folders" in replica_summary(record)
