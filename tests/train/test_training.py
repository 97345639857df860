"""Training: losses, exact resume, checkpoints, config checks, and two processes training like one."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from landslide_core.errors import CheckpointError, ConfigError, UnknownLossError
from landslide_core.runtime import workers
from landslide_core.runtime.distributed import current_session, run_local
from landslide_core.sources.cas.demo import write_demo_data
from landslide_core.train.checkpoints import load_checkpoint, save_atomic
from landslide_core.train.config import TrainConfig
from landslide_core.train.loop import HISTORY_COLUMNS, train
from landslide_core.train.losses import LOSSES, build_loss, dice_loss

DEMO_SUBDATASETS = ("longxi-uav", "palu")
"""One UAV and one SAT sub-dataset of 3 tiles each: 4 training and 2 validation tiles."""
TINY_MODEL = {"model": "smp:Unet/resnet18", "model_options": {"decoder_channels": [16, 16, 8, 8, 8]}}
"""A small U-Net (batch norm, no dropout). The full encoder depth keeps every parameter in use, which DDP insists on."""
METRIC_COLUMNS = [c for c in HISTORY_COLUMNS if c not in ("seconds", "images_per_s")]


def tiny_config(**changes: object) -> TrainConfig:
    """Settings that train in seconds on two CPU cores."""
    settings = {**TINY_MODEL, "pretrained": False, "epochs": 2, "batch_size": 2, "crop_size": 64, "num_workers": 0,
                "device": "cpu"}
    return TrainConfig(**{**settings, **changes})  # type: ignore[arg-type]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread: on shared CPU cores, OpenMP threads spinning for a busy core make steps 20× slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_data(tmp_path_factory.mktemp("demo"), subdatasets=DEMO_SUBDATASETS, tiles_per_subdataset=3,
                           progress=False)


# --- losses -------------------------------------------------------------------------------------------------


def _mask(seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).random((2, 32, 32)) < 0.3).long()


def test_dice_of_perfect_prediction_is_zero_and_of_inverted_one():
    mask = _mask()
    perfect = torch.where(mask.bool(), 20.0, -20.0)[:, None]
    assert dice_loss(perfect, mask).item() == pytest.approx(0.0, abs=1e-6)
    assert dice_loss(-perfect, mask).item() == pytest.approx(1.0, abs=1e-3)  # 1 - smooth / (pixels + smooth)


def test_dice_of_empty_batch_predicted_empty_is_zero():
    """The smoothing term makes 'nothing there, nothing found' a perfect score, not 0/0."""
    empty = torch.zeros((1, 16, 16), dtype=torch.long)
    assert dice_loss(torch.full((1, 1, 16, 16), -30.0), empty).item() == pytest.approx(0.0, abs=1e-6)


def test_dice_smoothing_shifts_the_loss_as_the_module_says():
    """The smoothing's effect is s·|C − 2I| / (C·(C + s)) ≤ s / (C + s); without landslide the loss is Σp / (Σp + s)."""
    rng = np.random.default_rng(1)
    for pixels in (25, 400, 5000):
        target = torch.zeros((1, 100, 100))
        target.view(-1)[:pixels] = 1
        logits = torch.from_numpy(rng.normal(0, 2, (1, 1, 100, 100))).float()
        p = torch.sigmoid(logits[:, 0]).double()
        intersection, cardinality = (p * target).sum().item(), (p.sum() + target.sum()).item()
        unsmoothed = 1 - 2 * intersection / cardinality
        shift = dice_loss(logits, target.long()).item() - unsmoothed
        assert abs(shift) == pytest.approx(abs(cardinality - 2 * intersection) / (cardinality * (cardinality + 1)),
                                           abs=1e-6)  # the loss is float32
        assert abs(shift) <= 1 / (cardinality + 1)
    # 25 landslide pixels, 13 of them found and one false alarm: 0.325 with smoothing, 0.333 without
    target = torch.zeros((1, 10, 10), dtype=torch.long)
    target.view(-1)[:25] = 1
    prediction = torch.full((1, 1, 10, 10), -30.0)
    prediction.view(-1)[12:26] = 30.0  # pixels 12-24 are landslide, pixel 25 is not
    assert dice_loss(prediction, target).item() == pytest.approx(0.325, abs=5e-4)
    assert dice_loss(prediction, target, smooth=0.0).item() == pytest.approx(1 / 3, abs=5e-4)
    # no landslide in the batch: the loss is Σp / (Σp + 1)
    empty = torch.zeros((1, 10, 10), dtype=torch.long)
    logits = torch.full((1, 1, 10, 10), -30.0)
    logits.view(-1)[:3] = 30.0
    assert dice_loss(logits, empty).item() == pytest.approx(3 / 4, abs=1e-5)


@pytest.mark.parametrize("name", LOSSES)
def test_gradient_flows_through_every_loss(name):
    logits = torch.randn((2, 1, 32, 32), requires_grad=True)
    build_loss(name)(logits, _mask()).backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_unknown_loss_lists_the_valid_names():
    with pytest.raises(UnknownLossError, match="unknown loss 'focal'; valid losses: dice, ce, dice\\+ce"):
        build_loss("focal")
    with pytest.raises(UnknownLossError):
        TrainConfig(loss="focal")


# --- configuration ------------------------------------------------------------------------------------------


def test_config_round_trips_through_json(tmp_path):
    config = tiny_config(subdatasets=["palu"], precision="auto")
    assert TrainConfig.from_json(config.to_json(tmp_path / "config.json")) == TrainConfig.from_dict(config.to_dict())
    assert TrainConfig.from_dict(config.to_dict()).subdatasets == ("palu",)


def test_config_rejects_unknown_and_impossible_settings():
    with pytest.raises(ConfigError, match="unknown training setting.*learning_rate"):
        TrainConfig.from_dict({"learning_rate": 0.1})
    with pytest.raises(ConfigError, match="epochs must be at least 1"):
        TrainConfig(epochs=0)


# --- resume -------------------------------------------------------------------------------------------------


def _stop_after_first_epoch(row: dict[str, object]) -> None:
    if row["epoch"] == 1:
        raise KeyboardInterrupt


@pytest.mark.slow
def test_auto_workers_train_exactly_as_in_process_loading(demo_root, tmp_path, caplog, monkeypatch):
    """``num_workers="auto"`` (one loader process on a 2-core CPU) is resolved, logged and changes no number."""
    monkeypatch.setattr(workers, "available_cores", lambda: 2)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    workers._log_once.cache_clear()  # said once per setting: forget what other tests made it say
    in_process = train(tiny_config(epochs=1), demo_root, tmp_path / "in-process", progress=False)
    with caplog.at_level(logging.INFO, logger="landslide_core.runtime.workers"):
        auto = train(tiny_config(epochs=1, num_workers="auto"), demo_root, tmp_path / "auto", progress=False)
    assert TrainConfig().num_workers == "auto" and auto.config.num_workers == "auto"
    assert "num_workers auto → 1 data-loader process(es) (2 core(s) available, 1 process(es) on this node, cpu)" \
        in caplog.text
    assert in_process.history[METRIC_COLUMNS].equals(auto.history[METRIC_COLUMNS])
    weights = load_checkpoint(in_process.last_checkpoint)["model"], load_checkpoint(auto.last_checkpoint)["model"]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


@pytest.mark.slow
def test_interrupted_run_resumes_to_a_bit_identical_result(demo_root, tmp_path, caplog):
    config = tiny_config(epochs=3)
    full = train(config, demo_root, tmp_path / "full", progress=False)

    with pytest.raises(KeyboardInterrupt):
        train(config, demo_root, tmp_path / "resumed", progress=False, on_epoch_end=_stop_after_first_epoch)
    assert load_checkpoint(tmp_path / "resumed" / "last.pt")["epoch"] == 1
    with caplog.at_level(logging.INFO, logger="landslide_core.train.loop"):
        resumed = train(config, demo_root, tmp_path / "resumed", progress=False)
    assert "resuming from epoch 1" in caplog.text
    assert (resumed.resumed_from, resumed.epochs_run) == (1, 2)

    final_full = load_checkpoint(full.last_checkpoint)["model"]
    final_resumed = load_checkpoint(resumed.last_checkpoint)["model"]
    assert final_full.keys() == final_resumed.keys()
    assert all(torch.equal(final_full[k], final_resumed[k]) for k in final_full)
    assert full.history[METRIC_COLUMNS].equals(resumed.history[METRIC_COLUMNS])

    best_epoch = int(full.history.loc[full.history["val_miou"].idxmax(), "epoch"])
    best = load_checkpoint(tmp_path / "full" / "best.pt")
    assert full.best_epoch == best["epoch"] == best_epoch == resumed.best_epoch
    assert full.best_scores["miou"] == full.history["val_miou"].max()
    history_csv = (tmp_path / "full" / "history.csv").read_text().splitlines()
    assert history_csv[0].split(",") == list(HISTORY_COLUMNS) and len(history_csv) == 4

    mtime = full.last_checkpoint.stat().st_mtime_ns
    again = train(config, demo_root, tmp_path / "full", progress=False)
    assert again.epochs_run == 0 and again.best_epoch == full.best_epoch
    assert full.last_checkpoint.stat().st_mtime_ns == mtime


def _stop_after_third_epoch(row: dict[str, object]) -> None:
    if row["epoch"] == 3:
        raise KeyboardInterrupt


@pytest.mark.slow
def test_checkpoints_every_n_epochs_resume_from_the_last_written_one_to_the_same_result(demo_root, tmp_path):
    config = tiny_config(epochs=4, val_every=4, checkpoint_every=2)
    full = train(config, demo_root, tmp_path / "full", progress=False)
    with pytest.raises(KeyboardInterrupt):
        train(config, demo_root, tmp_path / "resumed", progress=False, on_epoch_end=_stop_after_third_epoch)
    assert load_checkpoint(tmp_path / "resumed" / "last.pt")["epoch"] == 2  # epoch 3 was not written
    assert len((tmp_path / "resumed" / "history.csv").read_text().splitlines()) == 3
    resumed = train(config, demo_root, tmp_path / "resumed", progress=False)
    assert (resumed.resumed_from, resumed.epochs_run) == (2, 2)
    final_full = load_checkpoint(full.last_checkpoint)["model"]
    final_resumed = load_checkpoint(resumed.last_checkpoint)["model"]
    assert all(torch.equal(final_full[k], final_resumed[k]) for k in final_full)
    assert full.history[METRIC_COLUMNS].equals(resumed.history[METRIC_COLUMNS])
    assert load_checkpoint(tmp_path / "full" / "best.pt")["epoch"] == 4


@pytest.mark.slow
def test_resuming_under_other_settings_names_the_checkpoint_and_the_fix(demo_root, tmp_path):
    out = tmp_path / "run"
    train(tiny_config(epochs=1), demo_root, out, progress=False)
    with pytest.raises(CheckpointError, match=r"run/last\.pt: was written with other settings \(saved → now: "
                                              r"lr: 0\.01 → 0\.05\)\. Fix: .*--restart"):
        train(tiny_config(epochs=1, lr=0.05), demo_root, out, progress=False)
    restarted = train(tiny_config(epochs=1, lr=0.05), demo_root, out, progress=False, restart=True)
    assert restarted.resumed_from == 0 and restarted.epochs_run == 1


def test_checkpoint_write_is_atomic(tmp_path):
    path = save_atomic({"epoch": 1}, tmp_path / "last.pt")
    with pytest.raises(Exception, match="lambda|pickle"):
        save_atomic({"epoch": 2, "unpicklable": lambda: None}, path)
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


# --- several processes --------------------------------------------------------------------------------------


def _train_in_process(data_root: Path, runs: list[tuple[Path, dict[str, object]]]) -> None:
    """Run by each spawned process (module level, so it can be pickled by name): the runs one after another, so
    that several share one start of the processes (each imports torch and joins the group: seconds)."""
    for out, config in runs:
        train(TrainConfig.from_dict(config), data_root, out, progress=False)


@pytest.mark.slow
def test_two_processes_train_like_one(demo_root, tmp_path):
    """2 gloo processes × batch 1 (pooled batch norm, pooled Dice) vs 1 process × batch 2, one epoch (2 steps).

    Not bit-identical: float32 sums of two partial sums (batch-norm statistics,
    DDP's gradient average) round differently from one sum over the batch. We
    measured at most 1.5e-6 absolute difference in any weight or statistic;
    without pooled batch norm the weights differ by O(1), so the bound below
    separates rounding from a real difference by orders of magnitude either way.
    """
    config = tiny_config(epochs=1)
    one = train(config, demo_root, tmp_path / "one", progress=False)
    run_local(_train_in_process, 2, demo_root, [(tmp_path / "two", config.to_dict())])
    two = load_checkpoint(tmp_path / "two" / "last.pt")
    assert two["world_size"] == 2
    single = load_checkpoint(one.last_checkpoint)["model"]
    for key, value in two["model"].items():
        torch.testing.assert_close(value, single[key], rtol=1e-3, atol=1e-4, msg=lambda m, k=key: f"{k}: {m}")
    history = two["history"][0]
    assert history["train_loss"] == pytest.approx(one.history["train_loss"].iloc[0], rel=1e-5)
    assert history["val_miou"] == pytest.approx(one.history["val_miou"].iloc[0], abs=0.05)


DROPOUT_MODEL = {"model": "smp:DeepLabV3Plus/resnet18", "model_options": {"decoder_channels": 16}}
"""A small DeepLabV3+: dropout (p = 0.5) after its ASPP, as in the paper's DeepLabV3+."""


@pytest.mark.slow
def test_with_dropout_several_processes_are_reproducible_but_not_one_process(demo_root, tmp_path):
    """What the training module claims for models with dropout: each rank draws its own masks from
    (seed, epoch, rank), so 2 processes repeat each other exactly and differ from 1 process by more than rounding."""
    config = tiny_config(epochs=1, **DROPOUT_MODEL)
    # the same model with its dropout switched off, to show below that dropout made the difference
    without = tiny_config(epochs=1, model=DROPOUT_MODEL["model"],
                          model_options={**DROPOUT_MODEL["model_options"], "decoder_aspp_dropout": 0.0})
    run_local(_train_in_process, 2, demo_root, [(tmp_path / "two-a", config.to_dict()),
                                                (tmp_path / "two-b", config.to_dict()),
                                                (tmp_path / "two-no-dropout", without.to_dict())])
    first, second = (load_checkpoint(tmp_path / name / "last.pt")["model"] for name in ("two-a", "two-b"))
    for key, value in first.items():
        torch.testing.assert_close(value, second[key], rtol=0, atol=0, msg=lambda m, k=key: f"{k}: {m}")
    single = load_checkpoint(train(config, demo_root, tmp_path / "one", progress=False).last_checkpoint)["model"]
    largest = max((first[k].double() - single[k].double()).abs().max().item() for k in single
                  if single[k].is_floating_point())
    assert largest > 1e-3
    # without dropout 2 processes match 1 to rounding, so dropout made the difference
    two = load_checkpoint(tmp_path / "two-no-dropout" / "last.pt")["model"]
    one = load_checkpoint(train(without, demo_root, tmp_path / "one-no-dropout", progress=False).last_checkpoint)["model"]
    for key, value in two.items():
        torch.testing.assert_close(value, one[key], rtol=1e-3, atol=1e-4, msg=lambda m, k=key: f"{k}: {m}")


def _fail_on_main() -> str:
    try:
        current_session().from_main(lambda: 1 / 0)
    except Exception as error:
        return type(error).__name__
    return "no error"


@pytest.mark.slow
def test_a_failure_on_rank_0_stops_every_process():
    """Rank 0 writes the split for everyone; if that fails the others must stop too, not wait forever."""
    assert run_local(_fail_on_main, 2) == ["ZeroDivisionError", "RankFailedError"]
