"""The validation page: intervals per arm, judged comparisons and the baseline rule, from small per-tile count frames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from landslide_core.errors import ConfigError
from landslide_core.eval.baselines import baseline_judgements, no_result
from landslide_core.eval.paper import published_long
from landslide_core.experiments.table5 import GridRun
from landslide_core.experiments.table6 import ARMS
from landslide_core.paper import mismatches, quote
from landslide_core.scoring.intervals import BootstrapSettings, paper_verdicts, verdict_counts
from landslide_core.sections.validation import (
    COMPARISONS,
    QCSettings,
    arm_intervals,
    common_table,
    comparison_table,
    judge_comparisons,
    no_result_cells,
    paper_notes,
    record_table,
    summary,
)
from tests.attribution import registry_attributions

SETTINGS = QCSettings(model="deeplabv3plus", epochs=1, batch_size=2, crop_size=64, val_crop_size=None,
                      pretrained=False, device="cpu", num_workers=0, seed=0)
RUNS = {key: GridRun("deeplabv3plus", "SAT", 0, Path(key), pd.DataFrame(), pd.DataFrame(), None,
                     {**SETTINGS.train_config().to_dict(), "split": "grouped" if key == "grouped" else "random"})
        for key in ARMS}
COUNTS = ["tp", "fp", "fn", "tn"]


MODEL = "DeepLabV3+"
LANDSLIDE = 60
"""Landslide pixels of every 1,000-pixel tile: all landslide scores 6.0 / 3.0 % (IoU / mIoU), all background 0.0 / 47.0
%, the better constant."""
BASELINE_COUNTS = {"all landslide": (60, 940, 0, 0), "all background": (0, 0, 60, 940),
                   "threshold rule": (30, 60, 30, 880)}
SETTINGS_B = BootstrapSettings(resamples=2000, seed=0)


def _learned(index: int) -> tuple[int, int, int, int]:
    """A model that finds most landslide pixels, a little differently on every tile."""
    tp = 36 + index % 9
    return tp, 15, LANDSLIDE - tp, 1000 - LANDSLIDE - 15


def _arm_counts(flat: set[str] = frozenset(), tiles: int = 40) -> pd.DataFrame:
    """Per-tile counts of every arm's model and baselines on its own tiles; the models of ``flat`` arms predict
    no landslide anywhere (all background in effect)."""
    rows = []
    for dataset in ARMS.values():
        for i in range(tiles):
            tile = f"{dataset}/tile{i:03d}"
            model = BASELINE_COUNTS["all background"] if dataset in flat else _learned(i)
            for name, counts in ((MODEL, model), *BASELINE_COUNTS.items()):
                rows.append({"model": name, "dataset": dataset, "tile": tile, **dict(zip(COUNTS, counts, strict=True))})
    return pd.DataFrame(rows)


def _blocks() -> dict[tuple[str, ...], dict[str, str]]:
    """Every tile a block alone, for every tile set the page resamples."""
    return {**{(dataset,): {} for dataset in ARMS.values()}, **{c.tiles: {} for c in COMPARISONS}}


def _common(better: list[tuple[int, int]], worse: list[tuple[int, int]]) -> pd.DataFrame:
    """Both models' counts on the same tiles: (tp, fn) per tile of 100 landslide pixels, the filtered model first."""
    rows = [{"trained on": ARMS[key], "model": MODEL, "tile": f"t{i}", "tp": tp, "fp": 0, "fn": fn, "tn": 900}
            for key, pairs in (("filtered", better), ("unfiltered", worse)) for i, (tp, fn) in enumerate(pairs)]
    return pd.DataFrame(rows)


def _page(counts: pd.DataFrame, common: pd.DataFrame) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """The summary, the baseline judgements and the comparisons as the notebook builds them."""
    judged = arm_intervals(counts, _blocks(), SETTINGS_B)
    judgements, unlearned = baseline_judgements(judged), no_result(judged)
    differences = judge_comparisons(counts, common, _blocks(), SETTINGS_B)
    return summary(judgements, unlearned, differences, EPOCHS, synthetic=True, runs=RUNS), unlearned, differences


EPOCHS = pd.DataFrame({"mIoU best − last": [0.5, 2.0, 1.0]})
DISAGREE = ([(90, 10), (40, 60), (70, 30)], [(40, 60), (90, 10), (64, 36)])
"""Three tiles on which the models disagree: the filtered model's IoU is 2 points higher in total."""
CLEAR = ([(80, 20)] * 40, [(70 + i % 3, 30 - i % 3) for i in range(40)])
"""Forty tiles, each better for the filtered model."""


def test_a_two_point_difference_on_three_tiles_that_disagree_is_not_distinguishable() -> None:
    text, _, differences = _page(_arm_counts(), _common(*DISAGREE))
    same = differences[(differences["tiles"] == "same") & (differences["metric"] == "iou")].iloc[0]
    assert same["delta"] == pytest.approx(200 / 300 * 100 - 194 / 300 * 100)
    assert same["low"] < 0 < same["high"]
    line = next(line for line in text.splitlines() if line.startswith("- **Quality control, same tiles**"))
    assert ("the model trained on the kept tiles (SAT) and the model trained on every tile (Original SAT) are not "
            "distinguishable on these tiles (Δ landslide IoU +2.0 points, 95 % interval [") in line
    assert "beats" not in line


def test_a_clear_difference_on_many_tiles_beats_and_different_tiles_are_said_to_differ() -> None:
    text, _, differences = _page(_arm_counts(), _common(*CLEAR))
    line = next(line for line in text.splitlines() if line.startswith("- **Quality control, same tiles**"))
    assert ("the model trained on the kept tiles (SAT) beats the model trained on every tile (Original SAT) "
            "(Δ landslide IoU +9.0 points, 95 % interval [+8.") in line
    assert set(differences["comparison"]) == {c.label for c in COMPARISONS}
    assert differences.groupby("comparison")["tiles"].first().to_dict() == {
        c.label: "same" if c.same_tiles else "different" for c in COMPARISONS}
    own = next(line for line in text.splitlines() if line.startswith("- **Quality control, each on its own"))
    assert "two measurements on different tiles" in own and "the same-tiles comparison above is the stronger" in own
    leakage = next(line for line in text.splitlines() if line.startswith("- **Leakage**"))
    assert "two measurements on different tiles" in leakage
    assert "adds 0.5 to 2.0 mIoU points" in text and "synthetic tiles" in text
    table = comparison_table(differences)
    assert list(table.columns) == ["tiles", "Δ IoU [95 % interval]", "Δ mIoU [95 % interval]"]
    assert table.loc[COMPARISONS[0].label, "Δ IoU [95 % interval]"].startswith("+9.0 [+8.")


def test_the_common_tiles_table_gives_both_models_scores_with_intervals() -> None:
    common = pd.DataFrame({"trained on": [ARMS["unfiltered"], ARMS["filtered"]], "val tiles": [40, 40]})
    table = common_table(common, _common(*CLEAR), _blocks(), SETTINGS_B)
    assert list(table.columns) == ["val tiles", "IoU", "IoU low", "IoU high", "mIoU", "mIoU low", "mIoU high"]
    assert table.loc[ARMS["filtered"], "IoU"] == pytest.approx(80.0)
    assert (table["IoU low"] <= table["IoU"]).all() and (table["IoU"] <= table["IoU high"]).all()


def test_comparisons_on_different_tiles_resample_the_union_with_zeros_where_an_arm_scored_none() -> None:
    counts = _arm_counts()
    grouped = counts["dataset"] == ARMS["grouped"]
    counts.loc[grouped, "tile"] = counts.loc[grouped, "tile"].str.replace(ARMS["grouped"], ARMS["filtered"])
    shifted = counts[~grouped | (counts["tile"] >= f"{ARMS['filtered']}/tile020")]  # grouped: half of the tiles
    differences = judge_comparisons(shifted, pd.DataFrame(), _blocks(), SETTINGS_B)
    split = differences[(differences["comparison"] == COMPARISONS[2].label) & (differences["metric"] == "iou")]
    assert split["tiles"].tolist() == ["different"] and len(split) == 1
    assert COMPARISONS[0].label not in set(differences["comparison"])  # no common tiles: no paired comparison
    with pytest.raises(ConfigError, match="arm_blocks"):
        judge_comparisons(shifted, pd.DataFrame(), {}, SETTINGS_B)


def test_table6_page_says_the_arm_that_learned_nothing_is_no_result_and_beats_no_baseline() -> None:
    """Moved from tests/sections/test_baseline_rule.py: the filtered arm's model finds no landslide (IoU 0, mIoU 47,
    all background on every tile), far above all landslide's mIoU 3: it is no result and beats nothing."""
    text, unlearned, _ = _page(_arm_counts(flat={ARMS["filtered"]}), _common(*CLEAR))
    assert no_result_cells(unlearned) == [(ARMS["filtered"], MODEL)]
    assert text.startswith("Against the baselines, a model beats a baseline when the 95 % interval of the paired "
                           "difference")
    flat = next(line for line in text.splitlines() if line.startswith(f"- **{ARMS['filtered']}**:"))
    assert flat.startswith("- **SAT**: DeepLabV3+ beats no baseline; it does not beat all landslide (Δ mIoU +44.0 "
                           "points, 95 % interval [+44.0, +44.0]; Δ IoU −6.0 points")
    assert ('- **No result: the model of "SAT"**: the interval of its mIoU difference to all background, the better '
            "constant, does not lie above 0 (Δ mIoU +0.0 points, 95 % interval [+0.0, +0.0])") in text
    for dataset in (ARMS["unfiltered"], ARMS["grouped"]):
        assert (f"- **{dataset}**: DeepLabV3+ beats all landslide, all background and threshold rule.") in text
        assert f'No result: the model of "{dataset}"' not in text


def test_intervals_are_drawn_by_each_arms_blocks_and_recorded_beside_the_scores() -> None:
    counts = _arm_counts()
    one_block = {tile: "all" for tile in counts.loc[counts["dataset"] == ARMS["grouped"], "tile"]}
    judged = arm_intervals(counts, {**_blocks(), (ARMS["grouped"],): one_block}, SETTINGS_B)
    single = judged.estimate(MODEL, "iou", dataset=ARMS["grouped"])
    assert single["low"] == pytest.approx(single["value"]) == pytest.approx(single["high"])  # one block: no spread
    alone = judged.estimate(MODEL, "iou", dataset=ARMS["filtered"])
    assert alone["low"] < alone["value"] < alone["high"]
    estimates = judged.estimates.rename(columns={"configuration": "model"})
    table = estimates.pivot_table(index=["model", "dataset"], columns="metric", values="value").reset_index()
    recorded = record_table(table, judged).set_index(["model", "dataset"])
    assert {"IoU", "IoU low", "IoU high", "mIoU low", "OA high"} <= set(recorded.columns)
    assert recorded.loc[(MODEL, ARMS["filtered"]), "IoU low"] == pytest.approx(alone["low"])
    verdicts = paper_verdicts(judged, published_long(6, ["dataset", "model"]))
    assert len(verdicts) == 12 and set(verdicts["dataset"]) == {ARMS["unfiltered"], ARMS["filtered"]}
    assert "of 12 published values lie inside this run's interval" in verdict_counts(verdicts, synthetic=True)


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


def test_the_settings_pass_the_steps_per_epoch_to_every_arm():
    assert SETTINGS.train_config().steps_per_epoch is None
    cut = QCSettings(**{**SETTINGS.as_parameters(), "steps_per_epoch": 1})
    assert cut.train_config().steps_per_epoch == 1 and cut.as_parameters()["steps_per_epoch"] == 1
