"""Tables 5, 6 and 7 fit the threshold rule on the models' training tiles, never on the tiles it is scored on.

The validation tiles are graded brighter and redder than the training tiles
(:data:`tests.eval.test_baselines.COLOURS`): a rule fitted on the training tiles calls every validation pixel
landslide and so scores exactly as all landslide does, while one fitted on the validation tiles would find every
scar (landslide IoU 100 %).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from landslide_core.data.splits import write_manifest
from landslide_core.experiments.table5 import baseline_frame
from landslide_core.experiments.table6 import QCArm, table6_baselines
from landslide_core.experiments.table7 import cas_training_sets, table7_baselines
from landslide_core.sources import get_source
from tests.eval.test_baselines import write_shifted_tiles
from tests.train.test_training import tiny_config

CAS = get_source("cas")
BASE = tiny_config(group="SAT", val_crop_size=None)


@pytest.fixture(scope="module")
def shifted_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Hokkaido tiles (training) and colour-shifted Moxitaidi SAT and UAV tiles (validation), and a manifest saying so."""
    root = tmp_path_factory.mktemp("shifted")
    write_shifted_tiles(root, "Hokkaido Iburi-Tobu", 3, seed=0, shifted=False)
    write_shifted_tiles(root, "Moxitaidi (SAT)", 2, seed=1, shifted=True)
    write_shifted_tiles(root, "Moxitaidi (UAV-1 m)", 1, seed=2, shifted=True)
    sides = [replace(r, split="train" if r.subdataset == "hokkaido" else "val") for r in CAS.list_tiles(root)]
    write_manifest(sides, root / "runs" / "split-seed0.csv", root=root, seed=BASE.seed, val_fraction=BASE.val_fraction)
    return root


def _as_all_landslide(rows: pd.DataFrame) -> None:
    """The threshold rule's row is all landslide's: every validation pixel called landslide."""
    rows = rows.set_index("model")
    assert rows.loc["threshold rule", "iou"] < 15  # a rule fitted on the validation tiles would score 100
    for column in ("iou", "miou", "precision", "recall"):
        assert rows.loc["threshold rule", column] == pytest.approx(rows.loc["all landslide", column])


def test_table5_fits_the_rule_on_the_training_tiles(shifted_root):
    scores, rules = baseline_frame(shifted_root, shifted_root / "runs", base=BASE, groups=["SAT"], seeds=[0])
    _as_all_landslide(scores[(scores["group"] == "SAT") & (scores["subdataset"] == "")])
    assert rules.loc[0, "training tiles"] == 3 and rules.loc[0, "training IoU (%)"] == 100.0


def test_table6_fits_the_rule_on_the_arms_training_tiles(shifted_root):
    arm = QCArm("filtered", "SAT", shifted_root, shifted_root / "runs" / "split-seed0.csv")
    _as_all_landslide(table6_baselines([arm], BASE))


def test_table7_fits_the_rule_on_the_training_set_and_scores_it_on_the_held_out_region(shifted_root, tmp_path):
    sets = cas_training_sets(shifted_root, tmp_path, validation=("moxitaidi-sat", "moxitaidi-uav-1m"),
                             groups={"SAT": "SAT"})
    _as_all_landslide(table7_baselines(sets, BASE))
