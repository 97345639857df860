"""The pipeline-rate benchmark: four rates in one interleaved run, their ratio and its record (no timing asserted)."""

from __future__ import annotations

import dataclasses
import math
import runpy
from pathlib import Path

import pandas as pd
import pytest
import torch

from landslide_core.errors import ThroughputError
from landslide_core.experiments.pipeline_rate import (
    MEASUREMENTS,
    NORMALISED_BATCH,
    PIL_DECODE,
    TARGET_RATIO,
    TRAINING_ITEM,
    measure_rounds,
    pipeline_passes,
    rate_table,
    run_pipeline_rate,
)
from landslide_core.experiments.throughput import device_slug
from landslide_core.provenance import read_record
from landslide_core.sources.cas import CAS
from tests.conftest import SAMPLE

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "pipeline.py"


def test_a_run_gives_every_rate_the_ratio_and_a_record(make_root, tmp_path):
    root = make_root({"Hokkaido Iburi-Tobu": 3})
    records = CAS.list_tiles(root)
    threads = torch.get_num_threads()
    result = run_pipeline_rate(root, records, rounds=2, batch_size=2, min_tiles=1, out=tmp_path / "results")
    assert torch.get_num_threads() == threads  # one thread while measuring, restored after

    table = result.table
    assert table["measurement"].tolist() == list(MEASUREMENTS)
    assert table["what"].tolist() == list(MEASUREMENTS.values())
    assert (table["tiles_per_s_per_core"] > 0).all() and (table["rounds"] == 2).all()
    assert (table["slowest_round"] <= table["tiles_per_s_per_core"]).all()
    assert (table["tiles_per_s_per_core"] <= table["fastest_round"]).all()
    rates = table.set_index("measurement")
    assert rates.loc[PIL_DECODE, "ratio_to_pil_decode"] == 1.0
    expected = rates.loc[TRAINING_ITEM, "tiles_per_s_per_core"] / rates.loc[PIL_DECODE, "tiles_per_s_per_core"]
    assert result.ratio == pytest.approx(expected, abs=2e-3)  # from unrounded medians
    assert result.reached == (result.ratio >= TARGET_RATIO)

    stem = tmp_path / "results" / f"pipeline-rate-{device_slug(torch.device('cpu'))}"
    assert result.paths == (stem.with_suffix(".csv"), stem.with_suffix(".json"))
    rows, provenance = read_record(stem)
    pd.testing.assert_frame_equal(rows, table, check_dtype=False)
    assert provenance.section == "pipeline-rate" and provenance.data_kind == "CAS data"
    assert provenance.device.startswith("CPU: ")
    assert provenance.parameters == {"rounds": 2, "min_tiles": 1, "batch_size": 2, "threads": 1, "num_workers": 0,
                                     "data_root": str(root)}
    assert provenance.extra["ratio"] == result.ratio and provenance.extra["target_ratio"] == TARGET_RATIO
    assert provenance.extra["reached"] == result.reached and provenance.extra["tiles"] == 3


def test_rounds_interleave_the_measurements_in_a_rotating_order(make_root):
    records = CAS.list_tiles(make_root({"Lombok": 2}))
    calls = []
    passes = {name: (lambda round_, name=name: calls.append((name, round_)) or 1) for name in "abc"}
    rounds = measure_rounds(passes, 3, min_tiles=2)
    assert calls[:3] == [("a", 0), ("b", 0), ("c", 0)]  # the untimed pass of each
    timed = [name for name, _ in calls[3::2]]  # each pass twice a round for min_tiles=2
    assert timed == ["b", "c", "a", "c", "a", "b", "a", "b", "c"]
    assert rounds["tiles"].tolist() == [2] * 9 and rounds["round"].tolist() == [1] * 3 + [2] * 3 + [3] * 3
    assert len(pipeline_passes(records)) == 4


def test_the_normalised_batch_counts_a_whole_batch_per_call(make_root):
    records = CAS.list_tiles(make_root({"Lombok": 3}))
    passes = pipeline_passes(records, batch_size=2)
    assert passes[NORMALISED_BATCH](1) == 4  # two batches of two cover three tiles
    assert passes[TRAINING_ITEM](1) == passes[PIL_DECODE](1) == 3


def test_nothing_to_measure_is_refused(make_root):
    with pytest.raises(ThroughputError, match="no tiles to measure"):
        pipeline_passes([])
    records = CAS.list_tiles(make_root({"Lombok": 1}))
    with pytest.raises(ThroughputError, match="rounds must be at least 1"):
        measure_rounds(pipeline_passes(records), 0)
    maskless = [dataclasses.replace(records[0], mask=None)]
    with pytest.raises(ThroughputError, match="needs every tile's mask"):
        pipeline_passes(maskless)


def test_the_table_keeps_only_the_measurements_run():
    rounds = pd.DataFrame({"round": [1, 1, 2, 2], "measurement": [TRAINING_ITEM, PIL_DECODE] * 2,
                           "tiles": [1] * 4, "seconds": [1.0] * 4, "tiles_per_s": [100.0, 400.0, 300.0, 600.0]})
    table = rate_table(rounds).set_index("measurement")
    assert table.index.tolist() == [PIL_DECODE, TRAINING_ITEM]  # the order of MEASUREMENTS
    assert table.loc[TRAINING_ITEM, "tiles_per_s_per_core"] == 200.0
    assert table.loc[TRAINING_ITEM, "ratio_to_pil_decode"] == 0.4
    assert table.loc[TRAINING_ITEM, ["slowest_round", "fastest_round"]].tolist() == [100.0, 300.0]


def test_the_script_prints_the_ratio_and_writes_the_record(make_root, tmp_path, capsys, monkeypatch):
    root = make_root({"palu": 2})
    monkeypatch.setattr("sys.argv", ["pipeline.py", "--data-root", str(root), "--rounds", "1", "--min-tiles", "1",
                                     "--batch-size", "2", "--out", str(tmp_path), "-q"])
    with pytest.raises(SystemExit) as exit_code:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    assert exit_code.value.code == 0
    out = capsys.readouterr().out
    assert "training item ÷ PIL decode: " in out and f"on 2 tiles of {root}" in out
    assert len(list(tmp_path.glob("pipeline-rate-*.json"))) == 1


@pytest.mark.slow
@pytest.mark.real_data
def test_on_the_real_sample_the_ratio_is_computed(tmp_path):
    records = CAS.list_tiles(SAMPLE)
    result = run_pipeline_rate(SAMPLE, records, rounds=1, min_tiles=1, out=tmp_path)
    assert len(records) == 24 and result.table["measurement"].tolist() == list(MEASUREMENTS)
    assert math.isfinite(result.ratio) and result.ratio > 0
    assert read_record(result.paths[1].with_suffix(""))[1].data_kind == "CAS sample, real"
