"""How many data-loader processes a run gets when it does not say: as many as the machine's cores allow.

A fixed count is wrong somewhere: 4 workers on a 2-core machine make PyTorch warn
about too many workers and spend as much time in the kernel as in Python, while an
8-GPU node has cores to spare. ``"auto"`` counts the cores this process may run on
(``os.sched_getaffinity``: a Slurm job or container may get fewer than the machine
has), shares them among the processes on this node (``LOCAL_WORLD_SIZE`` under
torchrun), keeps one per process for the training loop itself and caps the rest
(on the CPU, where the model needs the cores, one worker at most). The count never
changes a result: every item is seeded by its index.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import TYPE_CHECKING, Literal

from ..errors import ConfigError

if TYPE_CHECKING:  # annotations only: counting cores needs no torch (the book runner imports this module)
    import torch

__all__ = ["AUTO", "MAX_WORKERS", "NumWorkers", "available_cores", "default_num_workers", "resolve_num_workers"]

log = logging.getLogger(__name__)

AUTO = "auto"
MAX_WORKERS = 8
"""The most ``auto`` gives a process: each worker is a process with its own copy of the dataset, and at about 2 ms
per training item on one core (the real Hokkaido tiles) eight make items several times faster than the 800
images/s DeepLabV3+ is to train at on an H100."""

NumWorkers = int | Literal["auto"]
"""A worker count, or ``"auto"`` for :func:`default_num_workers`."""


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask), or the machine's count where that is unknown."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_num_workers(device: torch.device, processes_per_node: int = 1) -> int:
    """Data-loader processes for one training or evaluation process on ``device``.

    On CUDA: the cores each process of the node gets, less one for the process itself, at most
    :data:`MAX_WORKERS`. On the CPU at most one: there the model's own threads need the cores, and a CPU step
    takes far longer than loading its batch, so one worker hides the loading. Never more than the cores.

    Args:
        device: Where the model runs.
        processes_per_node: Training processes sharing this machine's cores (GPUs used on the node).
    """
    cores = available_cores()
    per_process = max(cores // max(processes_per_node, 1), 1)
    cap = MAX_WORKERS if device.type == "cuda" else 1
    return max(min(per_process - 1, cap, cores), 0)


def resolve_num_workers(value: NumWorkers, device: torch.device) -> int:
    """``value`` itself for a count; for ``"auto"`` :func:`default_num_workers` on this node, logged.

    Under torchrun the processes on this node are ``LOCAL_WORLD_SIZE``; otherwise there is one.

    Raises:
        ConfigError: ``value`` is neither ``"auto"`` nor a count of 0 or more.
    """
    if value == AUTO:
        processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        workers = default_num_workers(device, processes)
        _log_once(workers, device.type, processes)
        return workers
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"num_workers must be 'auto' or a count of 0 or more, got {value!r}")
    return value


@functools.cache
def _log_once(workers: int, device_type: str, processes: int) -> None:
    """Say what ``auto`` became, once per setting: validation makes a new loader every epoch."""
    log.info("num_workers auto → %d data-loader process(es) (%d core(s) available, %d process(es) on this node, %s)",
             workers, available_cores(), processes, device_type)
