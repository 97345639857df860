"""The Table 7 experiment: training sets from several sources, held-out parts, every model on every part."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from landslide_core.book import paper_vs_run
from landslide_core.data.splits import read_manifest
from landslide_core.errors import BaselineError, ConfigError, ManifestError
from landslide_core.eval import evaluation
from landslide_core.experiments import table7 as t7
from landslide_core.scoring.intervals import BootstrapSettings, distinguishable
from landslide_core.scoring.metrics import scores_from_counts
from landslide_core.sources import bijie, hrgldd
from landslide_core.sources.cas.demo import write_demo_data
from landslide_core.train.checkpoints import load_checkpoint
from tests.train.test_training import one_thread, tiny_config  # noqa: F401 (one_thread: autouse fixture)

CAS_SUBDATASETS = ["moxitaidi-sat", "moxitaidi-uav-1m", "longxi-uav", "hokkaido"]
CAS_PART = "CAS (Moxitaidi)"
SETTINGS = BootstrapSettings(resamples=2000, seed=0)
Counts = tuple[int, int, int, int]


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("table7")
    return {
        "cas": write_demo_data(folder / "cas", subdatasets=CAS_SUBDATASETS, tiles_per_subdataset=2, progress=False),
        "bijie": bijie.write_stand_in(folder / "bijie", landslide=6, non_landslide=0),
        "hr-gldd": hrgldd.write_stand_in(folder / "hr-gldd", train=4, val=2, test=2),
    }


def _sets(roots: dict[str, Path], splits: Path, seed: int = 0) -> list[t7.TrainingSet]:
    public = {"bijie": roots["bijie"], "hr-gldd": roots["hr-gldd"]}
    return t7.training_sets(roots["cas"], public, splits, seed=seed, cas_groups=["UAV", "UAV&SAT"])


def test_each_dataset_gets_a_held_out_part_and_cas_holds_out_moxitaidi(roots, tmp_path):
    sets = _sets(roots, tmp_path)
    assert [(s.key, s.label, s.group) for s in sets] == [
        ("bijie", "Bijie", "all"), ("hr-gldd", "HR-GLDD", "all"), ("cas-uav", "UAV", "UAV"),
        ("cas-uav-sat", "SAT + UAV", "UAV&SAT")]
    cas = {r.subdataset: r.split for r in read_manifest(sets[-1].held_out.manifest, roots["cas"])}
    assert cas == {"moxitaidi-sat": "val", "moxitaidi-uav-1m": "val", "longxi-uav": "train", "hokkaido": "train"}
    hr = {r.name: r.split for r in read_manifest(sets[1].held_out.manifest, roots["hr-gldd"])}
    assert hr == {**{f"train_{i:05d}": "train" for i in range(4)}, **{f"val_{i:05d}": "val" for i in range(2)}}
    sizes = t7.training_sizes(sets).set_index("dataset")
    assert sizes.loc["Bijie"].tolist() == [4, 2, 770] and sizes.loc["HR-GLDD"].tolist() == [4, 2, 1119]
    assert sizes.loc["UAV", "trained on (this run)"] == 2 and sizes.loc["SAT + UAV", "trained on (this run)"] == 4
    assert sizes.loc["UAV", "held out (this run)"] == 4  # the whole validation region, both sensors


def test_a_held_out_region_must_leave_tiles_to_train_on_and_a_stale_manifest_is_refused(roots, tmp_path):
    with pytest.raises(ConfigError, match="must hold some but not all CAS tiles"):
        t7.cas_training_sets(roots["cas"], tmp_path, validation=CAS_SUBDATASETS)
    t7.cas_training_sets(roots["cas"], tmp_path, validation=["moxitaidi-sat"])
    manifest = next(tmp_path.glob("cas-*.csv"))
    manifest.write_text(manifest.read_text().replace("longxi-uav", "palu"))
    with pytest.raises(ManifestError, match="lists other tiles or sides"):
        t7.cas_training_sets(roots["cas"], tmp_path, validation=["moxitaidi-sat"])


@pytest.mark.slow
def test_every_model_is_scored_on_every_held_out_part_and_finished_runs_are_read_back(roots, tmp_path,
                                                                                     monkeypatch):
    sets = {0: _sets(roots, tmp_path / "splits")}
    base = tiny_config(epochs=1, val_crop_size=64)
    read = []  # every checkpoint the evaluations read
    monkeypatch.setattr(evaluation, "load_checkpoint", lambda path: read.append(Path(path)) or load_checkpoint(path))
    transfer = t7.run_table7(sets, tmp_path / "runs", base)
    assert len(transfer) == 4 * 3  # four models, three held-out parts (Bijie, HR-GLDD, CAS Moxitaidi)
    assert sorted(read) == sorted({tmp_path / "runs" / run / "last.pt" for run in transfer["run"]})  # each once
    tiles_per_part = transfer.groupby("evaluated on")["tiles"].first().to_dict()
    assert tiles_per_part == {"Bijie": 2, "HR-GLDD": 2, "CAS (Moxitaidi)": 4}
    assert ((transfer["tp"] + transfer["fp"] + transfer["fn"] + transfer["tn"]) == transfer["tiles"] * 64 * 64).all()
    tiles = t7.transfer_tiles(transfer, tmp_path / "runs")
    sums = tiles.groupby(["run", "evaluated on"])[["tp", "fp", "fn", "tn"]].sum()
    for _, row in transfer.iterrows():  # every row the sum of its run's tiles of that held-out part
        assert sums.loc[(row["run"], row["evaluated on"])].tolist() == row[["tp", "fp", "fn", "tn"]].tolist()
    assert tiles.groupby(["run", "evaluated on"]).size().unstack().iloc[0].to_dict() == tiles_per_part
    folder = tmp_path / "runs" / transfer.loc[transfer["key"] == "bijie", "run"].iloc[0]
    assert folder.name.startswith("bijie_seed0-")
    assert (folder / "last.pt").is_file() and not (folder / "best.pt").exists()
    history = pd.read_csv(folder / "history.csv")
    assert history["val_miou"].notna().tolist() == [True]  # validated once, after the last epoch

    monkeypatch.setattr(t7, "train", lambda *a, **k: pytest.fail("a finished run was trained again"))
    again = t7.run_table7(sets, tmp_path / "runs", base)
    pd.testing.assert_frame_equal(again, transfer)

    table = t7.table7(transfer, sets[0])
    assert table["dataset"].tolist() == ["Bijie", "HR-GLDD", "UAV", "SAT + UAV"]
    assert table["number"].tolist() == [4, 4, 2, 4] and set(table["val tiles"]) == {4}
    comparison = paper_vs_run(table, 7, run_label="run", keys=("model", "dataset"))
    assert comparison.loc[("DeepLabV3+", "Bijie"), ("IoU", "paper")] == 17.483
    model = table["model"].iloc[0]  # the tiny test model, not DeepLabV3+: its rows follow the paper's rows
    assert comparison.loc[(model, "Bijie"), ("IoU", "run")] == pytest.approx(
        transfer.query("`trained on` == 'Bijie' and `evaluated on` == 'CAS (Moxitaidi)'")["iou"].iloc[0])
    matrix = t7.transfer_matrix(transfer)
    assert matrix.shape == (4, 3) and list(matrix.columns) == ["Bijie", "HR-GLDD", "CAS (Moxitaidi)"]

    # Intervals from the runs' and the baselines' counts per tile: each point value is the table's
    baselines = t7.table7_baselines(sets[0], base)
    blocks = t7.held_out_blocks(sets)
    models = t7.judge_table7(transfer, tiles, t7.table7_baseline_tiles(sets[0], base), sets[0], blocks, SETTINGS)
    for _, row in pd.concat([table, baselines]).iterrows():
        estimate = models.estimate(row["model"], "iou", dataset=row["dataset"])
        assert estimate["value"] == pytest.approx(row["iou"]) and estimate["low"] <= estimate["high"]
    judged = t7.judge_transfer(transfer, tiles, blocks, SETTINGS)
    for trained_on, cells in matrix.iterrows():
        for part, value in cells.items():
            assert judged.estimate(trained_on, "iou", **{"evaluated on": part})["value"] == pytest.approx(value)
    assert len(judged.differences.query("metric == 'iou'")) == 3 * 6  # every two of four models on three parts


def test_table7_needs_the_cas_held_out_column(roots, tmp_path):
    sets = t7.training_sets(None, {"bijie": roots["bijie"]}, tmp_path)
    with pytest.raises(ConfigError, match="include the CAS data root"):
        t7.table7(pd.DataFrame(columns=["evaluated on"]), sets)


def test_every_training_set_gets_the_three_baselines_on_the_cas_held_out_part(roots, tmp_path):
    sets = _sets(roots, tmp_path)
    table = t7.table7_baselines(sets, tiny_config(val_crop_size=64))
    assert table.groupby("dataset", sort=False)["model"].apply(list).to_dict() == {
        s.label: ["all landslide", "all background", "threshold rule"] for s in sets}
    constant = table[table["model"] == "all landslide"]
    assert constant["iou"].nunique() == 1 and (constant["recall"] == 100.0).all()  # scored once, the same pixels
    assert (table["val tiles"] == 4).all()  # the whole validation region
    assert table.set_index(["dataset", "model"]).loc[("HR-GLDD", "threshold rule"), "number"] == 4
    held_out = sets[-1].held_out.manifest
    files = {s.key: tmp_path / f"{held_out.stem}_UAV+SAT_crop64_rule-{s.key}_baselines-tiles.csv" for s in sets}
    tiles = {key: pd.read_csv(path, keep_default_na=False) for key, path in files.items()}
    validation = sorted(r.uid for r in read_manifest(held_out, roots["cas"]) if r.split == "val")
    for s in sets:  # all three baselines on the same four tiles, the constants scored once
        per_model = tiles[s.key].groupby("model", sort=False)
        assert list(per_model.groups) == ["all landslide", "all background", "threshold rule"]
        assert all(sorted(group["tile"]) == validation for _, group in per_model)
        pd.testing.assert_frame_equal(tiles[s.key][tiles[s.key]["model"] != "threshold rule"],
                                      tiles["bijie"][tiles["bijie"]["model"] != "threshold rule"])
        rule = tiles[s.key][tiles[s.key]["model"] == "threshold rule"]
        row = table.set_index(["dataset", "model"]).loc[(s.label, "threshold rule")]
        assert row["recall"] == pytest.approx(100 * rule["tp"].sum() / (rule["tp"].sum() + rule["fn"].sum()))
    assert tiles["bijie"].loc[tiles["bijie"]["model"] == "all landslide", ["fn", "tn"]].eq(0).all().all()


def per_tile(scored: dict[str, dict[str, list[Counts]]], seeds: tuple[int, ...] = (0,)) -> tuple[pd.DataFrame,
                                                                                                   pd.DataFrame]:
    """:func:`run_table7`'s rows and :func:`transfer_tiles`' counts of runs given as counts per tile.

    ``scored``: trained on → held-out part → (TP, FP, FN, TN) of its tiles ``t00``, ``t01``, …; each seed's run
    scores the same counts.
    """
    transfer, tiles = [], []
    for label, parts in scored.items():
        key = label.lower().replace(" + ", "-").replace(" ", "-")
        for seed in seeds:
            run = f"{key}_seed{seed}-0"
            for part, counts in parts.items():
                total = scores_from_counts(*np.sum(counts, axis=0)).as_percent()
                transfer.append({"model": "deeplabv3plus", "trained on": label, "evaluated on": part,
                                 "tiles": len(counts), **total, "seed": seed, "key": key, "run": run})
                tiles += [{"model": "deeplabv3plus", "tile": f"t{i:02d}", "subdataset": "s", "group": "all",
                           **dict(zip(("tp", "fp", "fn", "tn"), c, strict=True)), "evaluated on": part, "seed": seed,
                           "key": key, "run": run} for i, c in enumerate(counts)]
    return pd.DataFrame(transfer), pd.DataFrame(tiles)


def baseline_tiles(datasets: list[str], tiles: int, rule: dict[str, Counts]) -> pd.DataFrame:
    """Per training set: all landslide, all background and its threshold rule on ``tiles`` tiles of 1,000 pixels,
    100 of them landslide (the rule's counts per tile given)."""
    constants = {"all landslide": (100, 900, 0, 0), "all background": (0, 0, 100, 900)}
    return pd.DataFrame([{"model": name, "tile": f"t{i:02d}", "subdataset": "s", "group": "all",
                          **dict(zip(("tp", "fp", "fn", "tn"), counts, strict=True)), "dataset": dataset}
                         for dataset in datasets for name, counts in {**constants, "threshold rule": rule[dataset]}.items()
                         for i in range(tiles)])


def cas_sets(tmp_path: Path, labels: list[str]) -> list[t7.TrainingSet]:
    """Training sets whose only use here is to name the CAS held-out part."""
    held_out = t7.HeldOut(CAS_PART, {"name": "cas"}, tmp_path, tmp_path / "cas-seed0.csv")
    return [t7.TrainingSet(label.lower(), label, "all", held_out) for label in labels]


def test_a_clear_difference_on_many_tiles_beats_and_two_points_on_three_disagreeing_tiles_do_not(tmp_path):
    rng = np.random.default_rng(0)
    # "Near": 30 tiles where A finds 60 ± 5 of 100 landslide pixels and B 5 fewer on every tile. "Few": A and B swap
    # which of 3 tiles they do well on; their pooled IoUs differ by about 2 points.
    near_a = [(int(tp), 20, 100 - int(tp), 880) for tp in rng.integers(55, 66, 30)]
    near_b = [(tp - 5, fp, fn + 5, tn) for tp, fp, fn, tn in near_a]
    few_a, few_b = [(70, 20, 30, 880), (30, 20, 70, 880), (52, 20, 48, 880)], [(30, 20, 70, 880),
                                                                              (70, 20, 30, 880), (46, 20, 54, 880)]
    transfer, tiles = per_tile({"A": {"near": near_a, "few": few_a}, "B": {"near": near_b, "few": few_b}})
    judged = t7.judge_transfer(transfer, tiles, {}, SETTINGS)
    near = judged.difference("A", "B", "iou", **{"evaluated on": "near"})
    few = judged.difference("A", "B", "iou", **{"evaluated on": "few"})
    assert near["low"] > 0 and distinguishable(near)
    assert 1.5 < few["delta"] < 2.5 and few["low"] < 0 < few["high"] and not distinguishable(few)
    cell = judged.estimate("A", "iou", **{"evaluated on": "near"})
    pooled = transfer.query("`trained on` == 'A' and `evaluated on` == 'near'")["iou"].iloc[0]
    assert cell["value"] == pytest.approx(pooled) and cell["low"] <= pooled <= cell["high"]


def test_tiles_of_one_leakage_group_are_resampled_together(tmp_path):
    counts = [(90, 10, 10, 890)] * 5 + [(10, 10, 90, 890)] * 5  # two kinds of tile, five of each
    transfer, tiles = per_tile({"A": {"part": counts}})
    alone = t7.judge_transfer(transfer, tiles, {}, SETTINGS).estimate("A", "iou", **{"evaluated on": "part"})
    grouped = {"part": {f"t{i:02d}": "left" if i < 5 else "right" for i in range(10)}}  # two blocks only
    together = t7.judge_transfer(transfer, tiles, grouped, SETTINGS).estimate("A", "iou", **{"evaluated on": "part"})
    assert together["value"] == alone["value"]
    assert together["high"] - together["low"] > alone["high"] - alone["low"]


def test_table7_cells_pair_each_model_with_the_baselines_and_match_the_transfer_matrix(tmp_path):
    learned, flat = (60, 20, 40, 880), (0, 0, 100, 900)  # flat: all background in effect
    scored = {"Bijie": {"Bijie": [learned] * 4, CAS_PART: [flat] * 12}, "UAV": {CAS_PART: [learned] * 12}}
    transfer, tiles = per_tile(scored, seeds=(0, 1))
    rule = {"Bijie": (30, 50, 70, 850), "UAV": (30, 50, 70, 850)}
    sets = cas_sets(tmp_path, ["Bijie", "UAV"])
    blocks = {CAS_PART: {f"t{i:02d}": f"g{i // 3}" for i in range(12)}}
    models = t7.judge_table7(transfer, tiles, baseline_tiles(["Bijie", "UAV"], 12, rule), sets, blocks, SETTINGS)
    assert set(models.estimates["dataset"]) == {"Bijie", "UAV"}
    assert set(models.estimates["configuration"]) == {"DeepLabV3+", "all landslide", "all background",
                                                      "threshold rule"}
    model = models.estimate("DeepLabV3+", "iou", dataset="UAV")
    assert model["seeds"] == 2 and model["value"] == pytest.approx(50.0)
    matrix = t7.judge_transfer(transfer, tiles, blocks, SETTINGS)
    for dataset in ("Bijie", "UAV"):  # the same draws over the same tiles: one interval per cell
        for metric in ("iou", "miou"):
            ours = models.estimate("DeepLabV3+", metric, dataset=dataset)
            cell = matrix.estimate(dataset, metric, **{"evaluated on": CAS_PART})
            assert (ours["value"], ours["low"], ours["high"]) == (cell["value"], cell["low"], cell["high"])
    versus = models.difference("DeepLabV3+", "all background", "miou", dataset="Bijie")
    assert (versus["delta"], versus["low"], versus["high"]) == (0.0, 0.0, 0.0)
    assert models.difference("DeepLabV3+", "threshold rule", "iou", dataset="UAV")["low"] > 0


def test_the_baseline_counts_are_read_per_training_set_and_missing_ones_are_named(roots, tmp_path):
    sets = _sets(roots, tmp_path)
    base = tiny_config(val_crop_size=64)
    with pytest.raises(BaselineError, match="call table7_baselines"):
        t7.table7_baseline_tiles(sets, base)
    t7.table7_baselines(sets, base)
    tiles = t7.table7_baseline_tiles(sets, base)
    assert tiles.groupby("dataset", sort=False)["model"].apply(lambda m: sorted(set(m))).to_dict() == {
        s.label: ["all background", "all landslide", "threshold rule"] for s in sets}
    assert (tiles.groupby(["dataset", "model"]).size() == 4).all()  # the four held-out CAS tiles


def test_each_held_out_part_gets_its_leakage_groups_over_every_seeds_tiles(roots, tmp_path):
    sets = {seed: _sets(roots, tmp_path / "splits", seed=seed) for seed in (0, 1)}
    blocks = t7.held_out_blocks(sets)
    assert list(blocks) == ["Bijie", "HR-GLDD", CAS_PART]
    for name, part_blocks in blocks.items():
        held = {r.uid for seed_sets in sets.values() for s in seed_sets if s.held_out.dataset == name
                for r in t7.held_out_records(s.held_out)}
        assert set(part_blocks) == held, name
    assert len(blocks[CAS_PART]) == 4 and len(blocks["HR-GLDD"]) == 2  # the same tiles whatever the seed
    assert len(blocks["Bijie"]) > 2  # the seeds hold out different Bijie images: all of them are labelled
    cached = sorted(p.name for p in (tmp_path / "splits").glob("*blocks.csv"))
    assert any(name.startswith("bijie-seed0+bijie-seed1_") for name in cached)
    assert any(name.startswith("cas-") for name in cached)
