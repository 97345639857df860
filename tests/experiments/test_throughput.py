"""The throughput benchmark: its tables, units, targets and records, on a tiny model at 64 px (no timing asserted)."""

from __future__ import annotations

import json
import math
import os

import pandas as pd
import pytest
import torch

from landslide_core.errors import DeviceError, UnknownModelError
from landslide_core.experiments.throughput import (
    CUDA_PEAK,
    NO,
    NOT_APPLICABLE,
    PEAK_RSS,
    YES,
    Measurement,
    ThroughputConfig,
    ThroughputError,
    device_slug,
    is_hopper,
    modes_for,
    run_throughput,
    targets_table,
    throughput_table,
)
from landslide_core.sources.cas import CAS

TINY = "smp:Unet/resnet18"
CPU = torch.device("cpu")


@pytest.mark.slow
def test_run_writes_three_records_with_provenance(tmp_path, make_root):
    data_root = make_root({"Hokkaido Iburi-Tobu": 2})
    records = CAS.list_tiles(data_root)
    config = ThroughputConfig(models=(TINY,), device="cpu", batch_size=2, image_size=64, warmup=1, min_steps=1,
                             seconds=0.0, threads=1, workers=(0,), passes=1, batches_per_worker=1)
    result = run_throughput(config, data_root, records, out=tmp_path / "results")

    throughput = result.throughput
    assert list(throughput.columns) == ["model", "mode", "phase", "batch_size", "image_size", "steps", "seconds",
                                        "images_per_s", "speedup_vs_fp32", "peak_memory_mib", "memory_measure",
                                        "rss_before_model_mib", "cpu_threads", "note"]
    assert list(throughput["phase"]) == ["inference", "training"] and set(throughput["mode"]) == {"fp32"}
    assert (throughput["images_per_s"] > 0).all() and throughput["speedup_vs_fp32"].isna().all()
    implied = throughput["steps"] * 2 / throughput["seconds"]  # images/s, from rounded seconds
    assert ((throughput["images_per_s"] / implied - 1).abs() < 0.1).all()
    assert set(throughput["memory_measure"]) == {PEAK_RSS} and (throughput["cpu_threads"] == 1).all()
    assert ((throughput["peak_memory_mib"] > 100) & (throughput["peak_memory_mib"] < 64 * 1024)).all()  # MiB
    assert (throughput["peak_memory_mib"] >= throughput["rss_before_model_mib"]).all()
    assert throughput["peak_memory_mib"].is_monotonic_increasing  # one process: training's peak includes inference's

    pipeline = result.pipeline
    assert list(pipeline["num_workers"]) == [0] and (pipeline["tiles_per_s"] > 0).all()
    assert pipeline.loc[0, "data"] == "CAS data" and pipeline.loc[0, "tiff_compression"] == "none"
    assert pipeline.loc[0, "tiles_per_pass"] == 16  # one batch of the pipeline's 16 for the one worker

    targets = result.targets.set_index("target")["reached"]
    assert targets["DeepLabV3+ training speed"] == NOT_APPLICABLE  # not measured here and not a Hopper GPU
    assert targets["bf16+channels_last speed-up"] == NOT_APPLICABLE
    faster = pipeline["tiles_per_s"].max() > throughput.loc[1, "images_per_s"]
    assert targets["data pipeline faster than training"] == (YES if faster else NO)

    slug = device_slug(CPU)
    assert sorted(p.name for p in result.paths) == sorted(f"{kind}-{slug}.{ext}" for kind in
                                                          ("throughput", "pipeline", "targets") for ext in ("csv", "json"))
    document = json.loads((tmp_path / "results" / f"throughput-{slug}.json").read_text())
    assert (document["provenance"]["data_root"], document["provenance"]["data_kind"]) == ("none", "none: random tensors")
    assert document["provenance"]["extra"]["modes"]["fp32"].startswith("the project's CPU path")
    assert document["provenance"]["parameters"]["batch_size"] == 2
    assert "load_average_1min" in document["provenance"]["extra"]
    pipeline_doc = json.loads((tmp_path / "results" / f"pipeline-{slug}.json").read_text())
    assert pipeline_doc["provenance"]["data_kind"] == "CAS data"
    assert pd.read_csv(tmp_path / "results" / f"targets-{slug}.csv")["reached"].notna().all()


def _gpu_throughput(fast_speed: float, fp32_speed: float, fast_mode: str = "bf16+channels_last") -> pd.DataFrame:
    return throughput_table([
        Measurement("deeplabv3plus", mode, phase, batch_size=32, image_size=512, steps=20, seconds=1.0,
                    images_per_s=speed, peak_memory_mib=1.0, memory_measure=CUDA_PEAK, rss_before_model_mib=math.nan,
                    cpu_threads=1)
        for mode, speed in (("fp32", fp32_speed), (fast_mode, fast_speed))
        for phase in ("inference", "training")
    ])


PIPELINE = pd.DataFrame([{"num_workers": 16, "tiles_per_s": 1000.0, "data": "CAS data"}])


@pytest.mark.parametrize("device", ["GPU: NVIDIA H100 80GB HBM3 ×1", "GPU: NVIDIA H200 ×1", "GPU: NVIDIA GH200 480GB ×1"])
@pytest.mark.parametrize(("bf16", "fp32", "speed", "speedup"), [(900.0, 250.0, YES, YES), (700.0, 300.0, NO, NO)])
def test_targets_are_judged_on_any_hopper_gpu_from_the_measured_rows(device, bf16, fp32, speed, speedup):
    throughput = _gpu_throughput(bf16, fp32)
    assert throughput.loc[throughput["mode"] != "fp32", "speedup_vs_fp32"].tolist() == [round(bf16 / fp32, 2)] * 2
    targets = targets_table(throughput, PIPELINE, device, (9, 0)).set_index("target")
    assert (targets.loc["DeepLabV3+ training speed", "reached"],
            targets.loc["bf16+channels_last speed-up", "reached"]) == (speed, speedup)
    assert device in targets.loc["DeepLabV3+ training speed", "measured"]
    assert targets.loc["data pipeline faster than training", "reached"] == (YES if 1000.0 > bf16 else NO)


@pytest.mark.parametrize(("device", "capability"), [
    ("GPU: NVIDIA A100-SXM4-80GB ×1", (8, 0)),
    ("GPU: NVIDIA H100-like card whose capability says otherwise ×1", (8, 9)),  # the capability decides, not the name
    ("GPU: NVIDIA B200 ×1", (10, 0)),
    ("CPU: AMD EPYC (2 cores)", None),
])
def test_targets_are_not_judged_off_hopper_but_the_value_is_shown(device, capability):
    targets = targets_table(_gpu_throughput(900.0, 250.0), PIPELINE, device, capability).set_index("target")
    assert targets.loc["DeepLabV3+ training speed", "reached"] == NOT_APPLICABLE
    assert targets.loc["bf16+channels_last speed-up", "reached"] == NOT_APPLICABLE
    assert targets.loc["DeepLabV3+ training speed", "measured"].startswith("900.000 images/s")


def test_hopper_is_compute_capability_9():
    assert [is_hopper(c) for c in [(9, 0), (9, 1), (8, 0), (8, 9), (10, 0), (12, 0), None]] == [
        True, True, False, False, False, False, False]


@pytest.mark.parametrize(("bf16_supported", "precision"), [(True, "bf16"), (False, "fp16")])
def test_cuda_modes_are_the_plain_fp32_loop_and_the_projects_precision(bf16_supported, precision):
    plain, fast = modes_for(torch.device("cuda"), bf16_supported=bf16_supported)
    assert (plain.name, plain.precision, plain.channels_last, plain.tuned) == ("fp32", "fp32", False, False)
    assert (fast.name, fast.precision, fast.channels_last, fast.tuned) == (f"{precision}+channels_last", precision,
                                                                          True, True)
    assert ("gradient scaler" in fast.description) == (precision == "fp16")
    if precision == "fp16":
        with pytest.raises(DeviceError, match="fp16 autocast is for CUDA GPUs"):
            fast.runtime(CPU)
    # a GPU without bf16 (fp16 path): its speed-up is still computed against fp32, and not judged off Hopper
    targets = targets_table(_gpu_throughput(600.0, 200.0, fast.name), PIPELINE, "GPU: Tesla V100 ×1", (7, 0))
    assert targets.set_index("target").loc["bf16+channels_last speed-up", "measured"].startswith("3.00×")
    [cpu] = modes_for(CPU)
    assert (cpu.name, cpu.precision, cpu.tuned) == ("fp32", "fp32", True)


def test_cpu_slug_names_the_processor_and_its_cores():
    slug = device_slug(CPU)
    assert slug.startswith("cpu-") and slug.endswith(f"-{os.cpu_count()}cores") and slug == slug.lower()


def test_settings_that_cannot_be_measured_fail_before_any_process_starts(tmp_path):
    for config, error, match in [
        (ThroughputConfig(models=("no-such-model",), device="cpu"), UnknownModelError, "valid names"),
        (ThroughputConfig(models=(TINY,), device="cpu", batch_size=1), ThroughputError, "--batch-size 2"),
        (ThroughputConfig(models=(TINY,), device="cpu", image_size=100), ThroughputError, "multiple of 32"),
        (ThroughputConfig(models=(TINY,), device="cpu", min_steps=0), ThroughputError, "--steps 1 or more"),
        (ThroughputConfig(models=(TINY,), device="cpu", threads=0), ThroughputError, "leave --threads out"),
    ]:
        with pytest.raises(error, match=match):
            run_throughput(config, tmp_path, [], out=tmp_path / "results")
