"""One rule on every results page: a model with landslide IoU 0 and mIoU 47 (all background in effect) is no result.

On these pixels landslide covers 6 %: all landslide scores 6.0 / 3.0 % (landslide IoU / mIoU), all background
0.0 / 47.0 %, the better constant. The model is far above all landslide's mIoU, level with all background's, and
finds no landslide; the pages must neither count it as a result nor as beating any baseline.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from landslide_core.book import paper_vs_run
from landslide_core.book.compare import metric_tables_html
from landslide_core.experiments.runs import GridRun
from landslide_core.experiments.table5 import table5
from landslide_core.experiments.table6 import ARMS
from landslide_core.scoring import SCORE_COLUMNS
from landslide_core.sections import benchmarks, cross_dataset, validation
from landslide_core.sections.benchmarks import GridSettings, baseline_verdicts, not_learned
from landslide_core.train.config import TrainConfig

BASELINES = {"all landslide": (6.0, 3.0), "all background": (0.0, 47.0), "threshold rule": (20.0, 55.0)}
FLAT = (0.0, 47.0)
"""The model that finds no landslide."""
LEARNED = (30.0, 62.0)


def _rows(key: str, flat: list[tuple[str, str]], learned: list[tuple[str, str]]) -> pd.DataFrame:
    """(model, ``key`` value) rows of the flat and the learned model, and the baselines of every ``key`` value."""
    values = list(dict.fromkeys(value for _, value in flat + learned))
    rows = [{"model": m, key: v, **{c: 50.0 for c in SCORE_COLUMNS}, "iou": iou, "miou": miou}
            for pairs, (iou, miou) in ((flat, FLAT), (learned, LEARNED)) for m, v in pairs]
    rows += [{"model": name, key: v, **{c: 50.0 for c in SCORE_COLUMNS}, "iou": iou, "miou": miou}
             for v in values for name, (iou, miou) in BASELINES.items()]
    return pd.DataFrame(rows)


def test_table5_page_flags_it_says_so_and_does_not_count_it_as_beating_a_baseline(tmp_path: Path):
    scores = _rows("group", [("FCN", "SAT")], [("U-Net", "SAT")]).assign(subdataset="", tiles=5, trained_on="SAT",
                                                                          seed=0)
    rows = table5(scores)
    assert not_learned(rows) == [("FCN", "SAT")]  # the notebook marks these cells †
    rule, verdict = baseline_verdicts(rows, "group")
    assert rule == ("Against the baselines, a model beats a baseline when its mIoU is more than 1 point higher and "
                    "its landslide IoU is higher; it is no result when its mIoU is not more than 1 point above that "
                    "of the better constant (all landslide or all background, whichever has the higher mIoU on the "
                    "same pixels).\n")
    assert ("Models that beat all landslide: U-Net; all background: U-Net; threshold rule: U-Net. Highest landslide "
            "IoU: U-Net's 30.0 %, 5.0 × all landslide's.") in verdict
    settings = GridSettings(models=["fcn", "unet"], groups=["SAT"], epochs=2, batch_size=8, crop_size=64,
                            val_crop_size=128, seeds=[0], pretrained=False, device="cpu", num_workers=0,
                            keep_checkpoints=False)
    runs = [GridRun(model=model, group="SAT", seed=0, folder=tmp_path, history=pd.DataFrame(), scores=pd.DataFrame(),
                    checkpoint=None, config={**settings.train_config_of(model).to_dict(), "split": "random"})
            for model in settings.models]
    text = benchmarks.summary(scores, paper_vs_run(rows, 5, run_label="this run"), settings, runs, synthetic=True,
                              data_root=tmp_path)
    assert ("- **Not a result: FCN on SAT** scores no better than predicting one class everywhere (its mIoU 47.0 % "
            "not more than 1 point above all background's 47.0 %, the better constant): it did not learn within "
            "this run's 2 epoch(s).") in text
    assert "Not a result: U-Net" not in text
    caption = metric_tables_html(paper_vs_run(rows, 5, run_label="this run"), rows="Model", columns="Group",
                                 caption="Paper Table 5 and this run (%)", flagged=not_learned(rows))
    assert ("† marks a model whose mIoU is not more than 1 point above that of the better constant (all landslide or "
            "all background): no result.") in caption


def _config(model: str, **changes: object) -> dict[str, object]:
    """A run's own ``config.json``, from which the pages say how it trained."""
    return {**TrainConfig(model=model, pretrained=False, epochs=2, crop_size=64, **changes).to_dict(), "split": "random"}


def test_table6_page_says_the_arm_learned_nothing(tmp_path: Path):
    table = _rows("dataset", [("DeepLabV3+", ARMS["filtered"])],
                  [("DeepLabV3+", ARMS["unfiltered"]), ("DeepLabV3+", ARMS["grouped"])])
    assert not_learned(table, "dataset") == [("DeepLabV3+", "SAT")]
    runs = {key: GridRun(model="deeplabv3plus", group="SAT", seed=0, folder=tmp_path, history=pd.DataFrame(),
                         scores=pd.DataFrame(), checkpoint=None, config=_config("deeplabv3plus", group="SAT"))
            for key in ARMS}
    epochs = pd.DataFrame({"mIoU best − last": [0.5, 2.0, 1.0]})
    text = validation.summary(table, pd.DataFrame(), epochs, synthetic=True, runs=runs)
    assert ('- **No better than a constant**: the model of "SAT" scores an mIoU not more than 1 point above that of '
            "the better constant (all landslide or all background), so it has not learned") in text
    flat = next(line for line in text.splitlines() if line.startswith("- **SAT**:"))
    assert "Models that beat all landslide: none; all background: none; threshold rule: none." in flat
    assert text.count("Models that beat all landslide: DeepLabV3+; all background: DeepLabV3+; threshold rule: "
                      "DeepLabV3+.") == 2  # the two arms that learned


def test_table7_page_says_which_training_set_gave_no_result():
    rows = _rows("dataset", [("DeepLabV3+", "Bijie")], [("DeepLabV3+", "UAV")])
    table, baselines = rows[rows["model"] == "DeepLabV3+"], rows[rows["model"] != "DeepLabV3+"]
    assert not_learned(pd.concat([table, baselines]), "dataset") == [("DeepLabV3+", "Bijie")]  # index repeats
    matrix = pd.DataFrame({"CAS (Moxitaidi)": [0.0, 30.0]}, index=["Bijie", "UAV"])
    text = cross_dataset.summary(table, baselines, matrix, synthetic=True, configs=[_config("deeplabv3plus")],
                                 column="CAS (Moxitaidi)")
    assert ("of 2 models: 1 beat all landslide (6.0 / 3.0 %); 1 beat all background (0.0 / 47.0 %); 1 beat the "
            "threshold rule fitted on their own training set (UAV). Here a model beats a baseline when") in text
    assert ("- **No result**: the model trained on Bijie scores an mIoU not more than 1 point above that of the better "
            "constant, so it has not learned to find landslides.") in text


def test_the_page_applies_the_margin_to_miou_and_asks_for_a_higher_landslide_iou():
    """1.01 mIoU points above all background is a result and beats it, 1.00 is not; neither beats the rule's 47.5."""
    table = pd.DataFrame([
        {"model": "all landslide", "group": "SAT", "iou": 6.0, "miou": 3.0},
        {"model": "all background", "group": "SAT", "iou": 0.0, "miou": 47.0},
        {"model": "threshold rule", "group": "SAT", "iou": 20.0, "miou": 47.5},
        {"model": "U-Net", "group": "SAT", "iou": 21.0, "miou": 48.01},
        {"model": "FCN", "group": "SAT", "iou": 21.0, "miou": 48.0},
    ])
    assert not_learned(table) == [("FCN", "SAT")]
    assert "Models that beat all landslide: U-Net, FCN; all background: U-Net; threshold rule: none." in (
        baseline_verdicts(table, "group")[1])
