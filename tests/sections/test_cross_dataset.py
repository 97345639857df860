"""The cross-dataset page's helpers: stand-ins written once, the data table, the note and the summary."""

from __future__ import annotations

import pandas as pd

from landslide_core.eval.paper import paper_values
from landslide_core.experiments.table7 import public_training_set
from landslide_core.paper import quote
from landslide_core.sections.cross_dataset import (
    CrossSettings,
    data_table,
    hrgldd_note,
    paper_below,
    public_roots,
    roots_note,
    stand_in_note,
    stand_in_roots,
    standardising_note,
    summary,
    training_sets_note,
)
from landslide_core.sources.stand_in_marker import STAND_IN_MARKER
from tests.attribution import registry_attributions

SETTINGS = CrossSettings(model="deeplabv3plus", epochs=3, batch_size=8, crop_size=128, val_crop_size=128,
                         pretrained=False, device="cpu", num_workers=0, seeds=(0, 1))
CONFIGS = [{**SETTINGS.train_config().to_dict(), "seed": seed, "split": "held-out part"} for seed in SETTINGS.seeds]


def test_stand_ins_are_written_once_and_a_given_root_is_used_as_it_is(tmp_path):
    roots = stand_in_roots(tmp_path, ["hr-gldd"])
    marker = roots["hr-gldd"] / STAND_IN_MARKER
    written = marker.stat().st_mtime_ns
    assert stand_in_roots(tmp_path, ["hr-gldd"]) == roots and marker.stat().st_mtime_ns == written
    mine = tmp_path / "my-bijie"
    assert public_roots({"bijie": str(mine), "hr-gldd": None}, tmp_path) == {"bijie": mine, "hr-gldd": roots["hr-gldd"]}
    assert not mine.exists()  # a given root is never written to


def test_the_page_names_stand_ins_and_stays_quiet_about_real_data(tmp_path):
    root = stand_in_roots(tmp_path, ["hr-gldd"])["hr-gldd"]
    sets = [public_training_set("hr-gldd", root, tmp_path / "splits")]
    table = data_table(sets)
    assert table.loc["HR-GLDD", "data"] == "HR-GLDD stand-in, synthetic" and table.loc["HR-GLDD", "held out"] == "HR-GLDD"
    assert stand_in_note(sets).startswith("**Synthetic stand-ins.** HR-GLDD: no copy of this dataset was given")
    (root / STAND_IN_MARKER).unlink()
    assert stand_in_note(sets) == "" and data_table(sets).loc["HR-GLDD", "data"] == "HR-GLDD data"
    assert roots_note(table) == f"Read from:\n- HR-GLDD: `{table.loc['HR-GLDD', 'root']}`"


def _table(ious: dict[str, float], miou: float = 50.0) -> pd.DataFrame:
    return pd.DataFrame([{"model": "DeepLabV3+", "dataset": name, "iou": iou, "miou": miou + iou / 10}
                         for name, iou in ious.items()])


def test_the_summary_is_computed_from_the_run():
    table = _table({"Bijie": 10.0, "Sichuan and Surrounding Areas Landslide Dataset": 40.0, "UAV": 30.0,
                    "SAT + UAV": 35.0})
    matrix = pd.DataFrame({"Bijie": [60.0, 5.0, 6.0, 7.0], "CAS (Moxitaidi)": [10.0, 40.0, 30.0, 35.0]},
                          index=["Bijie", "Sichuan and Surrounding Areas Landslide Dataset", "UAV", "SAT + UAV"])
    baselines = pd.DataFrame([{"model": name, "dataset": d, "iou": iou, "miou": miou}
                              for d in table["dataset"]
                              for name, iou, miou in (("all landslide", 14.0, 7.0), ("all background", 0.0, 52.5),
                                                      ("threshold rule", 20.0, 55.0 if d == "Bijie" else 51.0))])
    text = summary(table, baselines, matrix, synthetic=True, configs=CONFIGS, column="CAS (Moxitaidi)")
    assert "the model trained on **Sichuan** has the highest landslide IoU (40.0 %); the lowest is Bijie's (10.0 %)" in text
    assert "1 of the 2 public datasets score below every CAS training set" in text
    assert paper_below() in text
    # IoU / mIoU 10 / 51.0, 40 / 54.0, 30 / 53.0 and 35 / 53.5: beating needs more than 1 point (MARGIN) above the
    # baseline's mIoU and a higher landslide IoU (Bijie's 10 is below all landslide's 14)
    assert ("of 4 models: 3 beat all landslide (14.0 / 7.0 %); 1 beat all background (0.0 / 52.5 %); 3 beat the "
            "threshold rule fitted on their own training set (Sichuan, UAV, SAT + UAV). Here a model beats") in text
    # not more than 1 point above all background's 52.5, the better constant, even where they beat the rule
    assert ("- **No result**: the models trained on Bijie, UAV, SAT + UAV score an mIoU not more than 1 point above "
            "that of the better constant, so they have not learned to find landslides.") in text
    own, other = (60 + 30 + 35) / 3, (10 + 5 + 40 + 6 + 7) / 5  # Bijie→Bijie and CAS rows→CAS are "own"
    assert f"{own:.1f} % IoU on average on their own dataset's held-out part and {other:.1f} % on the others'" in text
    assert "2 seed(s) (0, 1)" in text and "synthetic data" in text
    real = summary(table, baselines, matrix, synthetic=False, configs=CONFIGS, column="CAS (Moxitaidi)")
    assert "train on 70 % of their samples here" in real and "synthetic" not in real
    assert registry_attributions(text + real) == []


def test_the_paper_comparison_is_counted_from_table_7():
    text = paper_below()  # Sichuan's 30.280 is above SAT's 24.449
    assert ("the public datasets with a lower landslide IoU than each CAS row are: UAV (43.8 %) 4 of 4; SAT (24.4 %) "
            "3 of 4 (not Sichuan, 30.3 %); SAT + UAV (46.3 %) 4 of 4; so 3 of the 4 are below every CAS row.") in text
    assert f"“{quote('table7_three_below').text}”" in text
    values = paper_values(7)
    values.loc[values["dataset"] == "Sichuan and Surrounding Areas Landslide Dataset", "iou"] = 20.0
    assert "SAT (24.4 %) 4 of 4; SAT + UAV (46.3 %) 4 of 4; so 4 of the 4 are below" in paper_below(values)
    values.loc[values["dataset"] == "Bijie", "iou"] = 50.0
    assert ("UAV (43.8 %) 3 of 4 (not Bijie, 50.0 %); SAT (24.4 %) 3 of 4 (not Bijie, 50.0 %); SAT + UAV (46.3 %) "
            "3 of 4 (not Bijie, 50.0 %); so 3 of the 4") in paper_below(values)


def test_the_notes_quote_the_paper_and_name_what_is_ours():
    assert "1,119 + 284 + 355 = 1,758 images" in hrgldd_note() and "a total of 1785 images" in hrgldd_note()
    assert "channels 0, 1 and 2 by default" in hrgldd_note()
    assert f"“{quote('table7_standardized').text}”" in standardising_note()
    assert "The rest is ours: each image is resized whole to 512 × 512 pixels" in standardising_note()
    assert "4 UAV and 8 SAT tiles are unaccounted for" in training_sets_note()
    assert "Bijie's 770 landslide samples" in training_sets_note()
    for note in (hrgldd_note(), standardising_note(), training_sets_note(), paper_below()):
        assert registry_attributions(note) == []


def test_the_settings_give_every_runs_training_config():
    config = CrossSettings(**{**SETTINGS.as_parameters(), "crop_size": None}).train_config()
    assert (config.val_crop_size, config.crop_size, config.epochs, config.lr) == (128, None, 3, 0.01)


def test_the_example_figure_is_left_out_with_a_reason_where_checkpoints_are_not_kept(tmp_path):
    from landslide_core.experiments.table7 import HeldOut, TrainingSet
    from landslide_core.sections.cross_dataset import example_checkpoints, examples_note

    held_out = HeldOut("Sichuan", {}, tmp_path, tmp_path / "split.csv")
    sets = [TrainingSet("sichuan", "Sichuan and Surrounding Areas Landslide Dataset", "all", held_out)]
    transfer = pd.DataFrame({"seed": [0, 0, 1], "key": ["sichuan"] * 3,
                             "run": ["sichuan_seed0-abc", "sichuan_seed0-abc", "sichuan_seed1-def"]})
    (label, checkpoint), = example_checkpoints(sets, tmp_path, transfer, seed=0)
    assert label == "Sichuan" and checkpoint == tmp_path / "sichuan_seed0-abc" / "last.pt"
    assert examples_note(sets, tmp_path, transfer, seed=0).startswith("No example predictions: Sichuan")
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"")
    assert examples_note(sets, tmp_path, transfer, seed=0) == ""
