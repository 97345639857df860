"""The largest training batch that fits in a GPU's memory, per model, in the project's training path.

The paper fixes no batch size; on a GPU the usable one is bounded by memory,
and a grid job whose batch does not fit fails only once it has started. Each
model is probed with real training steps
on random 512×512 tensors in the project's :class:`Runtime` path (autocast in
bf16, or fp16 with the gradient scaler; channels_last; cuDNN autotuning): Dice
loss, backward, SGD with momentum, as training runs them. Batch sizes 2, 4, 8, …
are tried up to a cap, then the gap between the largest that fitted and the
smallest that did not is bisected until it is within a tolerance. A batch fits
when ``steps`` steps ran without running out of memory (the second step holds
the momentum buffers the first one creates). After a failure the failed step's
tensors are released and the allocator's cache emptied before the next probe.

The answer is for one process with a GPU to itself; validation, the loader's
pinned batches and other processes also take memory, so train a little below it.
Only CUDA is probed: CPU memory is the system's, and running out of it usually
gets the process killed rather than an error raised.
"""

from __future__ import annotations

import gc
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import torch

from ..errors import DeviceError, ThroughputError
from ..models import build_model, describe_model
from ..provenance import collect_provenance, write_record
from ..runtime.device import Runtime, algorithm_settings
from ..train.config import TrainConfig
from ..train.losses import build_loss
from .throughput import device_slug

__all__ = ["BATCH_FIT_COLUMNS", "Probe", "batch_fit", "batch_fit_table", "fits_in_memory", "run_batch_fit",
           "search_largest"]

log = logging.getLogger(__name__)

_PAPER = TrainConfig()  # its optimiser and loss defaults (quoted from the paper in train.config), as training uses them
OUT_OF_MEMORY = "out of memory"
BATCH_FIT_COLUMNS = ("model", "precision", "channels_last", "image_size", "largest_batch", "smallest_failing",
                     "cap", "peak_memory_mib", "gpu_memory_mib", "probes", "seconds", "note")
"""``largest_batch`` 0: not even 2 images fit; ``smallest_failing`` empty: the cap fitted, so the limit is higher."""

_ALLOCATION_FAILURES = ("CUBLAS_STATUS_ALLOC_FAILED", "CUDNN_STATUS_ALLOC_FAILED")
"""Library errors that mean the same as ``torch.cuda.OutOfMemoryError``: the library could not allocate its memory."""


@dataclass(frozen=True)
class Probe:
    """One batch size tried."""

    batch_size: int
    outcome: str
    """``fits``, ``out of memory``, or the error that stopped the steps."""
    peak_memory_mib: float
    seconds: float

    @property
    def fits(self) -> bool:
        """Whether every step ran."""
        return self.outcome == "fits"


def search_largest(fits: Callable[[int], bool], cap: int, *, start: int = 1,
                   tolerance: float = 0.125) -> tuple[int, int | None]:
    """The largest batch size ``fits`` accepts (0: not even ``start``) and the smallest it refused (None: none).

    ``start`` times powers of two up to ``cap`` (and ``cap`` itself when the
    doubling passes it), stopping at the first refusal; then bisection until the
    gap is at most ``max(1, tolerance × largest)`` images. ``fits`` is assumed
    monotonic: what fits at ``b`` fits below ``b``.

    Args:
        fits: Whether a batch of that size fits.
        cap: The largest batch size tried.
        start: The smallest batch size tried.
        tolerance: The bisection stops within this fraction of the largest fitting batch (0: exact).

    Raises:
        ThroughputError: ``start`` is below 1 or above ``cap``, or ``tolerance`` is outside [0, 1).
    """
    if not 1 <= start <= cap or not 0 <= tolerance < 1:
        raise ThroughputError(f"cannot search batch sizes from {start} up to {cap} within {tolerance}: use "
                              "1 ≤ start ≤ cap and a tolerance from 0 up to (not including) 1")
    largest, failing, size = 0, None, start
    while failing is None and largest < cap:
        if fits(size):
            largest, size = size, min(size * 2, cap)
        else:
            failing = size
    while largest and failing is not None and failing - largest > max(1, int(tolerance * largest)):
        middle = (largest + failing) // 2
        if fits(middle):
            largest = middle
        else:
            failing = middle
    return largest, failing


def _is_out_of_memory(error: RuntimeError) -> bool:
    return isinstance(error, torch.cuda.OutOfMemoryError) or any(s in str(error) for s in _ALLOCATION_FAILURES)


def fits_in_memory(step: Callable[[int], None], batch_size: int, *, release: Callable[[], None] = lambda: None) -> str:
    """Run ``step(batch_size)``: ``fits``, ``out of memory``, or the error's first line when it failed otherwise.

    After a failure, ``release()`` drops what the caller holds (gradients), and
    the failed step's tensors (referenced by the traceback until the ``except``
    block ends) are collected and the CUDA allocator's cache emptied, so the next
    probe starts from the same free memory.
    """
    try:
        step(batch_size)
        return "fits"
    except RuntimeError as error:
        outcome = OUT_OF_MEMORY if _is_out_of_memory(error) else f"{type(error).__name__}: {str(error).splitlines()[0]}"
    release()
    gc.collect()
    torch.cuda.empty_cache()
    return outcome


def batch_fit(model_name: str, device: str | torch.device = "cuda", *, image_size: int = 512, cap: int = 256,
              steps: int = 2, tolerance: float = 0.125, precision: str = "auto", channels_last: bool | str = "auto",
              seed: int = 0) -> tuple[int, int | None, list[Probe]]:
    """The largest training batch of ``model_name`` that fits on a CUDA ``device``, by :func:`search_largest`.

    The search starts at 2 images: DeepLabV3+ and MFFENet have batch norm on a
    1×1 pooled map and cannot train on one.

    Args:
        model_name: A registry name or ``smp:<Architecture>/<encoder>``.
        device: A CUDA device.
        image_size: Side of the square training images.
        cap: The largest batch size tried.
        steps: Training steps per probe.
        tolerance: See :func:`search_largest`.
        precision: The runtime's precision (``auto``: the project's path, bf16 or fp16).
        channels_last: The runtime's memory format (``auto``: on CUDA).
        seed: Seeds the model's initialisation and the random batches.

    Returns:
        The largest batch that fitted (0: not even 2), the smallest that did not (None: the cap fitted), and every
        probe in the order tried.

    Raises:
        DeviceError: ``device`` is not a CUDA device (or CUDA is not available).
        ThroughputError: ``steps`` is below 1, or the cap or tolerance cannot be searched.
    """
    runtime = Runtime.for_device(device, precision=precision, channels_last=channels_last)
    if runtime.device.type != "cuda":
        raise DeviceError(f"the batch fit measures GPU memory, but the device is {runtime.device}; run it on a CUDA "
                          "GPU (--device cuda). On the CPU the batch is bounded by RAM, and running out of it usually "
                          "gets the process killed instead of an error raised")
    if steps < 1:
        raise ThroughputError(f"steps must be at least 1, got {steps}; use 2 so that the optimizer's state is held")
    torch.manual_seed(seed)
    model = runtime.prepare_model(build_model(model_name, pretrained=False)).train()
    loss_fn = build_loss(_PAPER.loss)
    optimizer = torch.optim.SGD(model.parameters(), lr=_PAPER.lr, momentum=_PAPER.momentum,
                                weight_decay=_PAPER.weight_decay)
    generator = torch.Generator(device=runtime.device).manual_seed(seed)

    def step(batch_size: int) -> None:
        # A fresh scaler per batch size: one stopped between unscale_ and update would refuse the next step.
        scaler = runtime.grad_scaler()
        shape = (batch_size, 3, image_size, image_size)
        images = runtime.images(torch.randn(shape, device=runtime.device, generator=generator))
        masks = torch.randint(0, 2, (batch_size, image_size, image_size), device=runtime.device, generator=generator)
        for _ in range(steps):
            with runtime.autocast():
                logits = model(images)
            loss = loss_fn(logits, masks)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        torch.cuda.synchronize(runtime.device)

    probes: list[Probe] = []

    def fits(batch_size: int) -> bool:
        torch.cuda.reset_peak_memory_stats(runtime.device)
        started = time.perf_counter()
        outcome = fits_in_memory(step, batch_size, release=lambda: optimizer.zero_grad(set_to_none=True))
        probes.append(Probe(batch_size, outcome, torch.cuda.max_memory_allocated(runtime.device) / 2**20,
                            time.perf_counter() - started))
        log.info("  %s batch %d: %s", model_name, batch_size, outcome)
        return probes[-1].fits

    with algorithm_settings(runtime.device):
        largest, failing = search_largest(fits, cap, start=min(2, cap), tolerance=tolerance)
    return largest, failing, probes


def batch_fit_table(rows: Sequence[dict[str, object]]) -> pd.DataFrame:
    """The rows :func:`run_batch_fit` collects, in :data:`BATCH_FIT_COLUMNS`' order."""
    return pd.DataFrame(list(rows), columns=list(BATCH_FIT_COLUMNS))


def run_batch_fit(models: Sequence[str], device: str = "cuda", *, out: Path = Path("benchmarks/results"),
                  image_size: int = 512, cap: int = 256, steps: int = 2, tolerance: float = 0.125,
                  seed: int = 0) -> tuple[pd.DataFrame, list[Path]]:
    """:func:`batch_fit` for each model; the record ``batch-fit-<device>`` is rewritten after each model.

    Rewriting after each model keeps what was measured when a time limit stops
    the run before the last model (``benchmarks/gpu_check.sh`` runs this under one).

    Args:
        models: Model names, measured in this order.
        device: A CUDA device.
        out: Folder for ``batch-fit-<device slug>.csv`` and ``.json`` (see :func:`device_slug`).
        image_size: Side of the square training images.
        cap: The largest batch size tried.
        steps: Training steps per probe.
        tolerance: See :func:`search_largest`.
        seed: Seeds each model's initialisation and batches.

    Returns:
        The table (:data:`BATCH_FIT_COLUMNS`) and the two files written.

    Raises:
        DeviceError: ``device`` is not a CUDA device (or CUDA is not available).
    """
    for name in models:
        describe_model(name)
    runtime = Runtime.for_device(device)
    if runtime.device.type != "cuda":
        raise DeviceError(f"the batch fit measures GPU memory, but the device is {runtime.device}; run it on a CUDA "
                          "GPU (--device cuda)")
    started = time.time()
    total_mib = torch.cuda.get_device_properties(runtime.device).total_memory / 2**20
    parameters = {"models": list(models), "device": str(runtime.device), "image_size": image_size, "cap": cap,
                  "steps": steps, "tolerance": tolerance, "seed": seed}
    stem = out / f"batch-fit-{device_slug(runtime.device)}"
    rows: list[dict[str, object]] = []
    paths: list[Path] = []
    for name in models:
        log.info("batch fit: %s at %d px, up to %d", name, image_size, cap)
        model_started = time.perf_counter()
        largest, failing, probes = batch_fit(name, runtime.device, image_size=image_size, cap=cap, steps=steps,
                                             tolerance=tolerance, seed=seed)
        gc.collect()  # the model and its optimizer state go before the next model is built
        torch.cuda.empty_cache()
        fitted = [p for p in probes if p.batch_size == largest and p.fits]
        errors = sorted({p.outcome for p in probes if not p.fits and p.outcome != OUT_OF_MEMORY})
        rows.append({
            "model": name, "precision": runtime.precision, "channels_last": runtime.channels_last,
            "image_size": image_size, "largest_batch": largest, "smallest_failing": failing, "cap": cap,
            "peak_memory_mib": round(fitted[0].peak_memory_mib) if fitted else math.nan,
            "gpu_memory_mib": round(total_mib),
            "probes": ", ".join(f"{p.batch_size} {p.outcome if p.outcome in ('fits', OUT_OF_MEMORY) else 'error'}"
                                for p in probes),
            "seconds": round(time.perf_counter() - model_started, 1),
            "note": "; ".join(errors) if errors else ("the cap fitted: the limit is higher" if failing is None else ""),
        })
        provenance = collect_provenance(parameters=parameters, data_root="none", device=str(runtime.device),
                                        started=started, section="batch-fit",
                                        extra={"runtime": {k: v for k, v in runtime.describe().items()
                                                           if k not in ("precision", "channels_last")}})
        provenance = replace(provenance, data_kind="none: random tensors")
        paths = list(write_record(batch_fit_table(rows), stem, provenance,
                                  caption=f"Largest training batch per model at {image_size}×{image_size} on this GPU"))
    return batch_fit_table(rows), paths
