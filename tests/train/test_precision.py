"""The run's precision on the CPU: the config check, what checkpoints and runtime.json record, and resume rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from landslide_core.cli import build_parser
from landslide_core.errors import CheckpointError, ConfigError
from landslide_core.sources.cas.demo import write_demo_data
from landslide_core.train.checkpoints import load_checkpoint, save_atomic
from landslide_core.train.config import TrainConfig
from landslide_core.train.loop import RUNTIME_FILE, train
from tests.train.test_training import one_thread  # noqa: F401 (an autouse fixture)

SETTINGS = {"model": "smp:Unet/resnet18", "model_options": {"encoder_depth": 3, "decoder_channels": [16, 8, 8]},
            "pretrained": False, "epochs": 2, "batch_size": 2, "crop_size": 64, "val_crop_size": 64,
            "num_workers": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_data(tmp_path_factory.mktemp("demo"), subdatasets=("palu",), tiles_per_subdataset=6,
                           progress=False)


def _stop_after_first_epoch(row: dict[str, object]) -> None:
    if row["epoch"] == 1:
        raise KeyboardInterrupt


def test_config_accepts_the_four_precisions_and_names_them_otherwise():
    assert TrainConfig().precision == "auto"
    for precision in ("auto", "bf16", "fp16", "fp32"):
        assert TrainConfig(precision=precision).precision == precision
    for wrong in ("fp8", True, "on"):
        with pytest.raises(ConfigError, match=r"precision must be auto, bf16, fp16 or fp32, got .*auto picks"):
            TrainConfig(precision=wrong)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown training setting.*amp"):
        TrainConfig.from_dict({**TrainConfig().to_dict(), "amp": "auto"})  # the setting precision replaced
    before = {k: v for k, v in TrainConfig().to_dict().items() if k != "precision"}  # a config saved before
    for amp, precision in (("auto", "auto"), (True, "bf16"), (False, "fp32")):
        assert TrainConfig.from_dict({**before, "amp": amp}).precision == precision


def test_cli_train_takes_precision_and_no_longer_amp():
    args = build_parser().parse_args(["train", "root", "--out", "run", "--precision", "fp16"])
    assert args.precision == "fp16"
    assert build_parser().parse_args(["train", "root", "--out", "run"]).precision == "auto"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "root", "--out", "run", "--amp", "on"])


def test_cpu_run_records_fp32_its_disabled_scaler_and_its_runtime(tiny_root, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**SETTINGS), tiny_root, out, progress=False, on_epoch_end=_stop_after_first_epoch)
    last = load_checkpoint(out / "last.pt")
    assert (last["epoch"], last["precision"], last["scaler"]) == (1, "fp32", {})
    best = load_checkpoint(out / "best.pt")
    assert best["precision"] == "fp32" and "scaler" not in best and "optimizer" not in best
    runtime = json.loads((out / RUNTIME_FILE).read_text())
    assert {k: runtime[k] for k in ("device", "device_type", "precision", "grad_scaler", "channels_last", "compile",
                                    "world_size", "torch", "cuda")} == {
        "device": "cpu", "device_type": "cpu", "precision": "fp32", "grad_scaler": False, "channels_last": False,
        "compile": False, "world_size": 1, "torch": str(torch.__version__), "cuda": torch.version.cuda}
    assert runtime["device_description"].startswith("CPU: ")

    # a checkpoint whose precision this device cannot run is refused with the file and the fix
    save_atomic({**last, "precision": "bf16"}, out / "last.pt")
    with pytest.raises(CheckpointError, match=r"last\.pt: was trained in bf16, which cannot run here \(precision bf16 "
                                              r"autocast is for CUDA GPUs.*\)\. Fix: resume on a device that runs bf16"):
        train(TrainConfig(**SETTINGS), tiny_root, out, progress=False)

    save_atomic(last, out / "last.pt")
    (out / RUNTIME_FILE).unlink()
    resumed = train(TrainConfig(**SETTINGS), tiny_root, out, progress=False)
    assert (resumed.resumed_from, resumed.epochs_run) == (1, 1)
    assert json.loads((out / RUNTIME_FILE).read_text())["precision"] == "fp32"  # written again by the resumed call
    assert load_checkpoint(out / "last.pt")["precision"] == "fp32"

    # a finished run trains nothing and leaves runtime.json as the training calls wrote it
    (out / RUNTIME_FILE).unlink()
    assert train(TrainConfig(**SETTINGS), tiny_root, out, progress=False).epochs_run == 0
    assert not (out / RUNTIME_FILE).exists()
