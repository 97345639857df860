"""`grid --submit` never sends a cell twice: one whose job runs or waits is skipped, and its run folder is locked."""

from __future__ import annotations

import json
import threading
import time

import pytest

from landslide_core.errors import LockHeldError
from landslide_core.experiments.grid import RUNNING, Scheduler, attempts, grid_cells, grid_table, run_cell, submit
from landslide_core.experiments.runs import train_and_evaluate
from landslide_core.io.lock import lock_holder
from landslide_core.train.loop import LOCK_FILE
from tests.experiments.test_grid import LOCAL, _task_pids, cells, root  # noqa: F401 (root: fixture)
from tests.experiments.test_grid_slurm import demo_root, slurm  # noqa: F401 (fixtures)
from tests.train.test_training import one_thread, tiny_config  # noqa: F401 (one_thread: autouse fixture)


def test_cells_whose_slurm_job_runs_or_waits_are_not_sent_again_and_one_that_failed_is(slurm, tmp_path, demo_root):  # noqa: F811
    configs = [tiny_config(group=group, seed=0) for group in ("UAV", "SAT", "UAV&SAT")]
    grid = grid_cells(tmp_path / "runs", configs, demo_root, split="random")
    jobs = tmp_path / "runs" / "jobs"
    submit(grid, jobs, Scheduler(), echo=lambda line: None)  # 4242_0, _1, _2: running, pending, failed
    (slurm / "submitted.sh").unlink()
    records = [json.loads((cell.folder / "job.json").read_text()) for cell in grid]
    said: list[str] = []
    lines = submit(grid, jobs, Scheduler(), echo=said.append)
    assert lines[:2] == said[:2] == [
        f"cell 0 ({grid[0].label}): not sent again, its slurm job 4242_0 is running",
        f"cell 1 ({grid[1].label}): not sent again, its slurm job 4242_1 is queued",
    ]
    assert lines[2:] == [f"cell 2 ({grid[2].label}): Slurm job 4242"]  # its job failed: sent again, alone
    assert (slurm / "submitted.sh").is_file()
    assert [json.loads((cell.folder / "job.json").read_text()) for cell in grid[:2]] == records[:2]


@pytest.mark.slow
def test_a_cell_whose_local_job_runs_is_skipped_and_its_run_folder_refuses_a_second_trainer(root, tmp_path):  # noqa: F811
    cell = cells(tmp_path / "runs", root, epochs=8)[1]  # epochs 2-8 leave seconds to watch it run
    jobs = tmp_path / "runs" / "jobs"
    lines: list[str] = []
    first = threading.Thread(target=lambda: lines.extend(submit([cell], jobs, LOCAL, poll_s=0.1,
                                                                echo=lambda line: None)))
    first.start()
    try:
        deadline = time.monotonic() + 120
        while not (cell.folder / "history.csv").is_file() and time.monotonic() < deadline:
            time.sleep(0.02)  # epoch 1 is written: the job trains
        job = grid_table([cell])["job"].iloc[0]
        assert grid_table([cell])["state"].tolist() == [RUNNING]

        said: list[str] = []
        again = submit([cell], jobs, LOCAL, poll_s=0.1, echo=said.append)
        assert again == said == [f"cell 1 ({cell.label}): not sent again, its local job {job.split()[1]} is running"]
        assert grid_table([cell])["job"].iloc[0] == job, "no second job was recorded"

        holder = lock_holder(cell.folder / LOCK_FILE)  # the job's task process, not the controller
        assert holder["pid"] in _task_pids(int(job.split()[1]))
        with pytest.raises(LockHeldError, match=f"is held by process {holder['pid']} on {holder['host']} "
                                                f"\\(training and evaluating {cell.folder.name}, since "):
            train_and_evaluate(cell.spec, cell.folder, False)
        with pytest.raises(LockHeldError, match=f"is held by process {holder['pid']}"):
            run_cell(cell, progress=False)  # as `grid --cell N` by hand would: refused before recording an attempt
    finally:
        first.join(timeout=300)
    assert lines == [f"cell 1 ({cell.label}) done"]
    assert len(attempts(cell.folder)) == 1 and not (cell.folder / LOCK_FILE).exists()
