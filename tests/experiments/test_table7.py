"""The Table 7 experiment: training sets from several sources, held-out parts, every model on every part."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from landslide_core.book import paper_vs_run
from landslide_core.data.splits import read_manifest
from landslide_core.errors import ConfigError, ManifestError
from landslide_core.experiments import table7 as t7
from landslide_core.sources import bijie, hrgldd
from landslide_core.sources.cas.demo import write_demo_data
from tests.train.test_training import one_thread, tiny_config  # noqa: F401 (one_thread: autouse fixture)

CAS_SUBDATASETS = ["moxitaidi-sat", "moxitaidi-uav-1m", "longxi-uav", "hokkaido"]


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
    transfer = t7.run_table7(sets, tmp_path / "runs", base)
    assert len(transfer) == 4 * 3  # four models, three held-out parts (Bijie, HR-GLDD, CAS Moxitaidi)
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
