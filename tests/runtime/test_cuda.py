"""The CUDA path on a real GPU: bf16 and fp16 steps, channels_last, torch.compile, NCCL DDP, resume, the batch fit.

Every test here is marked ``cuda`` and skips without a GPU; ``benchmarks/gpu_check.sh``
runs them (``pytest -m cuda``) on one.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from landslide_core.experiments.batch_fit import batch_fit, run_batch_fit
from landslide_core.experiments.throughput import Budget, Setup, measure_model, modes_for
from landslide_core.models import build_model
from landslide_core.runtime.device import Runtime
from landslide_core.runtime.distributed import free_port
from landslide_core.sources.cas.demo import write_demo_data
from landslide_core.train.checkpoints import load_checkpoint, save_atomic
from landslide_core.train.config import TrainConfig
from landslide_core.train.loop import RUNTIME_FILE, train
from landslide_core.train.losses import build_loss

CUDA = torch.cuda.is_available()
BF16 = CUDA and torch.cuda.is_bf16_supported(including_emulation=False)
pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU; benchmarks/gpu_check.sh runs these on one")]
needs_bf16 = pytest.mark.skipif(CUDA and not BF16, reason="this GPU has no native bf16 (compute capability below 8.0)")
"""Without CUDA the module's own mark skips, with its reason."""

TINY = {"model": "smp:Unet/resnet18", "model_options": {"decoder_channels": [16, 16, 8, 8, 8]}}
"""A small U-Net with batch norm and no dropout, as in tests/train/test_training.py."""


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return build_model(TINY["model"], pretrained=False, **TINY["model_options"])


def tiny_config(**changes: object) -> TrainConfig:
    settings = {**TINY, "pretrained": False, "epochs": 2, "batch_size": 2, "crop_size": 64, "num_workers": 0,
                "device": "cuda"}
    return TrainConfig(**{**settings, **changes})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One UAV and one SAT sub-dataset of 3 tiles each: 4 training and 2 validation tiles."""
    return write_demo_data(tmp_path_factory.mktemp("demo"), subdatasets=("longxi-uav", "palu"),
                           tiles_per_subdataset=3, progress=False)


def _train_steps(runtime: Runtime, model: nn.Module, steps: int, *, forward: nn.Module | None = None,
                 size: int = 64, batch_size: int = 4) -> tuple[torch.dtype, list[float], bool, torch.amp.GradScaler]:
    """``steps`` training steps as the loop runs them: (logits dtype, losses, whether any weight moved, scaler)."""
    model = runtime.prepare_model(model).train()
    forward = forward or model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    scaler = runtime.grad_scaler()
    loss_fn = build_loss("dice")
    generator = torch.Generator().manual_seed(0)
    before = [p.detach().clone() for p in model.parameters()]
    losses, dtype = [], torch.float32
    for _ in range(steps):
        images = runtime.images(torch.randn(batch_size, 3, size, size, generator=generator))
        masks = runtime.masks(torch.randint(0, 2, (batch_size, size, size), generator=generator))
        with runtime.autocast():
            logits = forward(images)
        loss = loss_fn(logits, masks)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        losses.append(loss.item())
        dtype = logits.dtype
    moved = any(not torch.equal(b, p.detach()) for b, p in zip(before, model.parameters(), strict=True))
    return dtype, losses, moved, scaler


@needs_bf16
def test_bf16_training_step_without_a_scaler():
    runtime = Runtime.for_device("cuda")
    assert runtime.precision == "bf16"  # auto on a GPU with native bf16
    dtype, losses, moved, scaler = _train_steps(runtime, tiny_model(), 2)
    assert dtype == torch.bfloat16 and all(math.isfinite(x) for x in losses) and moved
    assert not scaler.is_enabled() and scaler.state_dict() == {}


def test_fp16_training_step_with_a_gradient_scaler():
    runtime = Runtime.for_device("cuda", precision="fp16")
    dtype, losses, moved, scaler = _train_steps(runtime, tiny_model(), 8)
    assert dtype == torch.float16 and all(math.isfinite(x) for x in losses)
    assert moved  # some steps may be skipped for inf gradients while the scale settles, never all of them
    assert scaler.is_enabled() and scaler.get_scale() > 0 and scaler.state_dict()["scale"] > 0


@pytest.fixture
def no_tf32() -> Iterator[None]:
    """Exact float32 convolutions and matmuls, so two memory formats can be compared tightly."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def test_channels_last_forward_matches_nchw(no_tf32):
    model = tiny_model().eval()
    twin = copy.deepcopy(model)
    nchw = Runtime.for_device("cuda", precision="fp32", channels_last=False)
    nhwc = Runtime.for_device("cuda", precision="fp32", channels_last=True)
    images = torch.randn(2, 3, 128, 128, generator=torch.Generator().manual_seed(1))
    nchw.prepare_model(model)
    nhwc.prepare_model(twin)
    first_conv = next(m for m in twin.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert nhwc.images(images).is_contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        expected = model(nchw.images(images))
        actual = twin(nhwc.images(images))
    torch.testing.assert_close(actual.contiguous(), expected, rtol=1e-4, atol=1e-4)


def test_compiled_training_step_runs():
    runtime = Runtime.for_device("cuda")
    torch.manual_seed(0)
    model = runtime.prepare_model(build_model("smp:Unet/resnet18", pretrained=False, encoder_depth=3,
                                              decoder_channels=[16, 8, 8]))
    dtype, losses, moved, _ = _train_steps(runtime, model, 3, forward=torch.compile(model))
    assert dtype == runtime.dtype and all(math.isfinite(x) for x in losses) and moved


def test_single_process_nccl_ddp_step_and_training_inside_the_group(tiny_root, tmp_path, monkeypatch):
    port = free_port()
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(port))
    device = torch.device("cuda", 0)
    torch.cuda.set_device(device)
    dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1, device_id=device)
    try:
        assert dist.get_backend() == "nccl"
        runtime = Runtime.for_device(device)
        model = runtime.prepare_model(tiny_model())
        ddp = DistributedDataParallel(model, device_ids=[device.index], gradient_as_bucket_view=True)
        _, losses, moved, _ = _train_steps(runtime, model, 2, forward=ddp)
        assert all(math.isfinite(x) for x in losses) and moved
        total = torch.ones(1, device=device)
        dist.all_reduce(total)
        assert total.item() == 1.0

        result = train(tiny_config(epochs=1), tiny_root, tmp_path / "run", progress=False)
        assert result.epochs_run == 1 and math.isfinite(result.history["train_loss"].iloc[0])
        record = json.loads((tmp_path / "run" / RUNTIME_FILE).read_text())
        assert (record["device_type"], record["world_size"], record["precision"]) == ("cuda", 1, runtime.precision)
        assert record["device_name"] == torch.cuda.get_device_name(device)
        assert load_checkpoint(result.last_checkpoint)["world_size"] == 1
    finally:
        dist.destroy_process_group()


def _stop_after_first_epoch(row: dict[str, object]) -> None:
    if row["epoch"] == 1:
        raise KeyboardInterrupt


def _largest_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].is_floating_point())


def test_fp16_run_resumes_on_cuda_with_its_scaler_and_ends_where_an_uninterrupted_one_does(tiny_root, tmp_path):
    config = tiny_config(precision="fp16")
    full = train(config, tiny_root, tmp_path / "full", progress=False)
    with pytest.raises(KeyboardInterrupt):
        train(config, tiny_root, tmp_path / "resumed", progress=False, on_epoch_end=_stop_after_first_epoch)
    first = load_checkpoint(tmp_path / "resumed" / "last.pt")
    assert (first["epoch"], first["precision"]) == (1, "fp16") and first["scaler"]["scale"] > 0
    resumed = train(config, tiny_root, tmp_path / "resumed", progress=False)
    assert (resumed.resumed_from, resumed.epochs_run) == (1, 1)

    final_full, final_resumed = load_checkpoint(full.last_checkpoint), load_checkpoint(resumed.last_checkpoint)
    # The scaler went on from the checkpoint: a fresh one would have counted its growth steps from 0 again.
    assert final_resumed["scaler"] == final_full["scaler"] and final_resumed["precision"] == "fp16"
    # GPU kernels are not bit-reproducible: the resumed weights must be far closer to the uninterrupted run's
    # than the second epoch moved them.
    moved = _largest_difference(final_full["model"], first["model"])
    assert moved > 0 and _largest_difference(final_full["model"], final_resumed["model"]) < 0.1 * moved
    assert resumed.history["train_loss"].tolist() == pytest.approx(full.history["train_loss"].tolist(), rel=1e-2)


@needs_bf16
def test_an_auto_run_resumes_in_its_checkpoints_precision(tiny_root, tmp_path):
    """``auto`` is bf16 here; a run that began in fp16 (on a GPU without bf16) goes on in fp16."""
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(), tiny_root, out, progress=False, on_epoch_end=_stop_after_first_epoch)
    first = load_checkpoint(out / "last.pt")
    assert (first["precision"], first["scaler"]) == ("bf16", {})
    save_atomic({**first, "precision": "fp16"}, out / "last.pt")
    train(tiny_config(), tiny_root, out, progress=False)
    assert json.loads((out / RUNTIME_FILE).read_text())["precision"] == "fp16"
    final = load_checkpoint(out / "last.pt")
    assert final["precision"] == "fp16" and final["scaler"]["scale"] > 0


def test_the_benchmarks_fp32_and_fast_modes_both_train_on_the_gpu():
    setup = Setup("cuda", batch_size=2, image_size=64, budget=Budget(1, 2, 0.0))
    for mode in modes_for(torch.device("cuda")):
        rows = measure_model(TINY["model"], mode, setup)
        assert [r.phase for r in rows] == ["inference", "training"]
        assert all(r.steps >= 2 and r.images_per_s > 0 and r.peak_memory_mib > 0 and not r.note for r in rows)


def test_batch_fit_on_the_gpu(tmp_path):
    largest, failing, probes = batch_fit(TINY["model"], "cuda", image_size=64, cap=8)
    assert (largest, failing) == (8, None)
    assert [p.batch_size for p in probes] == [2, 4, 8] and all(p.fits for p in probes)
    assert all(p.peak_memory_mib > 0 and p.seconds > 0 for p in probes)
    table, paths = run_batch_fit([TINY["model"]], "cuda", out=tmp_path, image_size=64, cap=4)
    assert table.loc[0, "largest_batch"] == 4 and table.loc[0, "note"] == "the cap fitted: the limit is higher"
    assert sorted(p.suffix for p in paths) == [".csv", ".json"] and all(p.name.startswith("batch-fit-cuda-")
                                                                         for p in paths)
