"""The batch fit's search and out-of-memory handling on the CPU; the GPU probe itself is in tests/runtime/test_cuda.py."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch

from landslide_core.errors import DeviceError, ThroughputError
from landslide_core.experiments.batch_fit import OUT_OF_MEMORY, batch_fit, fits_in_memory, run_batch_fit, search_largest


def _limit(limit: int, tried: list[int]):
    def fits(batch_size: int) -> bool:
        tried.append(batch_size)
        return batch_size <= limit
    return fits


def test_powers_of_two_then_bisection_to_the_exact_limit():
    tried: list[int] = []
    assert search_largest(_limit(37, tried), 256, tolerance=0) == (37, 38)
    assert tried == [1, 2, 4, 8, 16, 32, 64, 48, 40, 36, 38, 37]


@pytest.mark.parametrize("limit", [0, 1, 2, 3, 5, 37, 100, 129, 255, 256, 1000])
@pytest.mark.parametrize("tolerance", [0, 0.125, 0.5])
def test_the_answer_brackets_the_limit_within_the_tolerance(limit, tolerance):
    tried: list[int] = []
    largest, failing = search_largest(_limit(limit, tried), 256, tolerance=tolerance)
    if limit >= 256:
        assert (largest, failing) == (256, None)  # the cap fitted: the limit is higher
    else:
        assert failing is not None and failing > limit >= largest
        assert failing - largest <= max(1, int(tolerance * largest))
    assert max(tried) <= 256 and len(tried) == len(set(tried))  # never above the cap, never the same size twice


def test_a_cap_that_is_no_power_of_two_is_tried_itself():
    tried: list[int] = []
    assert search_largest(_limit(1000, tried), 100) == (100, None)
    assert tried == [1, 2, 4, 8, 16, 32, 64, 100]
    tried.clear()
    assert search_largest(_limit(90, tried), 100, tolerance=0) == (90, 91)


def test_settings_that_cannot_be_searched_are_refused():
    for cap, start, tolerance in [(0, 1, 0.1), (8, 0, 0.1), (8, 9, 0.1), (8, 1, -0.1), (8, 1, 1.0)]:
        with pytest.raises(ThroughputError, match="use 1 ≤ start ≤ cap and a tolerance from 0"):
            search_largest(lambda _: True, cap, start=start, tolerance=tolerance)


def test_a_search_from_two_never_tries_one():
    """The batch fit starts at 2: DeepLabV3+ and MFFENet cannot train on one image (batch norm on a 1×1 map)."""
    tried: list[int] = []
    assert search_largest(_limit(1, tried), 64, start=2) == (0, 2)
    assert tried == [2]
    tried.clear()
    assert search_largest(_limit(5, tried), 64, start=2, tolerance=0) == (5, 6)
    assert tried == [2, 4, 8, 6, 5]


def test_out_of_memory_is_caught_and_the_failed_steps_tensors_are_released():
    released: list[int] = []
    held: list[weakref.ref] = []

    def step(batch_size: int) -> None:
        activations = torch.empty(batch_size, 1024)
        held.append(weakref.ref(activations))
        if batch_size > 4:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {batch_size} GiB")
        if batch_size == 3:
            raise RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`")
        if batch_size == 2:
            raise RuntimeError("cuDNN error: CUDNN_STATUS_NOT_SUPPORTED\nmore lines")

    def release() -> None:
        released.append(1)

    assert fits_in_memory(step, 4, release=release) == "fits" and not released
    assert fits_in_memory(step, 8, release=release) == OUT_OF_MEMORY
    gc.collect()
    assert held[-1]() is None  # the traceback no longer keeps the failed step's tensors alive
    assert fits_in_memory(step, 3, release=release) == OUT_OF_MEMORY  # a library that could not allocate
    assert fits_in_memory(step, 2, release=release) == "RuntimeError: cuDNN error: CUDNN_STATUS_NOT_SUPPORTED"
    assert len(released) == 3
    with pytest.raises(ValueError, match="not a memory problem"):
        fits_in_memory(lambda _: (_ for _ in ()).throw(ValueError("not a memory problem")), 1)


def test_the_batch_fit_refuses_the_cpu_with_the_fix(tmp_path):
    with pytest.raises(DeviceError, match=r"measures GPU memory, but the device is cpu; run it on a CUDA GPU"):
        batch_fit("smp:Unet/resnet18", "cpu", image_size=64, cap=2)
    with pytest.raises(DeviceError, match=r"run it on a CUDA GPU \(--device cuda\)"):
        run_batch_fit(["smp:Unet/resnet18"], "cpu", out=tmp_path)
    assert not list(tmp_path.iterdir())
