"""A grid of training runs as independent jobs: one (model, group, seed) cell per job, on a scheduler or this machine.

A cell trains and evaluates in the folder :func:`~.table5.run_folder` names, with
the split manifest :func:`~.table5.run_grid` uses, so the benchmarks page reads
back what the jobs wrote as if it had trained them itself. Jobs go through
``submitit``: to Slurm (one job per cell; with several GPUs, one task per GPU
joined as a DDP run), or to its local executor, which starts processes on this
machine and of which :func:`submit` keeps at most one cell per slot (a GPU, or a
share of the CPU cores) running. A job stopped by preemption or its time limit is
requeued by submitit and resumes from the cell's ``last.pt``, as does a failed or
killed cell when it is submitted again.

Files in a cell's folder besides the run's own: ``job.json`` (the last job that
was sent for it) and ``attempts.jsonl`` (one line per job start, with the epochs
already done then: a resumed job shows them).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import submitit
import torch

from ..errors import GridError
from ..io.atomic import write_text_atomic
from ..runtime.workers import available_cores
from ..train.config import TrainConfig
from ..train.loop import HISTORY_FILE
from .runs import SCORES_FILE, train_and_evaluate
from .table5 import prune_checkpoints, run_folder

__all__ = [
    "ATTEMPTS_FILE", "DONE", "JOB_FILE", "MISSING", "QUEUED", "RUNNING", "Cell", "CellJob", "Scheduler", "attempts",
    "cell_state", "grid_cells", "grid_table", "run_cell", "submit",
]

JOB_FILE, ATTEMPTS_FILE = "job.json", "attempts.jsonl"
DONE, RUNNING, QUEUED, MISSING = "done", "running", "queued", "missing"
_SLURM_ACTIVE = {"RUNNING", "COMPLETING", "CONFIGURING", "REQUEUED", "RESIZING", "SUSPENDED", "STAGE_OUT"}


@dataclass(frozen=True)
class Cell:
    """One (model, group, seed) of a grid: its full training configuration and where it trains."""

    index: int
    config: TrainConfig
    folder: Path
    manifest: Path
    """The seed's split manifest, shared by every cell of that seed (written before any cell runs)."""
    keep_checkpoint: bool = True
    """Keep ``best.pt`` once evaluated (the page shows this cell's predictions); else only scores and history."""

    @property
    def label(self) -> str:
        """``model on group, seed N``."""
        return f"{self.config.model} on {self.config.group}, seed {self.config.seed}"


def grid_cells(runs_dir: Path, configs: Sequence[TrainConfig],
               keep: Callable[[str, str, int], bool] | None = None) -> list[Cell]:
    """The cells of a grid, numbered from 0 in the order of ``configs``.

    Args:
        runs_dir: The folder that holds every cell's run folder and the per-seed manifests ``split-seed<N>.csv``.
        configs: One training configuration per cell (model, group and seed set).
        keep: ``keep(model, group, seed)``: whether a cell keeps its best checkpoint; ``None`` keeps every one.
    """
    return [Cell(i, config, run_folder(runs_dir, config.model, config.group, config.seed),
                 runs_dir / f"split-seed{config.seed}.csv",
                 True if keep is None else keep(config.model, config.group, config.seed))
            for i, config in enumerate(configs)]


def _epochs_done(folder: Path) -> int:
    history = folder / HISTORY_FILE
    return len(pd.read_csv(history)) if history.is_file() else 0


def _local_job_alive(job_id: str) -> bool:
    """Whether the local submitit controller with this process id still runs (and is one: pids are reused)."""
    cmdline = Path("/proc", job_id, "cmdline")
    if cmdline.parent.is_dir():
        return b"submitit" in cmdline.read_bytes()
    try:
        os.kill(int(job_id), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def _job_state(job: dict[str, Any]) -> str | None:
    """``running`` or ``queued`` while the cell's last job is alive; ``None`` once it has ended."""
    if job.get("executor") == "local":
        return RUNNING if _local_job_alive(str(job["job_id"])) else None
    try:
        state = submitit.SlurmJob(folder=job["jobs_folder"], job_id=str(job["job_id"])).state
    except Exception as error:  # sacct missing or failing: say so rather than guess  # noqa: BLE001
        return f"{RUNNING}? (Slurm job {job['job_id']}: state unknown, {type(error).__name__})"
    if state == "PENDING":
        return QUEUED
    return RUNNING if state in _SLURM_ACTIVE else None


def cell_state(cell: Cell) -> dict[str, Any]:
    """The cell's state (``done``, ``running``, ``queued`` or ``missing``), its epochs done and its last job."""
    epochs = f"{_epochs_done(cell.folder)}/{cell.config.epochs}"
    job_file = cell.folder / JOB_FILE
    job = json.loads(job_file.read_text(encoding="utf-8")) if job_file.is_file() else {}
    if (cell.folder / SCORES_FILE).is_file():
        state = DONE
    else:
        state = (_job_state(job) if job else None) or MISSING
    return {"cell": cell.index, "model": cell.config.model, "group": cell.config.group, "seed": cell.config.seed,
            "state": state, "epochs": epochs, "job": f"{job['executor']} {job['job_id']}" if job else "",
            "folder": str(cell.folder)}


def grid_table(cells: Sequence[Cell]) -> pd.DataFrame:
    """Every cell's :func:`cell_state`, one row per cell."""
    return pd.DataFrame([cell_state(cell) for cell in cells]).set_index("cell")


def attempts(folder: Path) -> list[dict[str, Any]]:
    """The job starts recorded in a cell's ``attempts.jsonl`` (oldest first)."""
    path = folder / ATTEMPTS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def run_cell(cell: Cell, data_root: str | Path, *, progress: bool = True, job_id: str = "") -> None:
    """Train and evaluate one cell in its folder; a finished cell is left alone, an interrupted one resumes.

    Under several processes (torchrun, or a submitit job with one task per GPU) every process trains; only
    rank 0 records the attempt, evaluates and prunes checkpoints.
    """
    if (cell.folder / SCORES_FILE).is_file():
        return
    if _rank() == 0:
        cell.folder.mkdir(parents=True, exist_ok=True)
        line = {"job": job_id or "foreground", "host": socket.gethostname(), "started_utc": _now(),
                "epochs_done_at_start": _epochs_done(cell.folder),
                "world_size": int(os.environ.get("WORLD_SIZE", "1"))}
        with (cell.folder / ATTEMPTS_FILE).open("a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")
    train_and_evaluate(cell.config, data_root, cell.folder, cell.manifest, progress and _rank() == 0)
    if _rank() == 0:
        prune_checkpoints(cell.folder, cell.keep_checkpoint)


class CellJob(submitit.helpers.Checkpointable):
    """What a submitit job runs: one cell. Requeued on preemption or timeout, it resumes from ``last.pt``."""

    def __init__(self, cell: Cell, data_root: Path, threads: int | None = None) -> None:
        self.cell, self.data_root, self.threads = cell, Path(data_root), threads

    def __call__(self) -> str:
        """Run the cell (joining the job's tasks as one DDP run when there are several); return its folder."""
        environment = submitit.JobEnvironment()
        if environment.num_tasks > 1:
            # Every task sees the job's GPUs; resolve_device picks its own by LOCAL_RANK.
            submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        run_cell(self.cell, self.data_root, progress=False, job_id=environment.job_id)
        return str(self.cell.folder)


@dataclass(frozen=True)
class Scheduler:
    """Where and how cells run as jobs."""

    executor: str = "slurm"
    """``slurm`` or ``local`` (submitit's local executor: processes on this machine)."""
    partition: str | None = None
    account: str | None = None
    gpus_per_job: int = 1
    """GPUs per cell; more than one makes the cell one DDP run with a task per GPU. 0: CPU jobs."""
    time_min: int = 24 * 60
    """Time limit of each job in minutes; a job that reaches it is requeued and resumes."""
    cpus_per_job: int | None = None
    parallel: int | None = None
    """Local executor: cells running at once (default: visible GPUs ÷ GPUs per job, or 1 without GPUs)."""
    threads: int | None = None
    """CPU threads per job (default: the cores shared evenly between the parallel local jobs)."""
    slurm_options: dict[str, Any] = field(default_factory=dict)
    """Further ``sbatch`` options, e.g. ``{"qos": "high", "constraint": "h100"}``."""

    def __post_init__(self) -> None:
        if self.executor not in ("slurm", "local"):
            raise GridError(f"executor must be 'slurm' or 'local', not {self.executor!r}")
        if self.gpus_per_job < 0 or self.time_min < 1 or (self.parallel is not None and self.parallel < 1):
            raise GridError(f"GPUs per job must be 0 or more, the time limit 1 minute or more and parallel 1 or "
                            f"more; got {self.gpus_per_job} GPU(s), {self.time_min} min, parallel {self.parallel}")

    @property
    def tasks(self) -> int:
        """Processes per job: one per GPU (at least one)."""
        return max(self.gpus_per_job, 1)


def _executor(scheduler: Scheduler, jobs_dir: Path) -> submitit.Executor:
    common = {"timeout_min": scheduler.time_min, "tasks_per_node": scheduler.tasks, "nodes": 1,
              "gpus_per_node": scheduler.gpus_per_job}
    if scheduler.executor == "local":
        executor = submitit.LocalExecutor(folder=jobs_dir / "%j")
        executor.update_parameters(**common)
        return executor
    try:
        executor = submitit.SlurmExecutor(folder=jobs_dir / "%j")
    except RuntimeError as error:
        raise GridError(f"cannot use Slurm here ({error}); run on a Slurm login node, or use --executor local") from None
    slurm = {"time": scheduler.time_min, "ntasks_per_node": scheduler.tasks, "nodes": 1, "job_name": "landslide-grid"}
    if scheduler.gpus_per_job:
        slurm["gpus_per_node"] = scheduler.gpus_per_job
    for key, value in (("partition", scheduler.partition), ("account", scheduler.account),
                       ("cpus_per_task", scheduler.cpus_per_job)):
        if value is not None:
            slurm[key] = value
    executor.update_parameters(**slurm, **scheduler.slurm_options)
    return executor


def _write_job(cell: Cell, scheduler: Scheduler, job: submitit.Job, jobs_dir: Path) -> None:
    cell.folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(cell.folder / JOB_FILE, json.dumps(
        {"executor": scheduler.executor, "job_id": str(job.job_id), "jobs_folder": str(jobs_dir / str(job.job_id)),
         "submitted_utc": _now()}, indent=2) + "\n")


def _gpu_slots(scheduler: Scheduler) -> list[list[int]]:
    """Groups of visible GPU ids, one group per local job; ids as this process's ``CUDA_VISIBLE_DEVICES`` names them."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [int(i) for i in visible.split(",") if i.strip().isdigit()][:count] if visible else list(range(count))
    size = scheduler.gpus_per_job
    return [ids[i:i + size] for i in range(0, len(ids) - size + 1, size)] if size else []


def _finished(job: submitit.Job, cell: Cell) -> str:
    """A line saying how a finished job ended."""
    try:
        job.result()
    except Exception as error:  # a failed job's error, reported as text: the other cells go on  # noqa: BLE001
        log = (job.stderr() or "").strip().splitlines()
        last = log[-1] if log else type(error).__name__
        return (f"cell {cell.index} ({cell.label}) FAILED: {last} (log: {job.paths.stderr}); submit again to "
                "resume it")
    return f"cell {cell.index} ({cell.label}) done"


def submit(cells: Sequence[Cell], data_root: str | Path, jobs_dir: str | Path, scheduler: Scheduler, *,
           wait: bool = False, poll_s: float = 2.0, echo: Callable[[str], None] = print) -> list[str]:
    """Send the cells that are not done to the scheduler; return one line per cell sent (its job, or its end).

    Slurm: every cell is submitted at once (as a job array) and the call returns unless ``wait``. Local: at most
    one cell per slot runs at a time and the call returns when all have ended (a local job lives as long as this
    process supervises it).

    Raises:
        GridError: A local run asks for more GPUs per job than are visible.
    """
    jobs_dir = Path(jobs_dir)
    pending = [cell for cell in cells if not (cell.folder / SCORES_FILE).is_file()]
    if not pending:
        echo("every cell is done; nothing to submit")
        return []
    executor = _executor(scheduler, jobs_dir)
    if scheduler.executor == "slurm":
        with executor.batch():
            jobs = [executor.submit(CellJob(cell, Path(data_root), scheduler.threads)) for cell in pending]
        lines = []
        for cell, job in zip(pending, jobs, strict=True):
            _write_job(cell, scheduler, job, jobs_dir)
            lines.append(f"cell {cell.index} ({cell.label}): Slurm job {job.job_id}")
            echo(lines[-1])
        if wait:
            lines = _wait([(cell, job) for cell, job in zip(pending, jobs, strict=True)], poll_s, echo)
        return lines
    return _run_locally(executor, pending, Path(data_root), jobs_dir, scheduler, poll_s, echo)


def _wait(running: list[tuple[Cell, submitit.Job]], poll_s: float, echo: Callable[[str], None]) -> list[str]:
    lines = []
    while running:
        time.sleep(poll_s)
        for cell, job in [pair for pair in running if pair[1].done()]:
            running.remove((cell, job))
            lines.append(_finished(job, cell))
            echo(lines[-1])
    return lines


def _run_locally(executor: submitit.Executor, pending: list[Cell], data_root: Path, jobs_dir: Path,
                 scheduler: Scheduler, poll_s: float, echo: Callable[[str], None]) -> list[str]:
    gpus = _gpu_slots(scheduler)
    if scheduler.gpus_per_job and not gpus:
        raise GridError(f"{scheduler.gpus_per_job} GPU(s) per job asked for, but this machine shows "
                        f"{torch.cuda.device_count()} usable GPU(s); use --gpus-per-job 0 for CPU jobs")
    slots: list[list[int]] = gpus[:scheduler.parallel] if gpus else [[] for _ in range(scheduler.parallel or 1)]
    threads = scheduler.threads or max(1, available_cores() // len(slots))
    free, running, lines = list(slots), [], []
    queue = list(pending)
    echo(f"running {len(queue)} cell(s) here, {len(slots)} at a time"
         + (f" (GPUs {', '.join(','.join(map(str, s)) for s in slots)})" if gpus else f" ({threads} thread(s) each)"))
    while queue or running:
        while queue and free:
            cell, slot = queue.pop(0), free.pop(0)
            executor.update_parameters(visible_gpus=slot)
            job = executor.submit(CellJob(cell, data_root, threads))
            _write_job(cell, scheduler, job, jobs_dir)
            running.append((cell, job, slot))
            echo(f"cell {cell.index} ({cell.label}): started as local job {job.job_id}")
        time.sleep(poll_s)
        for entry in [entry for entry in running if entry[1].done()]:
            running.remove(entry)
            free.append(entry[2])
            lines.append(_finished(entry[1], entry[0]))
            echo(lines[-1])
    return lines
