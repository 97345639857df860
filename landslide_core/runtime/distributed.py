"""Several processes, one result: torchrun sessions, sharding, batch norm over processes, local launches.

Launched by ``torchrun --nproc_per_node N`` (``WORLD_SIZE > 1``), a run joins the
process group (NCCL on CUDA, gloo on CPU). Training shards batches with a seeded
``DistributedSampler``; evaluation shards tiles as ``indices[rank::world]``
(no padding duplicates) and sums confusion matrices, so its scores are exactly
those of one process. Only rank 0 writes files and shows progress bars.

torch's ``SyncBatchNorm`` runs on GPUs only; :class:`ProcessGroupBatchNorm` does
the same on any device, so multi-process CPU runs (and the tests that check them
against one process) pool batch statistics too.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..errors import RankFailedError

__all__ = [
    "ProcessGroupBatchNorm", "Session", "all_reduce_sum", "current_session", "free_port", "run_local", "session",
    "sync_batchnorm"
]

T = TypeVar("T")



@dataclass(frozen=True)
class Session:
    """This process's place in a run: ``rank`` of ``world_size`` (``0`` of ``1`` without torchrun)."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and shows progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether the run has more than one process, so processes must communicate."""
        return self.world_size > 1

    def shard(self, n: int) -> list[int]:
        """This process's share of ``n`` items for evaluation: ``rank, rank + world, …`` (uneven, never padded)."""
        return list(range(self.rank, n, self.world_size))

    def barrier(self) -> None:
        """Wait until every process reaches this point; returns at once in a single-process run."""
        if self.distributed:
            dist.barrier()

    def from_main(self, compute: Callable[[], T]) -> T:
        """Run ``compute`` on rank 0 only and hand its result to every process.

        Used for steps that write files (the split manifest). If rank 0 fails,
        every process raises rather than waiting for it forever.

        Raises:
            RankFailedError: On ranks other than 0, when ``compute`` failed on rank 0 (rank 0 re-raises its own
                error).
        """
        if not self.distributed:
            return compute()
        box: list[Any] = [None]
        if self.is_main:
            try:
                box[0] = ("ok", compute())
            except Exception as error:
                dist.broadcast_object_list([("error", f"{type(error).__name__}: {error}")], src=0)
                raise
        dist.broadcast_object_list(box, src=0)
        status, value = box[0]
        if status == "error":
            raise RankFailedError(f"rank 0 failed, so rank {self.rank} stops too: {value}")
        return value


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes whose gradient is the sum of the processes' gradients (each depends on every input)."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        total = grad.clone()
        dist.all_reduce(total)
        return total


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Differentiable sum of ``tensor`` over all processes (``tensor`` itself when there is no process group)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return _AllReduceSum.apply(tensor)
    return tensor


def current_session() -> Session:
    """This process's place in the process group that exists now (rank 0 of 1 when there is none)."""
    if dist.is_available() and dist.is_initialized():
        return Session(dist.get_rank(), dist.get_world_size())
    return Session()


@contextlib.contextmanager
def session(device: torch.device) -> Iterator[Session]:
    """Join the process group when launched by torchrun (``WORLD_SIZE > 1``); leave it on exit.

    A process group that already exists (set up by the caller) is used as it is
    and left open.
    """
    if dist.is_available() and dist.is_initialized():
        yield current_session()
        return
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        yield Session()
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    else:
        dist.init_process_group("gloo")
    try:
        yield current_session()
    finally:
        dist.destroy_process_group()


class ProcessGroupBatchNorm(_BatchNorm):
    """Batch norm whose training statistics are pooled over all processes, on any device.

    Mean and variance are two-pass (sum, then squared deviations from the pooled
    mean), each summed with a differentiable all-reduce, so gradients flow
    through the pooled statistics as in ``torch.nn.SyncBatchNorm``. Without a
    process group, or in eval mode, it is plain batch norm.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Normalise ``input``, with statistics pooled over processes when training in a group of several."""
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)
        x = input.float()
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        local_count = torch.tensor([x.numel() / x.shape[1]], device=x.device)
        totals = all_reduce_sum(torch.cat([x.sum(dims), local_count]))
        count = totals[-1]
        mean = totals[:-1] / count
        centred = x - mean.reshape(shape)
        var = all_reduce_sum(centred.square().sum(dims)) / count
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            self._update_running_stats(mean.detach(), var.detach() * count / (count - 1))
        out = centred * torch.rsqrt(var + self.eps).reshape(shape)
        if self.affine:
            out = out * self.weight.reshape(shape) + self.bias.reshape(shape)
        return out.to(input.dtype)

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, unbiased_var: torch.Tensor) -> None:
        assert self.num_batches_tracked is not None
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), factor)
        self.running_var.lerp_(unbiased_var.to(self.running_var.dtype), factor)


def _to_process_group_batchnorm(module: nn.Module) -> nn.Module:
    if isinstance(module, _BatchNorm) and not isinstance(module, ProcessGroupBatchNorm):
        converted = ProcessGroupBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                          module.track_running_stats)
        converted.load_state_dict(module.state_dict())
        converted.train(module.training)
        return converted
    for name, child in module.named_children():
        module.add_module(name, _to_process_group_batchnorm(child))
    return module


def sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Batch-norm layers that pool statistics over processes: torch's SyncBatchNorm on CUDA, ours elsewhere."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return _to_process_group_batchnorm(model)


def free_port() -> int:
    """A TCP port that was free a moment ago, for a local rendezvous."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _local_worker(rank: int, world_size: int, port: int, fn: Callable[..., Any], args: tuple[Any, ...],
                  results: str, threads: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_WORLD_SIZE=str(world_size))
    torch.set_num_threads(threads)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        result = fn(*args)
    finally:
        dist.destroy_process_group()
    Path(results, f"{rank}.pkl").write_bytes(pickle.dumps(result))


def run_local(fn: Callable[..., T], world_size: int, *args: Any, threads: int = 1) -> list[T]:
    """Run ``fn(*args)`` in ``world_size`` local CPU processes joined by gloo, as torchrun would; one result per rank.

    ``fn`` must be importable by name (defined at module level). For tests and
    small CPU runs; for real multi-GPU runs use ``torchrun``.
    """
    with tempfile.TemporaryDirectory(prefix="landslide-core-ranks-") as results:
        mp.spawn(_local_worker, args=(world_size, free_port(), fn, args, results, threads), nprocs=world_size)
        return [pickle.loads(Path(results, f"{rank}.pkl").read_bytes()) for rank in range(world_size)]
