"""Independent pieces of work as scheduler jobs: to Slurm, or to processes on this machine, through submitit.

A :class:`Work` is anything with a number, a label, a place for its job record,
a way to tell it is done and a submitit callable that does it: a cell of the
Table 5 grid (:mod:`.grid`) or a scene to predict
(:mod:`landslide_core.predict.jobs`). :func:`submit_work` sends the unfinished ones
to Slurm as one job array, or runs them locally with at most one per slot (a GPU,
or a share of the CPU cores) at a time. Each sent piece gets a ``job.json`` record
of the job that took it, which listings read back and which keeps a piece whose
job still runs or waits in the queue from being sent a second time.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import submitit
import torch

from ..errors import GridError
from ..io.atomic import write_text_atomic
from ..runtime.workers import available_cores

__all__ = ["QUEUED", "RUNNING", "Scheduler", "Work", "job_state", "now_utc", "read_job", "submit_work"]

RUNNING, QUEUED = "running", "queued"
_SLURM_ACTIVE = {"RUNNING", "COMPLETING", "CONFIGURING", "REQUEUED", "RESIZING", "SUSPENDED", "STAGE_OUT"}


class Work(Protocol):
    """One piece of work a job can take."""

    index: int

    @property
    def label(self) -> str:
        """What the work is, in words."""

    @property
    def kind(self) -> str:
        """What one piece is called in messages (``cell``, ``scene``)."""

    @property
    def job_file(self) -> Path:
        """Where the record of the last job sent for it goes."""

    def done(self) -> bool:
        """Whether its results are complete (then it is not sent again)."""

    def job(self, threads: int | None) -> Callable[[], str]:
        """The callable a job runs (a ``submitit.helpers.Checkpointable`` to be requeued on preemption)."""


def now_utc() -> str:
    """The time now, as the job records write it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Scheduler:
    """Where and how pieces of work run as jobs."""

    executor: str = "slurm"
    """``slurm`` or ``local`` (submitit's local executor: processes on this machine)."""
    partition: str | None = None
    account: str | None = None
    gpus_per_job: int = 1
    """GPUs per job; more than one makes a training cell one DDP run with a task per GPU. 0: CPU jobs."""
    time_min: int = 24 * 60
    """Time limit of each job in minutes; a job that reaches it is requeued and resumes."""
    cpus_per_job: int | None = None
    parallel: int | None = None
    """Local executor: jobs running at once (default: visible GPUs ÷ GPUs per job, or 1 without GPUs)."""
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


def _executor(scheduler: Scheduler, jobs_dir: Path, name: str) -> submitit.Executor:
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
    slurm = {"time": scheduler.time_min, "ntasks_per_node": scheduler.tasks, "nodes": 1, "job_name": name}
    if scheduler.gpus_per_job:
        slurm["gpus_per_node"] = scheduler.gpus_per_job
    for key, value in (("partition", scheduler.partition), ("account", scheduler.account),
                       ("cpus_per_task", scheduler.cpus_per_job)):
        if value is not None:
            slurm[key] = value
    executor.update_parameters(**slurm, **scheduler.slurm_options)
    return executor


def _write_job(work: Work, scheduler: Scheduler, job: submitit.Job, jobs_dir: Path) -> None:
    work.job_file.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(work.job_file, json.dumps(
        {"executor": scheduler.executor, "job_id": str(job.job_id), "jobs_folder": str(jobs_dir / str(job.job_id)),
         "submitted_utc": now_utc()}, indent=2) + "\n")


def read_job(job_file: Path) -> dict[str, Any]:
    """The record of the last job sent for a piece of work (``executor``, ``job_id``, ...); empty if none was."""
    return json.loads(job_file.read_text(encoding="utf-8")) if job_file.is_file() else {}


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


def job_state(job: dict[str, Any]) -> str | None:
    """``running`` or ``queued`` while the job of a :func:`read_job` record is alive; ``None`` once it has ended.

    Where Slurm cannot say (``sacct`` missing or failing), ``running? (...)`` with the reason, never a guess.
    """
    if job.get("executor") == "local":
        return RUNNING if _local_job_alive(str(job["job_id"])) else None
    try:
        state = submitit.SlurmJob(folder=job["jobs_folder"], job_id=str(job["job_id"])).state
    except Exception as error:  # sacct missing or failing: say so rather than guess  # noqa: BLE001
        return f"{RUNNING}? (Slurm job {job['job_id']}: state unknown, {type(error).__name__})"
    if state == "PENDING":
        return QUEUED
    return RUNNING if state in _SLURM_ACTIVE else None


def _gpu_slots(scheduler: Scheduler) -> list[list[int]]:
    """Groups of visible GPU ids, one group per local job; ids as this process's ``CUDA_VISIBLE_DEVICES`` names them."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [int(i) for i in visible.split(",") if i.strip().isdigit()][:count] if visible else list(range(count))
    size = scheduler.gpus_per_job
    return [ids[i:i + size] for i in range(0, len(ids) - size + 1, size)] if size else []


def _finished(job: submitit.Job, work: Work) -> str:
    """A line saying how a finished job ended."""
    try:
        job.result()
    except Exception as error:  # a failed job's error, reported as text: the other pieces go on  # noqa: BLE001
        log = (job.stderr() or "").strip().splitlines()
        last = log[-1] if log else type(error).__name__
        return (f"{work.kind} {work.index} ({work.label}) FAILED: {last} (log: {job.paths.stderr}); submit again "
                "to resume it")
    return f"{work.kind} {work.index} ({work.label}) done"


def submit_work(works: Sequence[Work], jobs_dir: str | Path, scheduler: Scheduler, *, name: str,
                wait: bool = False, poll_s: float = 2.0, echo: Callable[[str], None] = print) -> list[str]:
    """Send the pieces that are not done to the scheduler; return one line per piece sent (its job, or its end).

    A piece whose last job (:func:`read_job`) is still running or queued is not sent again: it gets a line saying so.
    Slurm: every piece is submitted at once (as a job array named ``name``) and the call returns unless ``wait``.
    Local: at most one piece per slot runs at a time and the call returns when all have ended (a local job lives as
    long as this process supervises it).

    Raises:
        GridError: Slurm is not reachable, or a local run asks for more GPUs per job than are visible.
    """
    jobs_dir = Path(jobs_dir)
    pending = [work for work in works if not work.done()]
    if not pending:
        echo(f"every {works[0].kind if works else 'piece'} is done; nothing to submit")
        return []
    pending, skipped = _not_in_flight(pending, echo)
    if not pending:
        return skipped
    executor = _executor(scheduler, jobs_dir, name)
    if scheduler.executor == "slurm":
        with executor.batch():
            jobs = [executor.submit(work.job(scheduler.threads)) for work in pending]
        lines = []
        for work, job in zip(pending, jobs, strict=True):
            _write_job(work, scheduler, job, jobs_dir)
            lines.append(f"{work.kind} {work.index} ({work.label}): Slurm job {job.job_id}")
            echo(lines[-1])
        if wait:
            lines = _wait(list(zip(pending, jobs, strict=True)), poll_s, echo)
        return skipped + lines
    return skipped + _run_locally(executor, pending, jobs_dir, scheduler, poll_s, echo)


def _not_in_flight(pending: list[Work], echo: Callable[[str], None]) -> tuple[list[Work], list[str]]:
    """The pieces without a live job, and a line for each one left out because its last job runs or waits."""
    left, skipped = [], []
    for work in pending:
        job = read_job(work.job_file)
        state = job_state(job) if job else None
        if state in (RUNNING, QUEUED):
            skipped.append(f"{work.kind} {work.index} ({work.label}): not sent again, its {job['executor']} job "
                           f"{job['job_id']} is {state}")
            echo(skipped[-1])
        else:
            left.append(work)
    return left, skipped


def _wait(running: list[tuple[Work, submitit.Job]], poll_s: float, echo: Callable[[str], None]) -> list[str]:
    lines = []
    while running:
        time.sleep(poll_s)
        for work, job in [pair for pair in running if pair[1].done()]:
            running.remove((work, job))
            lines.append(_finished(job, work))
            echo(lines[-1])
    return lines


def _run_locally(executor: submitit.Executor, pending: list[Work], jobs_dir: Path, scheduler: Scheduler,
                 poll_s: float, echo: Callable[[str], None]) -> list[str]:
    gpus = _gpu_slots(scheduler)
    if scheduler.gpus_per_job and not gpus:
        raise GridError(f"{scheduler.gpus_per_job} GPU(s) per job asked for, but this machine shows "
                        f"{torch.cuda.device_count()} usable GPU(s); use --gpus-per-job 0 for CPU jobs")
    slots: list[list[int]] = gpus[:scheduler.parallel] if gpus else [[] for _ in range(scheduler.parallel or 1)]
    threads = scheduler.threads or max(1, available_cores() // len(slots))
    free, running, lines = list(slots), [], []
    queue = list(pending)
    echo(f"running {len(queue)} {pending[0].kind}(s) here, {len(slots)} at a time"
         + (f" (GPUs {', '.join(','.join(map(str, s)) for s in slots)})" if gpus else f" ({threads} thread(s) each)"))
    while queue or running:
        while queue and free:
            work, slot = queue.pop(0), free.pop(0)
            executor.update_parameters(visible_gpus=slot)
            job = executor.submit(work.job(threads))
            _write_job(work, scheduler, job, jobs_dir)
            running.append((work, job, slot))
            echo(f"{work.kind} {work.index} ({work.label}): started as local job {job.job_id}")
        time.sleep(poll_s)
        for entry in [entry for entry in running if entry[1].done()]:
            running.remove(entry)
            free.append(entry[2])
            lines.append(_finished(entry[1], entry[0]))
            echo(lines[-1])
    return lines
