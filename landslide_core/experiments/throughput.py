"""Throughput and peak memory of the models of paper Table 5, and of the data pipeline that feeds them.

Three tables come out of one run, each saved as a record with its provenance:

- ``throughput``: images/s of a real training step (forward, Dice loss, backward,
  SGD step with the optimiser defaults of :mod:`landslide_core.train.config`, which
  quotes them from the paper) and of inference, per model and mode, on random
  tensors (the model's speed, not the disk's), with peak memory;
- ``pipeline``: tiles/s that :class:`~landslide_core.data.TileDataset` and a
  ``DataLoader`` deliver from TIFF files, per worker count;
- ``targets``: whether the issue's targets were reached, ``yes``/``no``/``not
  applicable on this device``/``not measured``, never guessed.

Modes: on CUDA ``fp32`` is a plain loop with PyTorch's defaults (float32 NCHW, no
autocast, no cuDNN autotuning; cuDNN may still use TF32 for convolutions, as PyTorch
allows by default) and ``bf16+channels_last`` is the project's :class:`Runtime`
path (``fp16+channels_last``, with a gradient scaler, on a GPU without native bf16;
with ``+compile`` when asked). On CPU the one mode ``fp32`` is the project's CPU
path (Runtime and :func:`algorithm_settings`, deterministic algorithms).

The speed targets are judged on a Hopper GPU (compute capability 9.x: H100, H200),
whatever its name; elsewhere the measured values are shown, not judged.

Each (model, mode) is measured in a fresh spawned process, inference first and then
training, so that its peak memory is its own: on CPU the peak resident set size
(``VmHWM``; ``ru_maxrss`` of a forked child can carry the parent's size), on CUDA
``torch.cuda.max_memory_allocated`` per phase.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import re
import resource
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd
import torch
from torch.utils.data import DataLoader

from ..data.torch_dataset import TileDataset
from ..errors import ThroughputError
from ..io.raster import open_raster
from ..models import MODEL_NAMES, build_model, describe_model
from ..provenance import collect_provenance, device_description, write_record
from ..runtime.device import Runtime, algorithm_settings, resolve_device, resolve_precision
from ..runtime.memory import process_status_mib
from ..sources import CAS
from ..sources.cas.demo import ensure_demo_data
from ..tiles import TileRecord
from ..train.config import TrainConfig
from ..train.losses import build_loss

__all__ = [
    "INFERENCE", "TRAINING", "ThroughputConfig", "ThroughputResult", "Budget", "Measurement", "Mode", "Setup",
    "check_settings", "device_slug", "is_hopper", "measure_isolated", "measure_model", "modes_for", "pipeline_data",
    "pipeline_table", "pipeline_throughput", "run_throughput", "targets_table", "throughput_table",
]

log = logging.getLogger(__name__)

TRAINING, INFERENCE = "training", "inference"
PEAK_RSS = "peak RSS of the measuring process (VmHWM)"
CUDA_PEAK = "torch.cuda.max_memory_allocated during the phase"
YES, NO, NOT_APPLICABLE, NOT_MEASURED = "yes", "no", "not applicable on this device", "not measured"
TARGET_IMAGES_PER_S = 800.0
TARGET_SPEEDUP = 3.0
_PAPER = TrainConfig()  # its optimiser and loss defaults (quoted from the paper in train.config), as training uses them



@dataclass(frozen=True)
class Mode:
    """How a model runs: precision, memory format, backend tuning and compilation."""

    name: str
    precision: str
    """``bf16`` or ``fp16`` autocast (fp16 trains with a gradient scaler), or ``fp32``."""
    channels_last: bool
    tuned: bool
    """Inside :func:`algorithm_settings` (cuDNN autotuning and TF32 on CUDA, deterministic algorithms on CPU)."""
    description: str
    compile: bool = False

    def runtime(self, device: torch.device) -> Runtime:
        """The :class:`Runtime` that runs a model on ``device`` with this mode's autocast and memory format."""
        return Runtime(device=device, precision=self.precision, channels_last=self.channels_last)


def modes_for(device: torch.device, *, compile: bool = False, bf16_supported: bool | None = None) -> list[Mode]:
    """The plain fp32 loop and the project's path on CUDA; the project's (fp32) path on CPU.

    Args:
        device: Where the models run.
        compile: Add ``torch.compile`` to the project's path.
        bf16_supported: Whether the GPU runs bf16 natively; ``None`` asks the device (see :class:`Runtime`).
    """
    suffix, compiled = ("+compile", ", torch.compile") if compile else ("", "")
    if device.type == "cuda":
        plain = ("plain loop, PyTorch defaults: float32 NCHW, no autocast, no cuDNN autotuning "
                 "(cuDNN may use TF32 for convolutions: torch.backends.cudnn.allow_tf32 defaults to True)")
        if bf16_supported is None:
            precision = Runtime.for_device(device).precision
        else:
            precision = resolve_precision("auto", device.type, bf16_supported)
        scaler = " with a gradient scaler" if precision == "fp16" else ""
        return [Mode("fp32", precision="fp32", channels_last=False, tuned=False, description=plain),
                Mode(f"{precision}+channels_last{suffix}", precision=precision, channels_last=True, tuned=True,
                     compile=compile, description=f"the project's Runtime: {precision} autocast{scaler}, "
                                                  f"channels_last, cuDNN autotuning, TF32{compiled}")]
    return [Mode("fp32" + suffix, precision="fp32", channels_last=False, tuned=True, compile=compile,
                 description=f"the project's CPU path: float32, deterministic algorithms{compiled}")]


@dataclass(frozen=True)
class Budget:
    """Untimed warm-up steps, then timed steps until both ``min_steps`` and ``seconds`` are reached."""

    warmup: int
    min_steps: int
    seconds: float

    def __post_init__(self) -> None:
        if self.warmup < 0 or self.min_steps < 1 or self.seconds < 0:
            raise ThroughputError(f"cannot time {self}: use --warmup 0 or more, --steps 1 or more, --seconds 0 or more")

    @classmethod
    def for_device(cls, device: torch.device, *, warmup: int | None = None, min_steps: int | None = None,
                   seconds: float | None = None) -> Budget:
        """The device's default, with any value given replacing it."""
        # A CPU training step at 512 px takes 10-40 s: one warm-up and one timed step keep four models in minutes.
        default = cls(5, 20, 10.0) if device.type == "cuda" else cls(1, 1, 10.0)
        return cls(default.warmup if warmup is None else warmup, default.min_steps if min_steps is None else min_steps,
                   default.seconds if seconds is None else seconds)


@dataclass(frozen=True)
class Setup:
    """What every measurement of a run shares."""

    device: str
    batch_size: int
    image_size: int
    budget: Budget
    threads: int | None = None
    """CPU threads of the measuring process (``torch.set_num_threads``); ``None`` keeps torch's default."""


@dataclass(frozen=True)
class Measurement:
    """One row of the throughput table."""

    model: str
    mode: str
    phase: str
    batch_size: int
    image_size: int
    steps: int
    seconds: float
    images_per_s: float
    peak_memory_mib: float
    memory_measure: str
    rss_before_model_mib: float
    """CPU: the process's RSS after imports, before the model is built (Python and torch); NaN on CUDA."""
    cpu_threads: int
    note: str = ""


def check_settings(models: Sequence[str], batch_size: int, image_size: int, threads: int | None = None) -> None:
    """Fail before any process starts: unknown models, batches BatchNorm cannot train on, odd sizes.

    Args:
        models: Model names to measure.
        batch_size: Images per step.
        image_size: Side of the square images in pixels.
        threads: CPU threads per measuring process; ``None`` for torch's default.

    Raises:
        ThroughputError: ``threads`` is below 1, ``batch_size`` below 2, or ``image_size`` not a positive
            multiple of 32.
    """
    for name in models:
        describe_model(name)
    if threads is not None and threads < 1:
        raise ThroughputError(f"threads must be at least 1, got {threads}; leave --threads out for torch's default")
    if batch_size < 2:
        raise ThroughputError(f"batch_size {batch_size} is too small: DeepLabV3+ and MFFENet have BatchNorm on a "
                             "1×1 pooled map and cannot train on one image; use --batch-size 2 or more")
    if image_size < 32 or image_size % 32:
        raise ThroughputError(f"image_size {image_size} is not a multiple of 32, which the encoders need; "
                             "use e.g. --image-size 512")


def _peak_rss_mib() -> float:
    peak = process_status_mib("VmHWM")
    if peak is not None:
        return peak
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _timed(step: Callable[[], None], budget: Budget, synchronize: Callable[[], None]) -> tuple[int, float]:
    """(steps, seconds) of the timed steps after the warm-up; the GPU is synchronised at both ends."""
    for _ in range(budget.warmup):
        step()
    synchronize()
    steps, start = 0, time.perf_counter()
    while steps < budget.min_steps or time.perf_counter() - start < budget.seconds:
        step()
        steps += 1
    synchronize()
    return steps, time.perf_counter() - start


def measure_model(model_name: str, mode: Mode, setup: Setup, seed: int = 0) -> list[Measurement]:
    """Inference, then training, of one model in one mode in this process: two rows.

    Every step copies its batch from (pinned) host memory, as the training loop does
    with each loader batch; the batch itself is random, so no file is read.
    """
    resolved = resolve_device(setup.device)
    on_cuda = resolved.type == "cuda"
    if setup.threads is not None:
        torch.set_num_threads(setup.threads)
    batch_size, image_size = setup.batch_size, setup.image_size
    rss = None if on_cuda else process_status_mib("VmRSS")
    rss_before = math.nan if rss is None else rss
    runtime = mode.runtime(resolved)
    torch.manual_seed(seed)
    model = runtime.prepare_model(build_model(model_name, pretrained=False))
    forward = torch.compile(model) if mode.compile else model
    images = torch.randn(batch_size, 3, image_size, image_size)
    masks = torch.randint(0, 2, (batch_size, image_size, image_size))
    if on_cuda:
        images, masks = images.pin_memory(), masks.pin_memory()
    loss_fn = build_loss(_PAPER.loss)
    optimizer = torch.optim.SGD(model.parameters(), lr=_PAPER.lr, momentum=_PAPER.momentum,
                                weight_decay=_PAPER.weight_decay)
    scaler = runtime.grad_scaler()  # enabled in fp16 only, as in training

    @torch.inference_mode()
    def infer() -> None:
        with runtime.autocast():
            forward(runtime.images(images))

    def train() -> None:
        with runtime.autocast():
            logits = forward(runtime.images(images))
        loss = loss_fn(logits, runtime.masks(masks))
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    def synchronize() -> None:
        if on_cuda:
            torch.cuda.synchronize(resolved)

    rows = []
    with algorithm_settings(resolved) if mode.tuned else contextlib.nullcontext():
        for phase, step in ((INFERENCE, infer), (TRAINING, train)):
            model.train(phase == TRAINING)
            if on_cuda:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(resolved)
            note = ""
            try:
                steps, seconds = _timed(step, setup.budget, synchronize)
            except torch.cuda.OutOfMemoryError:
                steps, seconds = 0, math.nan
                note = f"CUDA out of memory at batch {batch_size}; try a smaller --batch-size"
                optimizer.zero_grad(set_to_none=True)
            peak = torch.cuda.max_memory_allocated(resolved) / 2**20 if on_cuda else _peak_rss_mib()
            rows.append(Measurement(model_name, mode.name, phase, batch_size, image_size, steps, seconds,
                                    steps * batch_size / seconds if steps else math.nan, peak,
                                    CUDA_PEAK if on_cuda else PEAK_RSS, rss_before,
                                    torch.get_num_threads(), note))
    return rows


def measure_isolated(model_name: str, mode: Mode, setup: Setup) -> list[Measurement]:
    """:func:`measure_model` in a fresh spawned process, so its peak memory is its own.

    Raises:
        ThroughputError: The measuring process died (most likely killed for memory).
    """
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            return pool.submit(measure_model, model_name, mode, setup).result()
    except BrokenProcessPool:
        raise ThroughputError(f"the process measuring {model_name} ({mode.name}) died, most likely killed for "
                             f"memory at batch {setup.batch_size}; try a smaller --batch-size") from None


def throughput_table(measurements: Sequence[Measurement]) -> pd.DataFrame:
    """Rows as measured, plus each mode's speed-up over ``fp32`` for the same model and phase."""
    table = pd.DataFrame([asdict(m) for m in measurements])
    fp32 = table.loc[table["mode"] == "fp32", ["model", "phase", "images_per_s"]]
    baseline = table.merge(fp32, on=["model", "phase"], how="left", suffixes=("", "_fp32"))["images_per_s_fp32"]
    speedup = (table["images_per_s"] / baseline).where(table["mode"] != "fp32")
    table.insert(table.columns.get_loc("images_per_s") + 1, "speedup_vs_fp32", speedup)
    return table.round({"seconds": 3, "images_per_s": 4, "speedup_vs_fp32": 2, "peak_memory_mib": 0,
                        "rss_before_model_mib": 0})


# --------------------------------------------------------------------------- data pipeline


def pipeline_data(data_root: Path | None, demo_root: Path) -> tuple[Path, list[TileRecord]]:
    """The tiles the pipeline reads: every tile under ``data_root``, else the demo data (made on first use)."""
    root = data_root if data_root is not None else ensure_demo_data(demo_root, progress=False)
    return root, CAS.list_tiles(root)


def _compression(record: TileRecord) -> str:
    with open_raster(record.image) as src:
        return str(src.profile.get("compress", "none"))


def pipeline_throughput(records: Sequence[TileRecord], workers: int, *, batch_size: int = 16, passes: int = 3,
                        batches_per_worker: int = 8, pin_memory: bool = False) -> dict[str, object]:
    """Tiles/s of full tiles with training's augmentation (flips, 90° turns) through a ``DataLoader``.

    Each uint8 batch is then normalised in this process on the CPU (:meth:`Normalisation.batch`), as a CPU
    training step does; on a GPU training does that on the device. The tiles are repeated so that every worker
    loads at least ``batches_per_worker`` batches a pass. One untimed pass starts the (persistent) workers and
    fills the page cache; a long training epoch hides both, so the timed passes show the steady rate.
    """
    per_pass = max(len(records), batch_size * max(workers, 1) * batches_per_worker)
    tiles = [records[i % len(records)] for i in range(per_pass)]
    dataset = TileDataset(tiles, augment=True)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers, pin_memory=pin_memory,
                        persistent_workers=workers > 0)

    def one_pass() -> None:
        for batch in loader:
            dataset.normalisation.batch(batch["image"])

    one_pass()
    start = time.perf_counter()
    for _ in range(passes):
        one_pass()
    seconds = time.perf_counter() - start
    return {"num_workers": workers, "batch_size": batch_size, "tiles_per_pass": per_pass, "passes": passes,
            "seconds": round(seconds, 2), "tiles_per_s": round(per_pass * passes / seconds, 1)}


def pipeline_table(records: Sequence[TileRecord], data_root: Path, workers: Sequence[int], *, batch_size: int = 16,
                   passes: int = 3, batches_per_worker: int = 8, pin_memory: bool = False) -> pd.DataFrame:
    """One row per worker count, saying which data was read and how its TIFFs are compressed.

    Args:
        records: The tiles to read.
        data_root: The folder they come from, named in the table.
        workers: ``DataLoader`` worker counts to measure.
        batch_size: Tiles per batch.
        passes: Timed passes over the tiles.
        batches_per_worker: Each worker loads at least this many batches a pass (tiles are repeated as needed).
        pin_memory: Have the ``DataLoader`` pin its batches.

    Raises:
        ThroughputError: ``records`` is empty.
    """
    if not records:
        raise ThroughputError("no tiles to read for the data pipeline; point --data-root at a folder in the CAS layout")
    data = CAS.data_label(data_root)
    compression = _compression(records[0])
    rows = []
    for count in workers:
        log.info("data pipeline: %d worker(s)", count)
        row = pipeline_throughput(records, count, batch_size=batch_size, passes=passes,
                                  batches_per_worker=batches_per_worker, pin_memory=pin_memory)
        rows.append({"data": data, "tiff_compression": compression, "distinct_tiles": len(records), **row})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- targets


def _reached(applicable: bool, value: float, threshold: float, why_not_measured: str) -> tuple[str, str]:
    """(reached, note) for a lower-bound target."""
    if not applicable:
        return NOT_APPLICABLE, ""
    if math.isnan(value):
        return NOT_MEASURED, why_not_measured
    return (YES if value >= threshold else NO), ""


def is_hopper(capability: tuple[int, int] | None) -> bool:
    """Whether a GPU of this compute capability (``torch.cuda.get_device_capability``) is a Hopper: 9.x.

    H100 and H200 (any memory size or form factor) are 9.0; ``None`` stands for no GPU.
    """
    return capability is not None and capability[0] == 9


def targets_table(throughput: pd.DataFrame, pipeline: pd.DataFrame, device: str,
                  capability: tuple[int, int] | None) -> pd.DataFrame:
    """The issue's three targets, each ``yes``, ``no``, ``not applicable on this device`` or ``not measured``.

    Args:
        throughput: :func:`throughput_table`'s rows.
        pipeline: :func:`pipeline_table`'s rows.
        device: :func:`device_description`'s text, shown beside the measured values.
        capability: The GPU's compute capability, ``None`` on the CPU. The first two targets are a Hopper GPU's
            (:func:`is_hopper`) at 512×512; elsewhere the measured value is shown, not judged. The pipeline target
            holds on any device.
    """
    on_hopper = is_hopper(capability)
    training = throughput[throughput["phase"] == TRAINING]
    deeplab = training[training["model"] == "deeplabv3plus"]
    if (deeplab["mode"] != "fp32").any():  # on CUDA, the project's path; on CPU, fp32 is the project's path
        deeplab = deeplab[deeplab["mode"] != "fp32"]
    row = deeplab.iloc[0] if len(deeplab) else None
    speed = math.nan if row is None or row["image_size"] != 512 else float(row["images_per_s"])
    speedup = math.nan if row is None else float(row["speedup_vs_fp32"])
    where = f" ({row['mode']}, batch {row['batch_size']}, {row['image_size']} px, {device})" if row is not None else ""
    missing = "measure deeplabv3plus at --image-size 512 (or it ran out of memory: see the throughput table)"
    rows = [
        ("DeepLabV3+ training speed",
         f"≥ {TARGET_IMAGES_PER_S:.0f} images/s at 512×512 on a Hopper GPU, H100 or H200 (bf16+channels_last)",
         "" if row is None else f"{row['images_per_s']:.3f} images/s{where}",
         *_reached(on_hopper, speed, TARGET_IMAGES_PER_S, missing)),
        ("bf16+channels_last speed-up",
         f"≥ {TARGET_SPEEDUP:.0f}× the plain fp32 loop of the same run (DeepLabV3+ training on a Hopper GPU)",
         "" if math.isnan(speedup) else f"{speedup:.2f}×{where}",
         *_reached(on_hopper, speedup, TARGET_SPEEDUP, missing)),
    ]
    trained = training.dropna(subset=["images_per_s"])
    requirement = "data pipeline tiles/s (best worker count) > best training images/s of this run"
    if trained.empty or pipeline.empty:
        rows.append(("data pipeline faster than training", requirement, "", NOT_MEASURED, "needs both measurements"))
    else:
        fastest = trained.loc[trained["images_per_s"].idxmax()]
        best = pipeline.loc[pipeline["tiles_per_s"].idxmax()]
        rows.append(("data pipeline faster than training", requirement,
                     f"{best['tiles_per_s']:.1f} tiles/s ({best['num_workers']} workers, {best['data']}) vs "
                     f"{fastest['images_per_s']:.3f} images/s ({fastest['model']}, {fastest['mode']})",
                     YES if best["tiles_per_s"] > fastest["images_per_s"] else NO, ""))
    return pd.DataFrame(rows, columns=["target", "requirement", "measured", "reached", "note"])


# --------------------------------------------------------------------------- a whole run


def device_slug(device: torch.device) -> str:
    """A file-name part naming the device, e.g. ``cpu-amd-epyc-2cores`` or ``cuda-nvidia-h100-80gb-hbm3``."""
    if device.type == "cuda":
        name = "cuda " + torch.cuda.get_device_name(device)
    else:
        name = "cpu " + re.sub(r"\((\d+) cores\)", r"\1cores", device_description("cpu").removeprefix("CPU: "))
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@dataclass(frozen=True)
class ThroughputConfig:
    """Settings of one benchmark run; ``None`` means the device's default."""

    models: tuple[str, ...] = MODEL_NAMES
    device: str = "auto"
    batch_size: int | None = None
    """Default: 32 on CUDA, 2 on CPU."""
    image_size: int = 512
    warmup: int | None = None
    min_steps: int | None = None
    seconds: float | None = None
    """See :class:`Budget`; ``None`` takes :meth:`Budget.for_device`'s value."""
    compile: bool = False
    threads: int | None = None
    """CPU threads per measuring process; on a shared machine fewer threads than cores avoid thrashing."""
    workers: tuple[int, ...] | None = None
    """Data-loader worker counts; default 0, 2 and the CPU count."""
    pipeline_batch_size: int = 16
    passes: int = 3
    batches_per_worker: int = 8


@dataclass(frozen=True)
class ThroughputResult:
    """What :func:`run_throughput` measured and wrote.

    Attributes:
        throughput: Images/s and peak memory per model, mode and phase (:func:`throughput_table`).
        pipeline: Tiles/s per worker count (:func:`pipeline_table`).
        targets: Whether each target was reached (:func:`targets_table`).
        paths: The files written.
    """

    throughput: pd.DataFrame
    pipeline: pd.DataFrame
    targets: pd.DataFrame
    paths: list[Path]


def run_throughput(config: ThroughputConfig, data_root: Path, records: Sequence[TileRecord],
                  out: Path = Path("benchmarks/results")) -> ThroughputResult:
    """Measure every model and mode, then the pipeline over ``records``; write three records to ``out``.

    Files: ``throughput-<device>``, ``pipeline-<device>`` and ``targets-<device>``
    (``.csv`` and ``.json`` each; see :func:`device_slug`).
    """
    started = time.time()
    device = resolve_device(config.device)
    batch_size = config.batch_size or (32 if device.type == "cuda" else 2)
    budget = Budget.for_device(device, warmup=config.warmup, min_steps=config.min_steps, seconds=config.seconds)
    setup = Setup(str(device), batch_size, config.image_size, budget, config.threads)
    workers = config.workers or tuple(sorted({0, 2, os.cpu_count() or 1}))
    check_settings(config.models, batch_size, config.image_size, config.threads)
    load_before = os.getloadavg()[0]
    modes = modes_for(device, compile=config.compile)
    measurements: list[Measurement] = []
    for model in config.models:
        for mode in modes:
            log.info("measuring %s (%s), batch %d at %d px", model, mode.name, batch_size, config.image_size)
            rows = measure_isolated(model, mode, setup)
            log.info("  %s", ", ".join(f"{r.phase} {r.images_per_s:.3f} images/s" for r in rows))
            measurements += rows
    throughput = throughput_table(measurements)
    pipeline = pipeline_table(records, data_root, workers, batch_size=config.pipeline_batch_size,
                              passes=config.passes, batches_per_worker=config.batches_per_worker,
                              pin_memory=device.type == "cuda")
    description = device_description(str(device))
    capability = torch.cuda.get_device_capability(device) if device.type == "cuda" else None
    targets = targets_table(throughput, pipeline, description, capability)
    parameters = {"models": list(config.models), "device": str(device), "batch_size": batch_size,
                  "image_size": config.image_size, **asdict(budget), "compile": config.compile,
                  "threads": config.threads,
                  "workers": list(workers), "pipeline_batch_size": config.pipeline_batch_size,
                  "passes": config.passes, "data_root": data_root}
    # Other programs on the machine slow every number down: the 1-minute load average shows how busy it was.
    extra = {"cpu_count": os.cpu_count(), "load_average_1min": {"start": load_before, "end": os.getloadavg()[0]},
             "modes": {mode.name: mode.description for mode in modes},
             "compute_capability": None if capability is None else f"{capability[0]}.{capability[1]}"}
    provenance = collect_provenance(parameters=parameters, data_root=data_root, records=records, device=str(device),
                                    started=started, section="throughput", extra=extra)
    # The model measurements read no files: their record must not claim the pipeline's data.
    model_provenance = replace(provenance, data_root="none", data_kind="none: random tensors",
                               data_checksum="none (no tiles read)")
    slug = device_slug(device)
    paths = [
        *write_record(throughput, out / f"throughput-{slug}", model_provenance,
                      caption="Training and inference images/s and peak memory per model and mode"),
        *write_record(pipeline, out / f"pipeline-{slug}", provenance,
                      caption="Data pipeline tiles/s per DataLoader worker count"),
        *write_record(targets, out / f"targets-{slug}", provenance,
                      caption="The issue's throughput targets on this device"),
    ]
    return ThroughputResult(throughput, pipeline, targets, paths)
