"""Where and how a model runs: device, bf16 autocast, channels_last, torch.compile, determinism.

One code path serves CPU and GPU. On CUDA the defaults turn on what makes
training fast there (bf16 autocast, channels_last memory format, cuDNN autotuning);
on CPU the same calls run with autocast disabled, in plain float32 and with
deterministic algorithms, so a resumed CPU run ends bit-identical to an
uninterrupted one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import DeviceError

__all__ = ["Runtime", "algorithm_settings", "resolve_device"]


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` → CUDA when available, else CPU; an unnumbered ``cuda`` is the process's ``LOCAL_RANK`` GPU.

    Raises:
        DeviceError: torch does not know the device name, or CUDA is asked for but not available.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device {str(name)!r}; use auto, cpu, cuda or cuda:<index>") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {str(name)!r} was asked for but CUDA is not available here; use --device cpu or auto")
    if device.type == "cuda" and device.index is None:  # one GPU per process under torchrun
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


@dataclass(frozen=True)
class Runtime:
    """Resolved execution settings for one device."""

    device: torch.device
    amp: bool
    """bf16 autocast in the forward pass (losses and metrics are computed in float32)."""
    channels_last: bool

    @classmethod
    def for_device(cls, device: str | torch.device = "auto", *, amp: bool | str = "auto",
                   channels_last: bool | str = "auto") -> Runtime:
        """The settings a run uses on ``device``; ``auto`` turns bf16 autocast and channels_last on only on CUDA.

        Args:
            device: ``auto``, ``cpu``, ``cuda``, ``cuda:<index>`` or a ``torch.device`` (see :func:`resolve_device`).
            amp: bf16 autocast in the forward pass: ``auto`` or a boolean.
            channels_last: The channels_last memory format: ``auto`` or a boolean.
        """
        resolved = resolve_device(device)
        on_cuda = resolved.type == "cuda"
        return cls(
            device=resolved,
            amp=on_cuda if amp == "auto" else bool(amp),
            channels_last=on_cuda if channels_last == "auto" else bool(channels_last),
        )

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        """bf16 autocast when enabled; the same call, disabled, in float32 otherwise."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Move a model to the device and memory format (in place; returned for chaining)."""
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        return model

    def images(self, batch: torch.Tensor) -> torch.Tensor:
        """An image batch on the device, in the model's memory format."""
        batch = batch.to(self.device, non_blocking=True)
        return batch.contiguous(memory_format=torch.channels_last) if self.channels_last else batch

    def masks(self, batch: torch.Tensor) -> torch.Tensor:
        """A mask batch on the device (its memory format unchanged)."""
        return batch.to(self.device, non_blocking=True)


@contextlib.contextmanager
def algorithm_settings(device: torch.device) -> Iterator[None]:
    """Deterministic algorithms on CPU; cuDNN autotuning and TF32 on CUDA. Restores the previous settings on exit.

    On CUDA, bit-identical results would cost speed (and some ops have no
    deterministic kernel), so a resumed GPU run matches an uninterrupted one only
    up to floating-point non-associativity. On the CPU, deterministic mode would also
    fill every new tensor with NaN (``fill_uninitialized_memory``), a debugging aid that
    changes no result our code computes (nothing reads memory before writing it) and
    cost FCN-8s 0.9 s per training step of 8 (its 134 M-parameter gradient buffers):
    it is switched off.
    """
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    fill = torch.utils.deterministic.fill_uninitialized_memory
    benchmark = torch.backends.cudnn.benchmark
    matmul_precision = torch.get_float32_matmul_precision()
    try:
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.set_float32_matmul_precision("high")  # TF32 for what runs outside bf16 autocast
        else:
            torch.use_deterministic_algorithms(True)
            torch.utils.deterministic.fill_uninitialized_memory = False
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.utils.deterministic.fill_uninitialized_memory = fill
        torch.backends.cudnn.benchmark = benchmark
        torch.set_float32_matmul_precision(matmul_precision)
