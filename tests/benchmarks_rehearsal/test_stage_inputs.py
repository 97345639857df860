"""``benchmarks/rehearsal.py --stages`` with a stage whose inputs no asked stage makes stops at once, saying which
stages to add; with the inputs left by an earlier run in ``--work`` it goes on."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rehearsal():
    spec = importlib.util.spec_from_file_location("rehearsal_benchmark", REPO / "benchmarks" / "rehearsal.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_stage_without_its_inputs_names_the_stages_to_add(rehearsal, tmp_path: Path) -> None:
    places = [tmp_path / "quarter", tmp_path / "full"]
    with pytest.raises(SystemExit) as stop:
        rehearsal.check_inputs(["status"], places)
    message = str(stop.value)
    assert "status: needs the 'audit' stage's split-grouped-seed0.csv" in message
    assert "status: needs the 'baselines' stage's baseline-tiles.csv" in message
    assert "--stages audit,baselines,status" in message
    rehearsal.check_inputs(["audit", "baselines", "intervals", "status"], places)  # each made by an asked stage
    rehearsal.check_inputs(["validate", "qc"], places)  # need nothing


def test_inputs_an_earlier_run_left_in_every_size_are_enough(rehearsal, tmp_path: Path) -> None:
    places = [tmp_path / "quarter", tmp_path / "full"]
    for place in places:
        place.mkdir()
        for name in (*rehearsal.MADE_BY["audit"], *rehearsal.MADE_BY["baselines"]):
            (place / name).write_text("")
    rehearsal.check_inputs(["intervals", "status", "pack"], places)
    (places[1] / rehearsal.BASELINE_TILES).unlink()  # the full size's is missing
    with pytest.raises(SystemExit, match=r"intervals: needs the 'baselines' stage's baseline-tiles.csv \(no .*full"):
        rehearsal.check_inputs(["intervals"], places)
