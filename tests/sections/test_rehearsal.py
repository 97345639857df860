"""The rehearsal record in the reproducibility appendix: its table and its sentence, computed from a hand-made record."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from landslide_core.provenance import Provenance, write_record
from landslide_core.sections.rehearsal import (
    TABLE_COLUMNS,
    is_rehearsal,
    judged_rows,
    rehearsal_summary,
    rehearsal_table,
)
from landslide_core.sections.reproducibility import throughput_records

PROVENANCE = Provenance(
    git_commit="0123456789abcdef0123456789abcdef01234567", git_modified=False, profile="", section="rehearsal",
    parameters={"model": "unet"}, data_root="/replica", data_kind="a synthetic replica (test)", data_checksum="none",
    device="CPU: test (2 cores)", versions={}, wall_time_s=1.0, created_utc="2026-12-06 20:00 UTC",
    extra={"target_ratio": 4.4, "target_rss_mib": 4096.0},
)
MEASURED = [  # stage, size, tiles, seconds, own peak, workers, each worker's peak
    ("scan + validate", "quarter", 5216, 20.0, 700.0, 0, 0.0),
    ("scan + validate", "full", 20865, 80.0, 710.0, 0, 0.0),
    ("QC scores", "quarter", 5216, 100.0, 900.0, 2, 800.0),
    ("QC scores", "full", 20865, 500.0, 950.0, 2, 850.0),
    ("data loading", "quarter", 3424, 26.42, 600.0, 1, 500.0),
    ("data loading", "full", 14352, 117.01, 620.0, 1, 500.0),
    ("intervals", "quarter", 1500, 10.0, 3000.0, 0, 0.0),
    ("intervals", "full", 6000, 40.0, 4500.0, 0, 0.0),
    ("model (CPU)", "fixed", 16, 50.0, 1600.0, 1, 700.0),
]


def _record(folder: Path, measured=MEASURED, provenance: Provenance = PROVENANCE, name: str = "rehearsal-cpu-test"):
    rows = pd.DataFrame([{"stage": stage, "size": size, "tiles": tiles, "seconds": seconds,
                          "tiles_per_s": round(tiles / seconds, 2), "peak_rss_mib": peak, "workers": workers,
                          "workers_peak_rss_mib": each, "rss_bound_mib": peak + workers * each}
                         for stage, size, tiles, seconds, peak, workers, each in measured])
    write_record(judged_rows(rows), folder / name, provenance)
    return next(r for r in throughput_records(folder) if r.path.stem == name)


def test_the_table_has_one_row_per_stage_with_both_sizes_the_ratio_and_the_verdict(tmp_path):
    table = rehearsal_table(_record(tmp_path))
    assert table.columns.tolist() == list(TABLE_COLUMNS)
    assert table.index.tolist() == ["scan + validate", "QC scores", "data loading", "intervals", "model (CPU)"]
    assert table.loc["scan + validate"].tolist() == ["5,216", "20,865", "20.0", "80.0", "4.00", "710", "yes"]
    assert table.loc["QC scores", "ratio"] == "5.00" and table.loc["QC scores", "peak RSS MiB"] == "2,650"
    assert table.loc["QC scores", "targets met"] == "no: ratio above 4.4"
    assert table.loc["intervals", "targets met"] == "no: RSS above 4 GiB"
    # 4.43 times the seconds for 4.19 times the tiles: 4.23 for four times the quarter's tiles, within the target
    assert table.loc["data loading", ["ratio", "targets met"]].tolist() == ["4.23", "yes"]
    assert table.loc["model (CPU)"].tolist() == ["—", "16", "—", "50.0", "—", "2,300", "yes (memory only)"]


def test_the_sentence_counts_the_stages_names_the_misses_the_slowest_the_model_and_says_synthetic(tmp_path):
    assert rehearsal_summary(_record(tmp_path)) == (
        "On the test (2 cores), 2 of the 4 stages timed at a quarter and at full size meet both targets (peak "
        "resident memory at most 4 GiB, full size at most 4.4× the quarter's seconds); QC scores, intervals miss a "
        "target. "
        "The slowest at full size is QC scores: 500 s, 68% of the 737 s all stages took there. Model evaluation "
        "(unet), timed at one size on the CPU only: 16 validation tiles at 0.32 tiles/s; on every validation tile it "
        "is GPU work. The data is a synthetic replica (test): the times and memory are real measurements of this code at the "
        "dataset's size, the pixels are not data and no score from them means anything.")


def test_the_sentence_follows_the_record(tmp_path):
    faster = [(s, z, t, 350.0 if (s, z) == ("QC scores", "full") else sec, p, w, e)
              for s, z, t, sec, p, w, e in MEASURED if s not in ("intervals", "data loading")]
    other = replace(PROVENANCE, device="CPU: other (16 cores)", extra={"target_ratio": 4.0, "target_rss_mib": 2560.0})
    sentence = rehearsal_summary(_record(tmp_path, faster, other))
    assert sentence.startswith("On the other (16 cores), 1 of the 2 stages timed at a quarter and at full size meets "
                               "both targets (peak resident memory at most 2.5 GiB, full size at most 4× the "
                               "quarter's seconds); QC scores misses a target. The slowest at full size is QC scores: 350 s, 81% of "
                               "the 430 s all stages took there.")
    assert rehearsal_table(_record(tmp_path, faster, other)).loc["QC scores", "targets met"] == "no: RSS above 2.5 GiB"


def test_other_records_are_not_the_rehearsals(tmp_path):
    write_record(pd.DataFrame({"a": [1]}), tmp_path / "scene-scale-cpu-test", PROVENANCE)
    (other,) = throughput_records(tmp_path)
    assert not is_rehearsal(other) and rehearsal_summary(other) is None
    assert is_rehearsal(_record(tmp_path))
