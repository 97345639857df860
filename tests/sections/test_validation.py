"""The validation page's summary: every clause derived from the run's table, read against the constant baseline."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from landslide_core.experiments.table5 import GridRun
from landslide_core.experiments.table6 import ARMS
from landslide_core.paper import mismatches, quote
from landslide_core.sections.validation import QCSettings, paper_notes, summary
from tests.attribution import registry_attributions

SETTINGS = QCSettings(model="deeplabv3plus", epochs=1, batch_size=2, crop_size=64, val_crop_size=None,
                      pretrained=False, device="cpu", num_workers=0, seed=0)
RUNS = {key: GridRun("deeplabv3plus", "SAT", 0, Path(key), pd.DataFrame(), pd.DataFrame(), None,
                     {**SETTINGS.train_config().to_dict(), "split": "grouped" if key == "grouped" else "random"})
        for key in ARMS}


def _table(ious: list[float], mious: list[float]) -> pd.DataFrame:
    models = pd.DataFrame({"model": "DeepLabV3+", "dataset": list(ARMS.values()), "iou": ious, "miou": mious})
    baselines = pd.DataFrame([{"model": name, "dataset": d, "iou": iou, "miou": miou} for d in ARMS.values()
                              for name, iou, miou in (("all landslide", 10.0, 5.0), ("all background", 0.0, 45.0),
                                                      ("threshold rule", 30.0, 60.0))])
    return pd.concat([models, baselines], ignore_index=True)


EPOCHS = pd.DataFrame({"mIoU best − last": [0.5, 2.0, 1.0]})
COMMON = pd.DataFrame({"trained on": [ARMS["unfiltered"], ARMS["filtered"]], "iou": [40.0, 42.0]})


def test_summary_states_the_gains_from_the_table_and_no_warning_when_every_model_beats_the_baseline() -> None:
    text = summary(_table([50.0, 53.5, 49.0], [70.0, 72.0, 69.0]), COMMON, EPOCHS, synthetic=False, runs=RUNS)
    assert "+3.5 points after quality control" in text and "(paper: +1.862)" in text
    assert "all tiles scores 40.0 % IoU, the one trained on the kept tiles 42.0 %" in text
    assert "random split scores +4.5 IoU points against the grouped split" in text
    assert "adds 0.5 to 2.0 mIoU points" in text and "No better than a constant" not in text
    assert ("- **SAT**: baselines (landslide IoU / mIoU) all landslide 10.0 / 5.0 %, all background 0.0 / 45.0 %, "
            "threshold rule 30.0 / 60.0 %. Models that beat all landslide: DeepLabV3+; all background: DeepLabV3+; "
            "threshold rule: DeepLabV3+. Highest landslide IoU: DeepLabV3+'s 53.5 %, 5.3 × all landslide's.") in text


def test_summary_says_when_a_model_is_no_better_than_a_constant() -> None:
    text = summary(_table([14.0, 14.0, 14.0], [7.0, 80.0, 7.0]), COMMON, EPOCHS, synthetic=True, runs=RUNS)
    assert 'the models of "Original SAT" and "SAT, grouped split" score an mIoU not more than 1 point above that of the better constant' in text
    assert "synthetic tiles" in text
    assert "(DeepLabV3+; randomly initialised weights; 1 epoch(s) of batch 2 on 64-px crops" in text  # its runs' own


def test_without_common_scores_the_page_says_why(tmp_path):
    import pandas as pd

    from landslide_core.experiments.table5 import GridRun
    from landslide_core.sections.validation import no_common_scores_note

    def run(checkpoint):
        return GridRun("deeplabv3plus", "UAV&SAT", 0, tmp_path, pd.DataFrame(), pd.DataFrame(), checkpoint)

    assert no_common_scores_note({"filtered": run(None)}).startswith("Only filtered tiles were given")
    note = no_common_scores_note({"unfiltered": run(None), "filtered": run(tmp_path / "best.pt")})
    assert note.startswith("The two models are not scored on the same tiles: ") and "kept no checkpoint" in note


def test_the_notes_under_table_6_quote_the_paper_show_both_mismatches_and_call_the_split_reading_ours() -> None:
    text = paper_notes()
    assert quote("original_sat").text in text and quote("random_split").text in text
    assert mismatches()["sat_tiles"].line() in text and mismatches()["one_percent"].line() in text
    assert "Ours: that Table 6 was split the same way" in text
    assert not registry_attributions(text)
