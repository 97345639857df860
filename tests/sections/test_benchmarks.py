"""The benchmarks page's own logic: every sentence it prints about a run comes from the run's configuration and scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from landslide_core.book.compare import paper_vs_run
from landslide_core.errors import ConfigError, GridError
from landslide_core.eval.paper import consistency
from landslide_core.experiments.table5 import GridRun, table5
from landslide_core.scoring import SCORE_COLUMNS
from landslide_core.sections.benchmarks import (
    GridSettings,
    baseline_verdicts,
    benchmark_cells,
    checkpoints_note,
    consistency_summary,
    exceptions_note,
    grid_configs,
    missing_note,
    not_learned,
    prepare_splits,
    run_benchmarks,
    runs_directory,
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
    assert settings.as_parameters() == {**DEMO, "split": "random", "lr": 0.01, "val_every": 1, "per_model": {}}
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


def _scores(groups: list[str], models: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [{"model": m, "group": g, "subdataset": "", "tiles": 5, "trained_on": g, "seed": 0,
             **{c: float(rng.uniform(10, 90)) for c in SCORE_COLUMNS}} for g in groups for m in models]
    rows += [{"model": "FCN", "group": "UAV", "subdataset": "longxi-uav", "tiles": 3, "trained_on": "UAV", "seed": 0,
              **{c: 50.0 for c in SCORE_COLUMNS}}]
    baselines = {"all landslide": (10.0, 5.0), "all background": (0.0, 45.0), "threshold rule": (30.0, 55.0)}
    rows += [{"model": name, "group": g, "subdataset": "", "tiles": 5, "trained_on": g, "seed": 0,
              **{c: 50.0 for c in SCORE_COLUMNS}, "iou": iou, "miou": miou}
             for g in groups for name, (iou, miou) in baselines.items()]
    return pd.DataFrame(rows)


def test_the_summary_is_computed_from_scores_and_settings(tmp_path):
    scores = _scores(["UAV", "SAT", "UAV&SAT"], ["FCN", "U-Net"])
    scores.loc[(scores["model"] == "FCN") & (scores["group"] == "UAV") & (scores["subdataset"] == ""),
               ["iou", "miou"]] = [35.0, 60.0]
    scores.loc[(scores["model"] == "U-Net") & (scores["group"] == "UAV"), ["iou", "miou"]] = [12.0, 40.0]
    comparison = paper_vs_run(table5(scores), 5, run_label="this run")
    settings = GridSettings(**DEMO)
    text = summary(scores, comparison, settings, grid_runs(settings, tmp_path), synthetic=True, data_root=tmp_path)
    assert ("- **UAV**: baselines (landslide IoU / mIoU) all landslide 10.0 / 5.0 %, all background 0.0 / 45.0 %, "
            "threshold rule 30.0 / 55.0 %. Models that beat all landslide: FCN, U-Net; all background: FCN; "
            "threshold rule: FCN. Highest landslide IoU: FCN's 35.0 %, 3.5 × all landslide's.") in text
    assert ("- **Not a result: U-Net on UAV** scores no better than predicting one class everywhere (its mIoU 40.0 % "
            "not more than 1 point above all background's 45.0 %, the better constant)") in text
    paper_best = "FCN" if comparison.loc[("FCN", "UAV"), ("IoU", "paper")] > comparison.loc[("U-Net", "UAV"), ("IoU", "paper")] else "U-Net"
    assert f"the highest landslide IoU among the same models is {paper_best}'s in UAV" in text  # not DeepLabV3+
    assert f"synthetic demo tiles ({describe_training([r.config for r in grid_runs(settings, tmp_path)])})" in text
    on_gpu = GridSettings(**{**DEMO, "device": "cuda", "pretrained": True})
    real = summary(scores, comparison, settings, grid_runs(on_gpu, tmp_path), synthetic=False, data_root=tmp_path)
    assert "on device `cuda`" in real and "on the CPU" not in real and "ImageNet-pretrained" in real
    assert "the 1 of 16 sub-datasets found" in real and "(3 validation tiles in all)" in real
    assert "“randomly split each subdataset into training and validation sets at a 7:3 ratio”" in real
    assert "It states no epochs, batch size or learning-rate schedule" in real
    assert registry_attributions(text) == [] and registry_attributions(real) == []


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
    from tests.conftest import HOKKAIDO

    if not HOKKAIDO.is_dir():
        pytest.skip(f"real CAS sample not found at {HOKKAIDO}")
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
    table = pd.DataFrame([
        {"model": "all landslide", "group": "SAT", "iou": 16.5, "miou": 8.26},
        {"model": "FCN", "group": "SAT", "iou": 16.5, "miou": 8.30},  # predicts landslide almost everywhere
        {"model": "U-Net", "group": "SAT", "iou": 49.7, "miou": 68.5},
        {"model": "MFFENet", "group": "SAT", "iou": 16.0, "miou": 9.27},  # 1.01 points above, lower landslide IoU
    ])
    assert not_learned(table) == [("FCN", "SAT")]  # MFFENet is a result but does not beat all landslide
    assert "Models that beat all landslide: U-Net." in baseline_verdicts(table, "group")[1]


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
