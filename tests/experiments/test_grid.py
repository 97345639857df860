"""The grid as jobs: submitit's local executor gives the serial grid's scores, and a killed job resumes."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from landslide_core.data.splits import load_or_make_split
from landslide_core.errors import GridError
from landslide_core.experiments.grid import (
    DONE,
    MISSING,
    RUNNING,
    Cell,
    Scheduler,
    attempts,
    grid_cells,
    grid_table,
    run_cell,
    submit,
)
from landslide_core.sources.cas.demo import write_demo_data
from tests.train.test_training import one_thread, tiny_config  # noqa: F401 (one_thread: autouse fixture)

LOCAL = Scheduler(executor="local", gpus_per_job=0, parallel=2, threads=1, time_min=30)
TIMING = ["images_per_s", "seconds"]
"""History columns that measure the machine, not the run."""


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_data(tmp_path_factory.mktemp("demo"), subdatasets=["longxi-uav", "hokkaido"],
                           tiles_per_subdataset=4, progress=False)


def cells(runs_dir: Path, root: Path, epochs: int) -> list[Cell]:
    """Two cells (UAV and SAT, seed 0), with the seed's manifest written first as the planner does."""
    configs = [tiny_config(epochs=epochs, val_crop_size=128, group=group, seed=0) for group in ("UAV", "SAT")]
    load_or_make_split(root, runs_dir / "split-seed0.csv", seed=0, val_fraction=0.3)
    return grid_cells(runs_dir, configs, root, split="random", keep=lambda model, group, seed: group == "SAT")


@pytest.fixture(scope="module")
def serial(root: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Cell]:
    """The grid run one cell after another in this process: the reference."""
    grid = cells(tmp_path_factory.mktemp("serial"), root, epochs=4)
    for cell in grid:
        run_cell(cell, progress=False)
    return grid


def scores(cell: Cell) -> pd.DataFrame:
    return pd.read_csv(cell.folder / "scores.csv", keep_default_na=False)


def history(cell: Cell) -> pd.DataFrame:
    return pd.read_csv(cell.folder / "history.csv").drop(columns=TIMING)


@pytest.mark.slow
def test_two_local_jobs_at_once_give_the_serial_grids_scores(root, serial, tmp_path):
    grid = cells(tmp_path / "runs", root, epochs=4)
    assert grid_table(grid)["state"].tolist() == [MISSING, MISSING]
    lines = submit(grid, tmp_path / "runs" / "jobs", LOCAL, poll_s=0.2, echo=lambda line: None)
    assert sorted(lines) == sorted(f"cell {c.index} ({c.label}) done" for c in grid)
    table = grid_table(grid)
    assert table["state"].tolist() == [DONE, DONE] and table["epochs"].tolist() == ["4/4", "4/4"]
    assert all(job.startswith("local ") for job in table["job"])
    for ours, reference in zip(grid, serial, strict=True):
        pd.testing.assert_frame_equal(scores(ours), scores(reference))  # bit-identical on the CPU
        pd.testing.assert_frame_equal(history(ours), history(reference))
        assert [a["job"] for a in attempts(ours.folder)] == [table.loc[ours.index, "job"].split()[1]]
    assert not (grid[0].folder / "best.pt").exists() and (grid[1].folder / "best.pt").is_file()  # keep rule
    assert submit(grid, tmp_path / "runs" / "jobs", LOCAL, echo=lambda line: None) == []  # nothing left


def _task_pids(controller: int) -> list[int]:
    children = Path(f"/proc/{controller}/task/{controller}/children")
    return [int(pid) for pid in children.read_text().split()] if children.is_file() else []


@pytest.mark.slow
def test_a_killed_job_resumes_from_its_checkpoint_when_submitted_again(root, serial, tmp_path):
    cell = cells(tmp_path / "runs", root, epochs=4)[1]
    jobs = tmp_path / "runs" / "jobs"
    lines: list[str] = []
    first = threading.Thread(target=lambda: lines.extend(submit([cell], jobs, LOCAL, poll_s=0.1,
                                                                echo=lambda line: None)))
    first.start()
    deadline = time.monotonic() + 120
    while not (cell.folder / "history.csv").is_file() and time.monotonic() < deadline:
        time.sleep(0.02)  # the first checkpoint (epoch 1) is written with history.csv
    assert grid_table([cell])["state"].tolist() == [RUNNING]
    controller = int(grid_table([cell])["job"].iloc[0].split()[1])
    for pid in _task_pids(controller):
        os.kill(pid, signal.SIGKILL)  # no warning, as a node failure or an out-of-memory kill
    first.join(timeout=120)
    assert len(lines) == 1 and "FAILED" in lines[0]
    state = grid_table([cell]).iloc[0]
    assert state["state"] == MISSING and 1 <= int(state["epochs"].split("/")[0]) < 4

    assert submit([cell], jobs, LOCAL, poll_s=0.1, echo=lambda line: None) == [f"cell 1 ({cell.label}) done"]
    first_try, second_try = attempts(cell.folder)
    assert first_try["epochs_done_at_start"] == 0 and 1 <= second_try["epochs_done_at_start"] < 4
    pd.testing.assert_frame_equal(scores(cell), scores(serial[1]))  # as if never interrupted
    pd.testing.assert_frame_equal(history(cell), history(serial[1]))


def test_a_local_grid_without_the_gpus_it_asks_for_is_refused(root, tmp_path):
    grid = cells(tmp_path / "runs", root, epochs=1)
    with pytest.raises(GridError, match="--gpus-per-job 0"):
        submit(grid, tmp_path / "jobs", Scheduler(executor="local", gpus_per_job=1), echo=lambda line: None)


def test_a_scheduler_with_impossible_settings_is_refused():
    with pytest.raises(GridError, match="executor must be"):
        Scheduler(executor="pbs")
    with pytest.raises(GridError, match="time limit"):
        Scheduler(time_min=0)


@pytest.mark.slow
def test_a_preempted_job_is_requeued_by_submitit_and_resumes(root, serial, tmp_path):
    """SIGUSR2 is what Slurm (and submitit's local controller) send before preempting or timing out a job."""
    cell = cells(tmp_path / "runs", root, epochs=4)[1]
    lines: list[str] = []
    job = threading.Thread(target=lambda: lines.extend(submit([cell], tmp_path / "runs" / "jobs", LOCAL,
                                                              poll_s=0.1, echo=lambda line: None)))
    job.start()
    deadline = time.monotonic() + 120
    while not (cell.folder / "history.csv").is_file() and time.monotonic() < deadline:
        time.sleep(0.02)
    controller = int(grid_table([cell])["job"].iloc[0].split()[1])
    for pid in _task_pids(controller):
        os.kill(pid, signal.SIGUSR2)
    job.join(timeout=180)
    assert lines == [f"cell 1 ({cell.label}) done"]  # the same job, requeued: never reported as failed
    first_try, second_try = attempts(cell.folder)
    assert first_try["job"] == second_try["job"] and 1 <= second_try["epochs_done_at_start"] < 4
    pd.testing.assert_frame_equal(scores(cell), scores(serial[1]))
