"""``steps_per_epoch``: an epoch stops after that many optimisation steps, and validation still scores every tile.

The ``rehearsal`` profile sets it to 1, so a CPU runs every stage of a paper-scale run but the training; these tests
check that nothing but the training is cut.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from landslide_core.errors import ConfigError
from landslide_core.train import loop
from landslide_core.train.checkpoints import load_checkpoint
from landslide_core.train.config import TrainConfig
from landslide_core.train.loop import SPLIT_FILE, train
from tests.train.test_training import one_thread  # noqa: F401 (autouse fixture)
from tests.train.test_training import tiny_config as training_tiny_config

TILES = 10
"""Tiles of the one SAT sub-dataset: 7 train (3 batches of 2, the last dropped) and 3 validate."""


def tiny_config(**changes: object) -> TrainConfig:
    """The training tests' small U-Net on 64-px crops, validated on the central 64 px of the SAT tiles."""
    return training_tiny_config(**{"val_crop_size": 64, "group": "SAT", **changes})


@pytest.fixture
def scored(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pixels each validation of the run under test scored (every sub-dataset's matrix summed)."""
    pixels: list[int] = []

    def counting(*args: object, **kwargs: object) -> np.ndarray:
        counts = real(*args, **kwargs)
        pixels.append(int(counts.sum()))
        return counts

    real = loop.tile_counts
    monkeypatch.setattr(loop, "tile_counts", counting)
    return pixels


def _steps(out_dir: Path) -> int:
    """Optimisation steps the run made: its scheduler steps once per step."""
    return int(load_checkpoint(out_dir / "last.pt")["scheduler"]["last_epoch"])


def _validation_tiles(out_dir: Path) -> int:
    return int((pd.read_csv(out_dir / SPLIT_FILE, comment="#")["split"] == "val").sum())


def test_an_epoch_stops_after_the_steps_asked_for_and_validation_scores_every_tile(make_root, tmp_path, scored):
    root = make_root({"palu": TILES})
    full = train(tiny_config(), root, tmp_path / "full", progress=False)
    cut = train(tiny_config(steps_per_epoch=1), root, tmp_path / "cut", progress=False)
    assert _steps(tmp_path / "full") == 2 * 3 and _steps(tmp_path / "cut") == 2 * 1
    assert list(cut.history["epoch"]) == [1, 2] and cut.best_checkpoint is not None
    assert (cut.history["images_per_s"] > 0).all()
    # Validation is not cut: each of the four validations (two per run) scored every validation tile's crop.
    assert _validation_tiles(tmp_path / "cut") == _validation_tiles(tmp_path / "full") == 3
    assert scored == [3 * 64 * 64] * 4
    assert full.history["val_miou"].notna().all() and cut.history["val_miou"].notna().all()


def test_more_steps_than_batches_train_every_batch(make_root, tmp_path):
    root = make_root({"palu": TILES})
    train(tiny_config(epochs=1, steps_per_epoch=50), root, tmp_path / "run", progress=False)
    assert _steps(tmp_path / "run") == 3


@pytest.mark.parametrize("steps", [0, -1])
def test_no_steps_at_all_is_refused_with_what_to_give(steps):
    with pytest.raises(ConfigError, match=rf"steps_per_epoch must be positive or None \(every batch\), got {steps}"):
        tiny_config(steps_per_epoch=steps)


def test_the_setting_round_trips_and_defaults_to_every_batch():
    assert TrainConfig().steps_per_epoch is None
    config = tiny_config(steps_per_epoch=1)
    assert TrainConfig.from_dict(config.to_dict()).steps_per_epoch == 1
    assert "steps_per_epoch: None → 1" in tiny_config().differences(config)
