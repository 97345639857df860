"""Precision resolution and the CPU runtime: the rules the CUDA path follows, checked without a GPU."""

from __future__ import annotations

import pytest
import torch

from landslide_core.errors import DeviceError
from landslide_core.runtime.device import PRECISIONS, Runtime, resolve_precision

CPU = torch.device("cpu")


@pytest.mark.parametrize(("requested", "device_type", "bf16_supported", "expected"), [
    ("auto", "cuda", True, "bf16"),
    ("auto", "cuda", False, "fp16"),
    ("auto", "cpu", False, "fp32"),
    ("auto", "cpu", True, "fp32"),  # bf16 support is a GPU's; off CUDA it is ignored
    ("auto", "mps", False, "fp32"),
    ("bf16", "cuda", True, "bf16"),
    ("fp16", "cuda", True, "fp16"),
    ("fp16", "cuda", False, "fp16"),
    ("fp32", "cuda", True, "fp32"),
    ("fp32", "cpu", False, "fp32"),
])
def test_precision_resolves_from_the_device_facts(requested, device_type, bf16_supported, expected):
    assert resolve_precision(requested, device_type, bf16_supported) == expected


@pytest.mark.parametrize(("requested", "device_type", "bf16_supported", "match"), [
    ("bf16", "cuda", False, r"does not support bfloat16.*use --precision fp16 \(with a gradient scaler\) or auto"),
    ("bf16", "cpu", True, r"bf16 autocast is for CUDA GPUs; on cpu .* use --precision fp32"),
    ("fp16", "cpu", False, r"fp16 autocast is for CUDA GPUs; on cpu .* use --precision fp32"),
    ("fp8", "cuda", True, r"unknown precision 'fp8'; use one of auto, bf16, fp16, fp32"),
    ("true", "cpu", False, r"unknown precision 'true'"),
])
def test_impossible_precisions_name_the_fix(requested, device_type, bf16_supported, match):
    with pytest.raises(DeviceError, match=match):
        resolve_precision(requested, device_type, bf16_supported)


def test_the_cpu_runtime_is_float32_without_a_scaler():
    runtime = Runtime.for_device("cpu")
    assert (runtime.precision, runtime.dtype, runtime.channels_last) == ("fp32", torch.float32, False)
    layer = torch.nn.Linear(4, 2)
    with runtime.autocast():
        out = layer(torch.randn(3, 4))
    assert out.dtype == torch.float32
    scaler = runtime.grad_scaler()
    loss = out.square().mean()
    assert not scaler.is_enabled() and scaler.scale(loss) is loss and scaler.state_dict() == {}
    described = runtime.describe()
    assert {k: described[k] for k in ("device", "device_type", "device_name", "precision", "grad_scaler",
                                       "bf16_supported", "cuda")} == {
        "device": "cpu", "device_type": "cpu", "device_name": None, "precision": "fp32", "grad_scaler": False,
        "bf16_supported": False, "cuda": torch.version.cuda}
    assert described["torch"] == str(torch.__version__)


def test_a_cpu_runtime_refuses_gpu_precisions_however_it_is_made():
    for precision in ("bf16", "fp16"):
        with pytest.raises(DeviceError, match=f"{precision} autocast is for CUDA GPUs"):
            Runtime.for_device("cpu", precision=precision)
        with pytest.raises(DeviceError, match=f"{precision} autocast is for CUDA GPUs"):
            Runtime(CPU, precision, channels_last=False)
        with pytest.raises(DeviceError, match=f"{precision} autocast is for CUDA GPUs"):
            Runtime.for_device("cpu").with_precision(precision)
    with pytest.raises(DeviceError, match="needs a resolved precision"):
        Runtime(CPU, "auto", channels_last=False)
    assert Runtime.for_device("cpu").with_precision("auto").precision == "fp32"
    assert PRECISIONS == ("auto", "bf16", "fp16", "fp32")
