"""Where and how a model runs: device, precision (bf16, fp16 or fp32), channels_last, torch.compile, determinism.

One code path serves CPU and GPU. On CUDA the defaults turn on what makes
training fast there: autocast in bf16 where the GPU supports it and in fp16
(with a gradient scaler) where it does not, the channels_last memory format and
cuDNN autotuning. On CPU the same calls run in plain float32 with deterministic
algorithms, so a resumed CPU run ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from ..errors import DeviceError

__all__ = ["PRECISIONS", "Runtime", "algorithm_settings", "resolve_device", "resolve_precision"]

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
"""What a run may ask for; ``auto`` resolves per device (:func:`resolve_precision`)."""
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


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


def resolve_precision(requested: str, device_type: str, bf16_supported: bool) -> str:
    """The precision a run uses: ``auto`` → bf16 on a CUDA GPU that supports it, fp16 on other GPUs, fp32 elsewhere.

    A pure function of the device's facts, so that the rule is tested without a GPU.

    Args:
        requested: One of :data:`PRECISIONS`.
        device_type: ``torch.device.type`` of the run (``cuda``, ``cpu``, …).
        bf16_supported: Whether the GPU runs bf16 natively (``torch.cuda.is_bf16_supported(including_emulation=
            False)``); ignored off CUDA.

    Raises:
        DeviceError: ``requested`` is not a precision, bf16 is asked for on a GPU without it, or bf16/fp16
            autocast is asked for off CUDA (where this project runs float32 only).
    """
    if requested not in PRECISIONS:
        raise DeviceError(f"unknown precision {requested!r}; use one of {', '.join(PRECISIONS)}")
    if device_type != "cuda":
        if requested in ("bf16", "fp16"):
            raise DeviceError(f"precision {requested} autocast is for CUDA GPUs; on {device_type} this project "
                              "trains in float32: use --precision fp32 (or auto)")
        return "fp32"
    if requested == "auto":
        return "bf16" if bf16_supported else "fp16"
    if requested == "bf16" and not bf16_supported:
        raise DeviceError("precision bf16 was asked for but this GPU does not support bfloat16 "
                          "(torch.cuda.is_bf16_supported() is False); use --precision fp16 (with a gradient "
                          "scaler) or auto")
    return requested


def _bf16_supported(device: torch.device) -> bool:
    """Native bf16 on this GPU (compute capability 8.0 or more): emulated bf16 on older GPUs is slower than fp16."""
    if device.type != "cuda":
        return False
    with torch.cuda.device(device):
        return torch.cuda.is_bf16_supported(including_emulation=False)


@dataclass(frozen=True)
class Runtime:
    """Resolved execution settings for one device."""

    device: torch.device
    precision: str
    """``bf16`` or ``fp16`` autocast in the forward pass (losses and metrics are computed in float32), or ``fp32``."""
    channels_last: bool

    def __post_init__(self) -> None:
        if self.precision not in _DTYPES:
            raise DeviceError(f"a Runtime needs a resolved precision (bf16, fp16 or fp32), got {self.precision!r}; "
                              "use Runtime.for_device to resolve auto")
        if self.precision != "fp32":
            resolve_precision(self.precision, self.device.type, bf16_supported=True)  # bf16/fp16 only on CUDA

    @classmethod
    def for_device(cls, device: str | torch.device = "auto", *, precision: str = "auto",
                   channels_last: bool | str = "auto") -> Runtime:
        """The settings a run uses on ``device``; ``auto`` picks the precision and channels_last for the device.

        Args:
            device: ``auto``, ``cpu``, ``cuda``, ``cuda:<index>`` or a ``torch.device`` (see :func:`resolve_device`).
            precision: One of :data:`PRECISIONS` (see :func:`resolve_precision`).
            channels_last: The channels_last memory format: ``auto`` (on CUDA only) or a boolean.

        Raises:
            DeviceError: The device is not available, or the precision cannot run on it.
        """
        resolved = resolve_device(device)
        on_cuda = resolved.type == "cuda"
        return cls(
            device=resolved,
            precision=resolve_precision(precision, resolved.type, _bf16_supported(resolved)),
            channels_last=on_cuda if channels_last == "auto" else bool(channels_last),
        )

    def with_precision(self, precision: str) -> Runtime:
        """These settings in another precision, resolved for this device (see :func:`resolve_precision`).

        Raises:
            DeviceError: The precision cannot run on this device.
        """
        return replace(self, precision=resolve_precision(precision, self.device.type, _bf16_supported(self.device)))

    @property
    def dtype(self) -> torch.dtype:
        """The autocast dtype (``torch.float32`` when autocast is off)."""
        return _DTYPES[self.precision]

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Autocast in bf16 or fp16 when the precision says so; the same call, disabled, in float32."""
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=self.precision != "fp32")

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A gradient scaler, enabled for fp16 only (fp16 gradients underflow without it; bf16 has fp32's range).

        Disabled, its ``scale``, ``step`` and ``update`` pass the loss and the
        optimizer step through unchanged, so one training step serves every precision.
        """
        return torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")

    def describe(self) -> dict[str, Any]:
        """The device facts and settings that decide a run's numbers and speed, as plain JSON types."""
        on_cuda = self.device.type == "cuda"
        capability = torch.cuda.get_device_capability(self.device) if on_cuda else None
        return {
            "device": str(self.device),
            "device_type": self.device.type,
            "device_name": torch.cuda.get_device_name(self.device) if on_cuda else None,
            "compute_capability": None if capability is None else f"{capability[0]}.{capability[1]}",
            "bf16_supported": _bf16_supported(self.device),
            "precision": self.precision,
            "grad_scaler": self.precision == "fp16",
            "channels_last": self.channels_last,
            "torch": str(torch.__version__),
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if on_cuda else None,
        }

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
            torch.set_float32_matmul_precision("high")  # TF32 for what runs outside autocast
        else:
            torch.use_deterministic_algorithms(True)
            torch.utils.deterministic.fill_uninitialized_memory = False
        yield
    finally:
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.utils.deterministic.fill_uninitialized_memory = fill
        torch.backends.cudnn.benchmark = benchmark
        torch.set_float32_matmul_precision(matmul_precision)
