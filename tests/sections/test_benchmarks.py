"""The benchmarks page's own logic: every sentence it prints about a run comes from the run's parameters and scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from landslide_core.book.compare import paper_vs_run
from landslide_core.errors import ConfigError
from landslide_core.eval.paper import consistency
from landslide_core.experiments.table5 import table5
from landslide_core.scoring import SCORE_COLUMNS
from landslide_core.sections import benchmarks
from landslide_core.sections.benchmarks import (
    GridSettings,
    consistency_summary,
    run_benchmarks,
    runs_directory,
    summary,
)

DEMO = dict(models=["fcn", "unet"], groups=["UAV", "SAT", "UAV&SAT"], epochs=2, batch_size=8, crop_size=64,
            val_crop_size=128, seeds=[0], pretrained=False, device="cpu", num_workers=0, keep_checkpoints=False)


def test_the_training_sentence_follows_the_parameters():
    demo = GridSettings(**DEMO)
    assert demo.describe() == ("randomly initialised backbones (no pre-training); 2 epoch(s) of batch 8 on 64-px crops, "
                               "validated on the central 128-px crop of each tile; a random 7:3 split per sub-dataset, as the "
                               "paper; 1 seed(s); on the CPU")
    paper = GridSettings(**{**DEMO, "pretrained": True, "device": "cuda", "crop_size": None, "val_crop_size": None,
                            "seeds": [0, 1, 2]})
    assert paper.describe() == ("ImageNet-pretrained backbones; 2 epoch(s) of batch 8 on full tiles, validated on full "
                                "tiles; a random 7:3 split per sub-dataset, as the paper; 3 seed(s); on device `cuda`")
    assert "a grouped 7:3 split per sub-dataset (no validation tile shares pixels with a training tile)" in GridSettings(
        **{**DEMO, "split": "grouped"}).describe()
    with pytest.raises(ConfigError, match="split must be one of random, grouped, not 'spatial'"):
        GridSettings(**{**DEMO, "split": "spatial"})
    assert "backbones initialised from `/w/resnet50.pth`" in GridSettings(**{**DEMO, "pretrained": "/w/resnet50.pth"}).describe()


def test_settings_give_the_training_config_the_parameters_and_the_checkpoints_to_keep(tmp_path):
    settings = GridSettings(**DEMO)
    config = settings.train_config()
    assert (config.epochs, config.batch_size, config.crop_size, config.val_crop_size, config.pretrained,
            config.device) == (2, 8, 64, 128, False, "cpu")
    assert settings.as_parameters() == {**DEMO, "split": "random"}
    keep = settings.keep_rule()
    assert keep("fcn", "UAV&SAT", 0) and not keep("fcn", "UAV", 0) and not keep("fcn", "UAV&SAT", 1)
    assert GridSettings(**{**DEMO, "keep_checkpoints": True}).keep_rule() is None
    assert GridSettings(**{**DEMO, "groups": ["UAV", "SAT"]}).shown_group == "SAT"
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


def _scores(groups: list[str], models: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [{"model": m, "group": g, "subdataset": "", "tiles": 5, "trained_on": g, "seed": 0,
             **{c: float(rng.uniform(10, 90)) for c in SCORE_COLUMNS}} for g in groups for m in models]
    rows += [{"model": "FCN", "group": "UAV", "subdataset": "longxi-uav", "tiles": 3, "trained_on": "UAV", "seed": 0,
              **{c: 50.0 for c in SCORE_COLUMNS}}]
    return pd.DataFrame(rows)


def test_the_summary_is_computed_from_scores_and_settings(tmp_path):
    scores = _scores(["UAV", "SAT", "UAV&SAT"], ["FCN", "U-Net"])
    comparison = paper_vs_run(table5(scores), 5, run_label="this run")
    settings = GridSettings(**DEMO)
    text = summary(scores, comparison, settings, synthetic=True, data_root=tmp_path)
    ours = table5(scores).set_index(["model", "group"])
    best_uav = ours.xs("UAV", level="group")["iou"].idxmax()
    assert f"- **UAV**: the highest landslide IoU in this run is {best_uav}'s ({ours.loc[(best_uav, 'UAV'), 'iou']:.1f} %)" in text
    paper_best = "FCN" if comparison.loc[("FCN", "UAV"), ("IoU", "paper")] > comparison.loc[("U-Net", "UAV"), ("IoU", "paper")] else "U-Net"
    assert f"among the same models in the paper it is {paper_best}'s." in text  # not DeepLabV3+, which did not run
    assert f"synthetic demo tiles ({settings.describe()})" in text
    on_gpu = GridSettings(**{**DEMO, "device": "cuda", "pretrained": True})
    real = summary(scores, comparison, on_gpu, synthetic=False, data_root=tmp_path)
    assert "on device `cuda`" in real and "on the CPU" not in real and "ImageNet-pretrained" in real
    assert "the 1 of 16 sub-datasets found" in real and "(3 validation tiles in all)" in real


def test_a_grouped_grid_writes_each_seeds_grouped_manifest_before_training(monkeypatch, tmp_path):
    """The grid itself is replaced: what matters here is the manifest it is handed."""
    from tests.conftest import HOKKAIDO

    if not HOKKAIDO.is_dir():
        pytest.skip(f"real CAS sample not found at {HOKKAIDO}")
    seen = {}
    monkeypatch.setattr(benchmarks, "run_grid", lambda root, runs_dir, **kw: seen.update(runs_dir=runs_dir) or [])
    settings = GridSettings(**{**DEMO, "split": "grouped", "seeds": [0, 1]})
    run_benchmarks(HOKKAIDO.parent, tmp_path, settings)
    from landslide_core.data.splits import read_manifest

    for seed in (0, 1):
        split = {r.name: r.split for r in read_manifest(tmp_path / f"split-seed{seed}.csv", HOKKAIDO.parent)}
        for a, b in (("10301", "10340"), ("10303", "10340"), ("10509", "10555"), ("10784", "10785")):
            assert {split[a], split[b]} != {"train", "val"}  # tiles sharing a quadrant never straddle the split
        assert sum(s == "val" for s in split.values()) == 7
    assert seen["runs_dir"] == tmp_path
