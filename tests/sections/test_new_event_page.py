"""The new-event page: its plan outside the page (`landslide-core new-event`), and the sentences it computes.

The verdicts are tested on cases built to fool a reading of point estimates: a held-out model whose score is lower
than the in-region one on one tile only (its gap's interval holds 0), and k values whose point estimates pass the
in-region score before their intervals reach it.
"""

from __future__ import annotations

import pandas as pd
import pytest

from landslide_core.cli import main
from landslide_core.errors import ConfigError, GridError, ProfileError
from landslide_core.experiments.new_event import HELD_OUT, IN_REGION, RegionSplit, k_label
from landslide_core.scoring.intervals import BootstrapSettings, judge
from landslide_core.sections.new_event import (
    EventSettings,
    answers,
    demo_limits,
    missing_note,
    plan_event,
    regions_table,
    shots_table,
)

LOCATIONS = {"palu": "Palu", "luding": "Luding, Sichuan"}


def _tiles(configuration: str, region: str, hits: list[int]) -> list[dict]:
    """One row per tile: ``hit`` of 100 landslide pixels found (the rest missed), 100 background pixels right."""
    return [{"tile": f"{region}/t{i:02d}", "configuration": configuration, "region": region, "tp": hit,
             "fn": 100 - hit, "fp": 0, "tn": 100} for i, hit in enumerate(hits)]


def _judged():
    spread = [90, 20, 70, 40, 85, 30, 60, 50, 80, 25]
    rows = (
        # Palu: held-out equals in-region but on one tile; k = 5 equals in-region.
        _tiles(IN_REGION, "palu", spread) + _tiles(HELD_OUT, "palu", [10, *spread[1:]])
        + _tiles(k_label(5), "palu", spread)
        # Luding: held-out far below everywhere; k = 5 half as good, k = 20 equal.
        + _tiles(IN_REGION, "luding", spread) + _tiles(HELD_OUT, "luding", [h // 4 for h in spread])
        + _tiles(k_label(5), "luding", [h // 2 for h in spread]) + _tiles(k_label(20), "luding", spread)
    )
    pairs = [(IN_REGION, HELD_OUT), (IN_REGION, k_label(5)), (IN_REGION, k_label(20))]
    return judge(pd.DataFrame(rows), within=["region"], configuration="configuration",
                 settings=BootstrapSettings(resamples=2000, seed=1), pairs=pairs)


def test_a_gap_on_one_tile_is_not_called_a_gap_and_k_is_where_the_interval_reaches_in_region():
    judged = _judged()
    palu = judged.difference(IN_REGION, HELD_OUT, "iou", region="palu")
    assert palu["delta"] > 0 and palu["low"] <= 0  # a point estimate above 0, an interval holding it
    lines = answers(judged, LOCATIONS, shots=(0, 5, 20))
    assert lines[0].startswith("- **Palu**") and lines[1].startswith("- **Luding, Sichuan**")  # Table 4's order
    assert "not distinguishable from a model trained on the region's own labelled pool" in lines[0]
    assert "worse than" in lines[1]
    luding_5 = judged.estimate(k_label(5), "iou", region="luding")
    inside = judged.estimate(IN_REGION, "iou", region="luding")["value"]
    assert luding_5["high"] < inside  # k = 5 does not reach it: the answer is k = 20
    assert "fine-tuned on k = 20 labelled tiles, its interval reaches the in-region score" in lines[1]
    table = shots_table(judged, LOCATIONS, shots=(0, 5, 20))
    assert table.loc[("Luding, Sichuan", 20), "interval reaches in-region"] == "yes"
    assert table.loc[("Luding, Sichuan", 5), "interval reaches in-region"] == "no"
    assert list(table.loc["Palu"].index) == [0, 5]  # Palu ran no k = 20


def test_settings_refuse_a_negative_k():
    values = {"model": "unet", "epochs": 1, "batch_size": 2, "crop_size": 64, "val_crop_size": None,
              "pretrained": False, "device": "cpu", "num_workers": 0, "seeds": [0], "shots": [0, -5],
              "finetune_epochs": 1, "finetune_lr": 0.01, "data_root": None}
    with pytest.raises(ConfigError, match="0 or more"):
        EventSettings.from_parameters(values)


def test_the_plans_are_the_pages_runs_for_every_profile(demo_data, tmp_path):
    options = {"data_root": str(demo_data), "runs_dir": str(tmp_path / "runs")}
    demo = plan_event("demo", options)
    first = demo.splits[0]
    assert [s.region for s in first] == ["palu", "hokkaido", "luding", "longxi", "jiuzhai"]  # Table 4's order
    table = regions_table(first)
    assert table.loc["Luding, Sichuan", "evaluation tiles"] + table.loc["Luding, Sichuan", "labelled pool"] == 30
    shots = {(r.region, r.configuration) for r in demo.runs if r.configuration.startswith("k")}
    assert ("luding", k_label(20)) in shots and ("palu", k_label(20)) not in shots  # Palu's pool holds 7 tiles
    assert len(demo.runs) == 16 and {r.spec.config.model for r in demo.runs} == {"smp:Unet/resnet18"}
    paper = plan_event("paper", {**options, "runs_dir": str(tmp_path / "paper")})
    assert len(paper.runs) == 48 and not paper.settings.train
    assert {(r.spec.config.model, r.spec.config.pretrained) for r in paper.runs} == {("deeplabv3plus", True)}
    rehearsal = plan_event("rehearsal", {**options, "runs_dir": str(tmp_path / "rehearsal")})
    assert {(r.spec.config.steps_per_epoch, r.spec.config.epochs) for r in rehearsal.runs} == {(1, 1)}
    with pytest.raises(ProfileError, match="-p data_root"):
        plan_event("paper")
    with pytest.raises(GridError, match="not parameters of the new_event page"):
        plan_event("demo", {**options, "k": [1]})


def test_the_command_lists_the_runs_and_refuses_what_it_cannot_do(demo_data, tmp_path, capsys):
    options = ["--profile", "demo", "-p", "data_root", str(demo_data), "-p", "runs_dir", str(tmp_path / "runs"),
               "-p", "regions", "[palu, hokkaido]", "-p", "shots", "[0, 5]"]
    assert main(["new-event", *options]) == 0
    listing = capsys.readouterr().out
    assert "6 runs in 4 chains" in listing and "6 missing" in listing
    assert main(["new-event", *options, "--chain", "9"]) == 1
    assert "no chain 9: this plan has chains 0 to 3" in capsys.readouterr().err
    assert main(["new-event", *options, "--submit", "--executor", "local", "--gpus-per-job", "2"]) == 1
    assert "one GPU" in capsys.readouterr().err


def test_missing_runs_are_named_with_the_command_that_runs_them(demo_data, tmp_path):
    plan = plan_event("demo", {"data_root": str(demo_data), "runs_dir": str(tmp_path), "regions": ["palu", "luding"],
                               "shots": [0]})
    note = missing_note(plan.runs, len(plan.runs), profile="paper", data_root=demo_data)
    assert note.startswith("**4 of 4 runs have not finished**") and "palu, held-out, seed 0" in note
    assert f"landslide-core new-event --profile paper -p data_root {demo_data} --submit" in note
    assert missing_note([], 4, profile="demo", data_root=None) == ""


def test_the_limits_name_the_region_with_the_fewest_leakage_groups(tmp_path):
    def split(region: str, location: str, groups: int) -> RegionSplit:
        tiles = tuple(f"{region}/t{i}" for i in range(12))
        return RegionSplit(region, location, 0, tiles, (), (), 0, {t: str(i % groups) for i, t in enumerate(tiles)},
                           tmp_path, tmp_path)

    settings = EventSettings(model="unet", epochs=50, batch_size=8, crop_size=None, val_crop_size=None,
                             pretrained=True, device="cuda", num_workers=0, seeds=(0,))
    splits = [split("palu", "Palu", 1), split("luding", "Luding, Sichuan", 12)]
    note = demo_limits(settings, splits, synthetic=False)
    assert "of 2 of the 2 regions form fewer than 30 leakage groups (Palu: 1)" in note and "zero width" in note
    assert "synthetic" not in note and "epoch" not in note  # real data, 50 epochs: not said
    assert demo_limits(settings, [split("palu", "Palu", 12)] * 3, synthetic=False).count("fewer than 30") == 1
