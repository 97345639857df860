"""The benchmarks page's own logic: every sentence it prints about a run comes from the run's configuration and scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from landslide_core.book.compare import paper_vs_run
from landslide_core.errors import ConfigError, GridError
from landslide_core.eval.paper import consistency
from landslide_core.experiments.table5 import GridRun
from landslide_core.scoring.intervals import BootstrapSettings, Judged, format_interval, judge
from landslide_core.sections.benchmarks import (
    GridSettings,
    baseline_table,
    baseline_verdicts,
    benchmark_cells,
    checkpoints_note,
    comparison_html,
    consistency_summary,
    exceptions_note,
    grid_configs,
    interval_note,
    missing_note,
    model_comparisons,
    model_differences,
    not_learned,
    prepare_splits,
    run_benchmarks,
    runs_directory,
    split_baselines,
    step_times,
    summary,
)
from landslide_core.sections.training_text import describe_training
from landslide_core.sources.cas.demo import write_demo_data
from tests.attribution import registry_attributions

DEMO = dict(models=["fcn", "unet"], groups=["UAV", "SAT", "UAV&SAT"], epochs=2, batch_size=8, crop_size=64,
            val_crop_size=128, seeds=[0], pretrained=False, device="cpu", num_workers=0, keep_checkpoints=False)


def test_per_model_exceptions_give_each_model_its_training_config():
    reduced = GridSettings(**{**DEMO, "lr": 0.05, "val_every": 5,
                              "per_model": {"fcn": {"groups": ["UAV&SAT"], "epochs": 1}, "unet": {"epochs": 3, "lr": 0.01}}})
    assert reduced.train_config_of("unet").lr == 0.01 and reduced.train_config_of("fcn").lr == 0.05
    assert reduced.train_config_of("fcn").epochs == 1 and reduced.train_config_of("unet").val_every == 5
    assert reduced.groups_of("fcn") == ("UAV&SAT",) and reduced.groups_of("unet") == ("UAV", "SAT", "UAV&SAT")
    assert (reduced.epochs_of("fcn"), reduced.epochs_of("unet")) == (1, 3)
    assert reduced.as_parameters()["per_model"] == {"fcn": {"epochs": 1, "groups": ["UAV&SAT"]},
                                                    "unet": {"epochs": 3, "lr": 0.01}}
    with pytest.raises(ConfigError, match=r"per_model names model\(s\) \['mffenet'\] not in models"):
        GridSettings(**{**DEMO, "per_model": {"mffenet": {"groups": ["SAT"]}}})
    with pytest.raises(ConfigError, match=r"group\(s\) \['SAT\+UAV'\] not in groups"):
        GridSettings(**{**DEMO, "per_model": {"fcn": {"groups": ["SAT+UAV"]}}})
    with pytest.raises(ConfigError, match=r"setting\(s\) \['batch_size'\]"):
        GridSettings(**{**DEMO, "per_model": {"fcn": {"batch_size": 4}}})
    built = GridSettings(**{**DEMO, "per_model": {"fcn": {"model_options": {"batch_norm": True}}}})
    assert built.train_config_of("fcn").model_options == {"batch_norm": True}
    assert built.train_config_of("unet").model_options == {}
    assert built.as_parameters()["per_model"] == {"fcn": {"model_options": {"batch_norm": True}}}
    assert hash(built) == hash(GridSettings(**{**DEMO, "per_model": {"fcn": {"model_options": {"batch_norm": True}}}}))
    small = GridSettings(**{**DEMO, "per_model": {"fcn": {"crop_size": 32}}})
    assert small.train_config_of("fcn").crop_size == 32 and small.train_config_of("unet").crop_size == 64
    with pytest.raises(ConfigError, match="split must be one of random, grouped, not 'spatial'"):
        GridSettings(**{**DEMO, "split": "spatial"})


def grid_runs(settings: GridSettings, folder: Path) -> list[GridRun]:
    """Runs as the grid would read them back: each with the ``config.json`` its configuration saves."""
    return [GridRun(c.model, c.group, c.seed, folder, pd.DataFrame(), pd.DataFrame(), None,
                    {**c.to_dict(), "split": settings.split}) for c in grid_configs(settings)]


def test_settings_give_the_training_config_the_parameters_and_the_checkpoints_to_keep(tmp_path):
    settings = GridSettings(**DEMO)
    config = settings.train_config()
    assert (config.epochs, config.batch_size, config.crop_size, config.val_crop_size, config.pretrained,
            config.device) == (2, 8, 64, 128, False, "cpu")
    assert settings.as_parameters() == {**DEMO, "split": "random", "lr": 0.01, "val_every": 1, "per_model": {},
                                        "steps_per_epoch": None}
    assert GridSettings(**{**DEMO, "steps_per_epoch": 1}).train_config_of("fcn").steps_per_epoch == 1
    keep = settings.keep_rule()
    assert keep("fcn", "UAV&SAT", 0) and not keep("fcn", "UAV", 0) and not keep("fcn", "UAV&SAT", 1)
    assert GridSettings(**{**DEMO, "keep_checkpoints": True}).keep_rule() is None
    assert GridSettings(**{**DEMO, "groups": ["UAV", "SAT"]}).shown_group == "UAV"
    assert settings.shown_group == "UAV&SAT"
    assert GridSettings(**{**DEMO, "per_model": {"fcn": {"groups": ["SAT"]}}}).shown_group == "SAT"
    assert runs_directory(tmp_path, None).parent == tmp_path / "runs" and runs_directory(tmp_path, "x") == Path("x")


def test_the_consistency_sentence_names_the_rows_the_table_shows():
    table = consistency(5)
    text = consistency_summary(table)
    fits = table[table["largest |deviation|"] < 0.01]
    assert sorted(zip(fits["model"], fits["group"], strict=True)) == [
        ("DeepLabV3+", "SAT"), ("DeepLabV3+", "UAV"), ("MFFENet", "SAT"), ("MFFENet", "UAV")]
    assert text.startswith("4 of 12 rows fit one confusion matrix to rounding")
    worst = table.loc[table["largest |deviation|"].idxmax()]
    assert (worst["model"], worst["group"]) == ("U-Net", "SAT")
    assert f"{worst['largest |deviation|']:.3f} points (most: U-Net SAT)" in text
    assert "pooling them, as this book does, is our reading" in text
    assert registry_attributions(text) == []


FAST = BootstrapSettings(resamples=2_000, seed=1)
PIXELS = 10_000
"""Pixels per tile: 1,000 landslide and 9,000 background in every tile below."""


def _rows(model: str, group: str, counts: list[list[int]] | np.ndarray) -> pd.DataFrame:
    """Per-tile rows of ``model`` in ``group``: one (TP, FP, FN, TN) per tile, tiles named <group>-<i>."""
    frame = pd.DataFrame(np.asarray(counts, np.int64), columns=["tp", "fp", "fn", "tn"])
    return frame.assign(model=model, group=group, tile=[f"{group}-{i}" for i in range(len(frame))])


def _finds(share: np.ndarray | float, tiles: int, false_alarms: int = 100) -> np.ndarray:
    """Counts of a model that finds ``share`` of each tile's 1,000 landslide pixels, with ``false_alarms``."""
    tp = np.round(1000 * np.broadcast_to(share, tiles)).astype(np.int64)
    return np.stack([tp, np.full(tiles, false_alarms), 1000 - tp, np.full(tiles, 9000 - false_alarms)], axis=1)


def _baselines(group: str, tiles: int) -> list[pd.DataFrame]:
    """All landslide (10.0 / 5.0 %), all background (0.0 / 45.0 %) and a rule finding half with 500 false alarms."""
    return [_rows("all landslide", group, [[1000, 9000, 0, 0]] * tiles),
            _rows("all background", group, [[0, 0, 1000, 9000]] * tiles),
            _rows("threshold rule", group, _finds(0.5, tiles, 500))]


def _judged() -> Judged:
    """UAV: FCN finds 80 % on every tile, U-Net predicts background everywhere (no result). SAT: three tiles that
    disagree. UAV&SAT: FCN clearly above U-Net on 40 tiles."""
    rng = np.random.default_rng(0)
    disagreeing = ([[900, 100, 100, 8900], [300, 100, 700, 8900], [880, 100, 120, 8900]],
                   [[500, 100, 500, 8900], [700, 100, 300, 8900], [500, 100, 500, 8900]])
    frame = pd.concat([
        _rows("FCN", "UAV", _finds(0.8, 10)), _rows("U-Net", "UAV", [[0, 0, 1000, 9000]] * 10), *_baselines("UAV", 10),
        _rows("FCN", "SAT", disagreeing[0]), _rows("U-Net", "SAT", disagreeing[1]), *_baselines("SAT", 3),
        _rows("FCN", "UAV&SAT", _finds(np.clip(0.8 + rng.normal(0, 0.05, 40), 0, 1), 40)),
        _rows("U-Net", "UAV&SAT", _finds(np.clip(0.5 + rng.normal(0, 0.05, 40), 0, 1), 40)), *_baselines("UAV&SAT", 40),
    ])
    return judge(frame, within=["group"], settings=FAST)


def _table5_rows(judged: Judged) -> pd.DataFrame:
    """Table 5 rows (model, group, scores) of the judged point values."""
    return (judged.estimates.pivot_table(index=["configuration", "group"], columns="metric", values="value", sort=False)
            .rename_axis(index=["model", "group"], columns=None).reset_index())


def _scores(rows: pd.DataFrame) -> pd.DataFrame:
    """:func:`scores_frame`-like rows: the group rows and one sub-dataset row of three tiles."""
    subdataset = rows.iloc[[0]].assign(subdataset="longxi-uav", tiles=3)
    return pd.concat([rows.assign(subdataset="", tiles=5, trained_on=rows["group"], seed=0), subdataset])


def test_the_summary_is_computed_from_scores_and_settings(tmp_path):
    judged = _judged()
    rows = _table5_rows(judged)
    comparison = paper_vs_run(rows, 5, run_label="this run")
    settings = GridSettings(**DEMO)
    text = summary(_scores(rows), judged, comparison, settings, grid_runs(settings, tmp_path), synthetic=True,
                   data_root=tmp_path)
    assert ("- **UAV**: baselines (landslide IoU / mIoU) all landslide 10.0 / 5.0 %, all background 0.0 / 45.0 %, "
            "threshold rule 33.3 / 61.4 %. Models that beat all landslide: FCN; all background: FCN; threshold rule: "
            "FCN. Highest landslide IoU: FCN's 72.7 %, 7.3 × all landslide's.") in text
    assert ("- **Not a result: U-Net on UAV**: on these tiles it cannot be told apart from predicting one class "
            "everywhere (its mIoU 45.0 % against all background's 45.0 %, the better constant: Δ mIoU +0.0 points, "
            "95 % interval [+0.0, +0.0], not above 0)") in text
    assert "- **UAV**: FCN beats U-Net (Δ landslide IoU +72.7 points, 95 % interval [+72.7, +72.7])." in text
    assert "- **SAT**: FCN and U-Net are not distinguishable on these tiles (Δ landslide IoU +11.5 points" in text
    assert "- **UAV&SAT**: FCN beats U-Net (Δ landslide IoU +" in text
    paper_best = "FCN" if comparison.loc[("FCN", "UAV"), ("IoU", "paper")] > comparison.loc[("U-Net", "UAV"), ("IoU", "paper")] else "U-Net"
    assert f"the highest landslide IoU among the same models is {paper_best}'s in UAV" in text  # not DeepLabV3+
    assert f"trained on synthetic tiles ({describe_training([r.config for r in grid_runs(settings, tmp_path)])})" in text
    on_gpu = GridSettings(**{**DEMO, "device": "cuda", "pretrained": True})
    real = summary(_scores(rows), judged, comparison, settings, grid_runs(on_gpu, tmp_path), synthetic=False,
                   data_root=tmp_path)
    assert "on device `cuda`" in real and "on the CPU" not in real and "ImageNet-pretrained" in real
    assert "the 1 of 16 sub-datasets found" in real and "(3 validation tiles in all)" in real
    assert "“randomly split each subdataset into training and validation sets at a 7:3 ratio”" in real
    assert "It states no epochs, batch size or learning-rate schedule" in real
    assert registry_attributions(text) == [] and registry_attributions(real) == []


def test_a_group_with_one_model_says_there_is_nothing_to_compare(tmp_path):
    judged = judge(pd.concat([_rows("FCN", "UAV", _finds(0.8, 10)), *_baselines("UAV", 10)]), within=["group"],
                   settings=FAST)
    rows = _table5_rows(judged)
    settings = GridSettings(**{**DEMO, "groups": ["UAV"]})
    text = summary(_scores(rows), judged, paper_vs_run(rows, 5, run_label="this run"), settings,
                   grid_runs(settings, tmp_path), synthetic=True, data_root=tmp_path)
    assert "- **UAV**: only FCN was trained on this group, so no model is compared with it." in text
    assert model_differences(judged).empty and model_comparisons(judged, "UAV") == []


def test_model_differences_give_every_pair_its_interval_and_verdict():
    judged = _judged()
    table = model_differences(judged)
    assert list(table.index) == [("UAV", "FCN", "U-Net"), ("SAT", "FCN", "U-Net"), ("UAV&SAT", "FCN", "U-Net")]
    assert list(table.columns) == ["Δ = A − B", "verdict"]
    assert table["verdict"].tolist() == ["A beats B", "not distinguishable", "A beats B"]
    assert table.loc[("UAV", "FCN", "U-Net"), "Δ = A − B"] == "72.7 [72.7, 72.7]"
    sat = judged.difference("FCN", "U-Net", "iou", group="SAT")
    assert table.loc[("SAT", "FCN", "U-Net"), "Δ = A − B"] == format_interval(sat["delta"], sat["low"], sat["high"])
    assert sat["low"] < 0 < sat["high"]  # an 11-point gain carried by three tiles that disagree
    miou = model_differences(judged, "miou")
    assert miou.loc[("UAV", "FCN", "U-Net"), "verdict"] == "A beats B"


def test_the_ranking_says_both_kinds_of_verdict_where_both_occur():
    """A, B and C on 40 tiles: each next to the other is not distinguishable, but A beats C."""
    tiles = 40
    alternating = np.tile([1.0, 0.5], tiles // 2)  # B: 75 % on average, far from A and C tile by tile
    frame = pd.concat([_rows("A", "SAT", _finds(0.8, tiles)), _rows("B", "SAT", _finds(alternating, tiles)),
                       _rows("C", "SAT", _finds(0.7, tiles)), *_baselines("SAT", tiles)])
    judged = judge(frame, within=["group"], settings=FAST)
    said = model_comparisons(judged, "SAT")
    assert [s.split(" (")[0] for s in said] == ["A and B are not distinguishable on these tiles",
                                                "B and C are not distinguishable on these tiles", "A beats C"]
    assert said[2].startswith("A beats C (Δ landslide IoU +9.1 points, 95 % interval [+9.1, +9.1]")


def test_the_baseline_table_and_the_interval_note_say_what_is_judged():
    judged = _judged()
    table = baseline_table(judged)
    assert list(table.columns) == ["Δ mIoU", "Δ IoU", "beats"]
    assert table.loc[("UAV", "U-Net", "all background")].tolist() == ["0.0 [0.0, 0.0]", "0.0 [0.0, 0.0]", "no"]
    assert table.loc[("UAV", "FCN", "threshold rule"), "beats"] == "yes"
    one = interval_note(FAST, 1)
    assert one.startswith("Intervals: 95 % intervals from 2,000 block-bootstrap resamples (seed 1).")
    assert "One seed was run, so it leaves out how much another training run would differ" in one
    assert "does not cover the choice of validation region" in one
    several = interval_note(FAST, 3)
    assert "and so are the 3 seeds' training runs" in several and "One seed" not in several
    assert registry_attributions(one) == [] and registry_attributions(several) == []


def test_wide_interval_tables_are_split_to_fit_the_page():
    judged = _judged()
    rows = _table5_rows(judged)
    comparison = paper_vs_run(rows, 5, run_label="this run",
                              intervals=judged.estimates.rename(columns={"configuration": "model"}))
    html = comparison_html(comparison, caption="Paper Table 5 and this run (%)", flagged=not_learned(judged))
    assert html.count("Paper Table 5 and this run (%): UAV, SAT</strong>") == 1
    assert html.count("Paper Table 5 and this run (%): UAV&amp;SAT</strong>") == 1
    view = pd.DataFrame({"U-Net": ["1.0 [0.0, 2.0]"], "all landslide": ["2.0 [1.0, 3.0]"]}, index=["palu"])
    split = split_baselines({"Trained on SAT": view})
    assert list(split) == ["Trained on SAT: models", "Trained on SAT: baselines"]
    assert list(split["Trained on SAT: models"].columns) == ["U-Net"]


def test_step_times_give_the_measured_speed_and_how_each_model_trained_from_its_runs(tmp_path):
    settings = GridSettings(**{**DEMO, "per_model": {"fcn": {"groups": ["UAV&SAT"], "epochs": 1}}})
    histories = pd.DataFrame({"model": ["FCN", "FCN", "U-Net", "U-Net", "U-Net"], "group": ["UAV&SAT"] * 2 + ["UAV"] * 3,
                              "images_per_s": [2.0, 6.0, 16.0, 20.0, 100.0]})
    table = step_times(histories, grid_runs(settings, tmp_path))
    assert table.loc["FCN", "images / s"] == 4.0 and table.loc["FCN", "s per step"] == 2.0
    assert table.loc["U-Net", "images / s"] == 20.0 and table.loc["U-Net", "trained on"] == "UAV, SAT, UAV&SAT"
    assert table.loc["FCN", "trained on"] == "UAV&SAT" and table.loc["FCN", "epochs"] == "1"
    assert table.loc["U-Net", "epochs"] == "2" and table.loc["U-Net", "learning rate"] == "0.01"
    assert exceptions_note(table) == (
        "The models trained with different settings (read from their runs' `config.json`): FCN on UAV&SAT, 1 epoch(s) "
        "from learning rate 0.01 on crops of 64 px; U-Net on UAV, SAT, UAV&SAT, 2 epoch(s) from learning rate 0.01 on "
        "crops of 64 px. The measured cost of one training step on this run's device: 2.00 s for FCN (batch 8), "
        "0.40 s for U-Net (batch 8).")
    alike = GridSettings(**{**DEMO, "groups": ["SAT"]})
    assert exceptions_note(step_times(histories, grid_runs(alike, tmp_path))) == ""


def test_a_grouped_grid_writes_each_seeds_grouped_manifest_before_training(tmp_path):
    """Collected without training (and refused, as nothing finished): what matters is the manifests it wrote."""
    from tests.conftest import HOKKAIDO  # the real sample, shipped in every clone

    settings = GridSettings(**{**DEMO, "split": "grouped", "seeds": [0, 1]})
    with pytest.raises(GridError, match="no run of the grid .* has finished"):  # collect only: nothing trains
        run_benchmarks(HOKKAIDO.parent, tmp_path, settings, train=False)
    from landslide_core.data.splits import read_manifest

    for seed in (0, 1):
        split = {r.name: r.split for r in read_manifest(tmp_path / f"split-seed{seed}.csv", HOKKAIDO.parent)}
        for a, b in (("10301", "10340"), ("10303", "10340"), ("10509", "10555"), ("10784", "10785")):
            assert {split[a], split[b]} != {"train", "val"}  # tiles sharing a quadrant never straddle the split
        assert sum(s == "val" for s in split.values()) == 7


def test_a_model_a_hair_above_all_landslide_has_learned_nothing():
    """FCN predicts landslide almost everywhere: a few hundredths of a point above all landslide's mIoU, far below
    all background's, the better constant."""
    almost_everywhere = [[1000, 8990, 0, 10]] * 20
    frame = pd.concat([_rows("FCN", "SAT", almost_everywhere), _rows("U-Net", "SAT", _finds(0.8, 20)),
                       *_baselines("SAT", 20)])
    judged = judge(frame, within=["group"], settings=FAST)
    assert not_learned(judged) == [("FCN", "SAT")]
    assert 0 < judged.difference("FCN", "all landslide", "miou", group="SAT")["delta"] < 0.1
    # the hair is there on every tile, so FCN does beat all landslide; it is no result all the same
    assert "Models that beat all landslide: FCN, U-Net; all background: U-Net; threshold rule: U-Net." in (
        baseline_verdicts(judged)[1])


def test_a_partly_collected_grid_names_its_missing_cells_and_the_command_that_runs_them(tmp_path):
    settings = GridSettings(**DEMO)
    root = write_demo_data(tmp_path / "data", subdatasets=["longxi-uav", "hokkaido"], tiles_per_subdataset=2,
                           progress=False)
    prepare_splits(root, tmp_path, settings)
    cells = benchmark_cells(tmp_path, settings, root)
    note = missing_note(cells[1:3], len(cells), profile="paper", data_root=Path("/data/CAS"))
    assert note.startswith(f"**2 of {len(cells)} runs of the grid have not finished**")
    assert "cells 1 (U-Net, UAV, seed 0), 2 (FCN, SAT, seed 0)" in note
    assert "`landslide-core grid --profile paper -p data_root /data/CAS --submit`" in note
    assert "data_root" not in missing_note(cells[:1], len(cells), profile="demo", data_root=None)
    assert missing_note([], len(cells), profile="demo", data_root=None) == ""


def test_runs_without_checkpoints_say_why_no_predictions_are_drawn(tmp_path):
    kept = GridRun("unet", "SAT", 0, tmp_path, pd.DataFrame(), pd.DataFrame(), tmp_path / "best.pt")
    unpacked = GridRun("fcn", "SAT", 0, tmp_path, pd.DataFrame(), pd.DataFrame(), None)
    assert checkpoints_note([kept]) == ""
    assert checkpoints_note([kept, unpacked]).startswith("No example predictions: FCN on SAT, seed 0 kept no checkpoint")
    assert checkpoints_note([]).startswith("No example predictions: no run of this group finished")
