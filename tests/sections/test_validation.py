"""The validation page's summary: every clause derived from the run's table, read against the constant baseline."""

from __future__ import annotations

import pandas as pd

from landslide_core.experiments.table6 import ARMS, constant_miou
from landslide_core.sections.validation import QCSettings, summary

SETTINGS = QCSettings(model="deeplabv3plus", epochs=1, batch_size=2, crop_size=64, val_crop_size=None,
                      pretrained=False, device="cpu", num_workers=0, seed=0)


def _table(ious: list[float], mious: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"dataset": list(ARMS.values()), "iou": ious, "miou": mious, "constant mIoU": [45.0] * 3})


EPOCHS = pd.DataFrame({"mIoU best − last": [0.5, 2.0, 1.0]})
COMMON = pd.DataFrame({"trained on": [ARMS["unfiltered"], ARMS["filtered"]], "iou": [40.0, 42.0]})


def test_the_constant_baseline_is_the_better_of_all_background_and_all_landslide() -> None:
    row = pd.Series({"tp": 10, "fn": 10, "fp": 30, "tn": 50})  # 20 % landslide pixels
    assert constant_miou(row) == 40.0


def test_summary_states_the_gains_from_the_table_and_no_warning_when_every_model_beats_the_baseline() -> None:
    text = summary(_table([50.0, 53.5, 49.0], [70.0, 72.0, 69.0]), COMMON, EPOCHS, synthetic=False, settings=SETTINGS)
    assert "+3.5 points after quality control" in text and "(paper: +1.862)" in text
    assert "all tiles scores 40.0 % IoU, the one trained on the kept tiles 42.0 %" in text
    assert "random split scores +4.5 IoU points against the grouped split" in text
    assert "adds 0.5 to 2.0 mIoU points" in text and "constant" not in text


def test_summary_says_when_a_model_is_no_better_than_a_constant() -> None:
    text = summary(_table([14.0, 14.0, 14.0], [7.0, 80.0, 7.0]), COMMON, EPOCHS, synthetic=True, settings=SETTINGS)
    assert 'the models of "Original SAT" and "SAT, grouped split" score an mIoU at or below' in text
    assert "synthetic tiles" in text
