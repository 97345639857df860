"""The cross-dataset page's helpers: stand-ins written once, the data table, the notes, the intervals and the judged
summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from landslide_core.book import paper_vs_run
from landslide_core.book.compare import metric_tables_html
from landslide_core.errors import ConfigError
from landslide_core.eval.paper import paper_values
from landslide_core.experiments import table7 as t7
from landslide_core.experiments.table7 import public_training_set
from landslide_core.paper import quote
from landslide_core.scoring.intervals import format_interval, verdict_counts
from landslide_core.sections.cross_dataset import (
    CrossSettings,
    data_table,
    hrgldd_note,
    no_result_cells,
    pair_table,
    paper_below,
    public_roots,
    roots_note,
    short_label,
    stand_in_note,
    stand_in_roots,
    standardising_note,
    summary,
    table7_intervals,
    table7_verdicts,
    training_set_pairs,
    training_sets_note,
    transfer_intervals,
    transfer_table,
    with_intervals,
)
from landslide_core.sources.stand_in_marker import STAND_IN_MARKER
from tests.attribution import registry_attributions
from tests.experiments.test_table7 import CAS_PART, baseline_tiles, cas_sets, per_tile
from tests.experiments.test_table7 import SETTINGS as INTERVALS

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


def test_a_root_may_name_the_cas_data_root_as_the_rehearsal_profile_does(tmp_path):
    given = {"bijie": "{data_root}/_stand_ins/bijie", "hr-gldd": str(tmp_path / "hr")}
    assert public_roots(given, tmp_path, data_root=Path("/data/replica")) == {
        "bijie": Path("/data/replica/_stand_ins/bijie"), "hr-gldd": tmp_path / "hr"}
    with pytest.raises(ConfigError, match=r"roots of bijie hold \{data_root\}, but no CAS data root was given"):
        public_roots(given, tmp_path)


def test_the_page_names_stand_ins_and_stays_quiet_about_real_data(tmp_path):
    root = stand_in_roots(tmp_path, ["hr-gldd"])["hr-gldd"]
    sets = [public_training_set("hr-gldd", root, tmp_path / "splits")]
    table = data_table(sets)
    assert table.loc["HR-GLDD", "data"] == "HR-GLDD stand-in, synthetic" and table.loc["HR-GLDD", "held out"] == "HR-GLDD"
    assert stand_in_note(sets).startswith("**Synthetic stand-ins.** HR-GLDD: this row trains on a synthetic stand-in, "
                                          "not on the dataset")
    (root / STAND_IN_MARKER).unlink()
    assert stand_in_note(sets) == "" and data_table(sets).loc["HR-GLDD", "data"] == "HR-GLDD data"
    assert roots_note(table) == f"Read from:\n- HR-GLDD: `{table.loc['HR-GLDD', 'root']}`"


LEARNED, FLAT = (60, 20, 40, 880), (0, 0, 100, 900)
"""Counts per tile of 1,000 pixels, 100 of them landslide: a model that finds most of them, and one that finds none
(all background in effect)."""
RULE = (30, 50, 70, 850)
"""The threshold rule's counts per tile: landslide IoU 20 %, mIoU 53.8 %."""
SICHUAN = "Sichuan and Surrounding Areas Landslide Dataset"


def _signed(value: float) -> str:
    return f"{value:+.1f}".replace("-", "−")


def _judged(scored: dict, tmp_path, seeds: tuple[int, ...] = (0,)):
    """Table 7's rows, the transfer matrix and both judgements of runs given as counts per tile."""
    transfer, tiles = per_tile(scored, seeds)
    labels = list(scored)
    cas_tiles = len(next(iter(scored.values()))[CAS_PART])
    models = t7.judge_table7(transfer, tiles, baseline_tiles(labels, cas_tiles, dict.fromkeys(labels, RULE)),
                             cas_sets(tmp_path, labels), {}, INTERVALS)
    matrix_judged = t7.judge_transfer(transfer, tiles, {}, INTERVALS)
    table = transfer[transfer["evaluated on"] == CAS_PART].rename(columns={"trained on": "dataset"}).assign(
        model="DeepLabV3+")
    return table, t7.transfer_matrix(transfer), models, matrix_judged


def _scored() -> dict:
    """Four training sets on Bijie's held-out part (4 tiles) and the CAS one (20 tiles).

    On CAS: Sichuan 50.0 % on every tile; SAT + UAV 48.3 % pooled from tiles that alternate between 80 and 36 of 100
    landslide pixels found, so about 2 points below Sichuan but not distinguishable from it; UAV 33.3 % everywhere;
    Bijie finds nothing.
    """
    alternating = [(80, 20, 20, 880), (36, 20, 64, 880)] * 10
    return {"Bijie": {"Bijie": [LEARNED] * 4, CAS_PART: [FLAT] * 20},
            SICHUAN: {"Bijie": [(10, 20, 90, 880)] * 4, CAS_PART: [LEARNED] * 20},
            "UAV": {"Bijie": [FLAT] * 4, CAS_PART: [(40, 20, 60, 880)] * 20},
            "SAT + UAV": {"Bijie": [(20, 20, 80, 880)] * 4, CAS_PART: alternating}}


def test_the_summary_is_computed_from_the_run_and_judges_every_comparison(tmp_path):
    table, matrix, models, transfer = _judged(_scored(), tmp_path)
    text = summary(table, matrix, models, transfer, synthetic=True, configs=CONFIGS, column=CAS_PART)
    near = transfer.difference(SICHUAN, "SAT + UAV", "iou", **{"evaluated on": CAS_PART})
    assert near["low"] < 0 < near["high"]  # 1.7 points on tiles that disagree: not distinguishable
    assert ("the model trained on **Sichuan** has the highest landslide IoU (50.0 [50.0, 50.0] %); against the next: "
            "Sichuan and SAT + UAV are not distinguishable on these tiles (Δ landslide IoU +1.7 points, 95 % "
            f"interval [{_signed(near['low'])}, {_signed(near['high'])}]). The lowest is Bijie's (0.0 [0.0, 0.0] %)."
            ) in text
    assert ("- 1 of the 2 public datasets are beaten on landslide IoU by every CAS training set (the 95 % interval "
            "of Δ = CAS row − public dataset lies above 0 for each CAS row); not Sichuan, which at least one CAS row "
            "does not beat on these tiles.") in text
    assert paper_below() in text
    assert ("of 4 models: 3 beat all landslide (10.0 / 5.0 %); 3 beat all background (0.0 / 45.0 %); 3 beat the "
            "threshold rule fitted on their own training set (Sichuan, UAV, SAT + UAV). Here a model beats a "
            "baseline when the 95 % interval of the paired difference") in text
    pairs = transfer.differences[transfer.differences["metric"] == "iou"]
    clear = int(((pairs["low"] > 0) | (pairs["high"] < 0)).sum())
    assert len(pairs) == 12 and 0 < clear < 12
    assert (f"Of the 12 pairs of training sets compared on the same held-out tiles (2 held-out parts), {clear} differ "
            f"in landslide IoU by more than these tiles can tell from chance") in text
    own = np.mean([matrix.loc["Bijie", "Bijie"], matrix.loc["UAV", CAS_PART], matrix.loc["SAT + UAV", CAS_PART]])
    other = np.mean([matrix.loc["Bijie", CAS_PART], matrix.loc[SICHUAN, "Bijie"], matrix.loc[SICHUAN, CAS_PART],
                     matrix.loc["UAV", "Bijie"], matrix.loc["SAT + UAV", "Bijie"]])
    assert f"{own:.1f} % IoU on average on their own dataset's held-out part and {other:.1f} % on the others'" in text
    assert "2 seed(s) (0, 1)" in text and "synthetic data" in text
    real = summary(table, matrix, models, transfer, synthetic=False, configs=CONFIGS, column=CAS_PART)
    assert "train on 70 % of their samples here" in real and "synthetic" not in real
    assert registry_attributions(text + real) == []


def test_table7_page_says_which_training_set_gave_no_result(tmp_path):
    """Bijie's model finds no landslide (all background in effect): no result, and it beats no baseline."""
    scored = {"Bijie": {CAS_PART: [FLAT] * 12}, "UAV": {CAS_PART: [LEARNED] * 12}}
    table, matrix, models, transfer = _judged(scored, tmp_path)
    assert no_result_cells(models) == [("Bijie", "DeepLabV3+")]  # the tables mark these cells †
    text = summary(table, matrix, models, transfer, synthetic=True, configs=CONFIGS, column=CAS_PART)
    assert ("of 2 models: 1 beat all landslide (10.0 / 5.0 %); 1 beat all background (0.0 / 45.0 %); 1 beat the "
            "threshold rule fitted on their own training set (UAV). Here a model beats a baseline when") in text
    assert ("- **No result**: the model trained on Bijie (Δ mIoU to all background +0.0 points, 95 % interval "
            "[+0.0, +0.0]): the interval does not lie above 0, so its mIoU is not shown to exceed the better "
            "constant's on these tiles.") in text
    assert "UAV (Δ mIoU" not in text
    comparison = paper_vs_run(table, 7, run_label="this run", keys=("model", "dataset"),
                              intervals=table7_intervals(models))
    caption = metric_tables_html(comparison.rename(index=short_label), rows="Dataset", columns="Model",
                                 caption="Paper Table 7 and this run (%)", flagged=no_result_cells(models))
    assert "† marks a model that is no result" in caption and "/ 0.0 / −22.1<br>[0.0, 0.0] †" in caption


def test_records_carry_the_intervals_and_the_paper_values_are_judged_against_them(tmp_path):
    table, matrix, models, transfer = _judged(_scored(), tmp_path)
    records = with_intervals(table, models)
    row = records.set_index("dataset").loc["UAV"]
    estimate = models.estimate("DeepLabV3+", "iou", dataset="UAV")
    assert (row["iou"], row["IoU low"], row["IoU high"]) == pytest.approx(
        (estimate["value"], estimate["low"], estimate["high"]))
    verdicts = table7_verdicts(models)
    assert len(verdicts) == 4 * 6  # the four rows the paper also has, six scores each
    bijie = verdicts.set_index(["dataset", "metric"]).loc[("Bijie", "iou")]
    assert bijie["paper"] == 17.483 and not bijie["inside"] and bijie["outside by"] == pytest.approx(17.483)
    assert "is not meaningful" in verdict_counts(verdicts, synthetic=True)
    cells = transfer_table(transfer, matrix)
    assert cells.shape == (4, 2) and list(cells.columns) == ["Bijie", CAS_PART] and "Sichuan" in cells.index
    sat_uav = transfer.estimate("SAT + UAV", "iou", **{"evaluated on": CAS_PART})
    assert cells.loc["SAT + UAV", CAS_PART] == format_interval(sat_uav["value"], sat_uav["low"], sat_uav["high"])
    long = transfer_intervals(transfer)
    assert list(long.columns) == ["trained on", "evaluated on", "value", "low", "high"] and len(long) == 8
    pairs = training_set_pairs(transfer)
    assert len(pairs) == 12 and pairs["judged"].str.contains("beats|not distinguishable").all()
    shown = pair_table(pairs)
    assert shown.shape == (6, 2) and shown.index[0] == "Bijie − Sichuan"
    first = pairs.iloc[0]
    assert shown.iloc[0, 0] == f"{_signed(first['Δ'])} [{_signed(first['low'])}, {_signed(first['high'])}]"


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
    assert config.steps_per_epoch is None
    assert CrossSettings(**{**SETTINGS.as_parameters(), "steps_per_epoch": 1}).train_config().steps_per_epoch == 1


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
