"""Evaluation: group rows merged from sub-dataset matrices, records with provenance, 2 processes = 1, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from landslide_core.cli import main
from landslide_core.data.splits import manifest_checksum, split_records
from landslide_core.errors import CheckpointError, ConfigError, NothingToEvaluateError
from landslide_core.eval import evaluation
from landslide_core.eval.evaluation import (
    evaluate,
    evaluate_checkpoint,
    evaluate_checkpoint_tiles,
    evaluate_tiles,
    open_checkpoint,
    write_evaluation_record,
)
from landslide_core.provenance import read_record
from landslide_core.runtime.distributed import Session, run_local
from landslide_core.scoring import SCORE_COLUMNS, TILE_COLUMNS
from landslide_core.scoring.metrics import scores_from_counts
from landslide_core.sources import get_source
from landslide_core.sources.cas.demo import write_demo_data
from landslide_core.train.loop import TrainResult, train
from tests.train.test_training import TINY_MODEL, one_thread, tiny_config  # noqa: F401 (one_thread: autouse fixture)

COUNTS = ["tp", "fp", "fn", "tn"]


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One UAV and two SAT sub-datasets of 3 tiles: 3 validation tiles, an odd number to shard over 2 processes."""
    return write_demo_data(tmp_path_factory.mktemp("demo"), subdatasets=["longxi-uav", "palu", "hokkaido"],
                           tiles_per_subdataset=3, progress=False)


@pytest.fixture(scope="module")
def trained(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    return train(tiny_config(epochs=1), demo_root, tmp_path_factory.mktemp("run"), progress=False)


@pytest.fixture(scope="module")
def val_records(demo_root: Path, trained: TrainResult) -> list:
    return split_records(demo_root, trained.manifest, seed=0, val_fraction=0.3, group="UAV&SAT", split="val")


@pytest.fixture(scope="module")
def table(trained: TrainResult, val_records: list) -> pd.DataFrame:
    return evaluate(trained.best_checkpoint, val_records, batch_size=1, device="cpu")


@pytest.mark.slow
def test_group_rows_are_merged_from_subdataset_matrices(table, val_records):
    assert list(zip(table["group"], table["subdataset"], strict=True)) == [
        ("UAV", ""), ("UAV", "longxi-uav"), ("SAT", ""), ("SAT", "palu"), ("SAT", "hokkaido"), ("UAV&SAT", "")]
    assert (table["model"] == TINY_MODEL["model"]).all()
    assert (table["pixels"] == table["tiles"] * 512 * 512).all()
    groups = table[table["subdataset"] == ""].set_index("group")
    for group in ("UAV", "SAT"):
        members = table[(table["group"] == group) & (table["subdataset"] != "")]
        assert groups.loc[group, COUNTS].tolist() == members[COUNTS].sum().tolist()
        assert groups.loc[group, "tiles"] == members["tiles"].sum()
    assert groups.loc["UAV&SAT", COUNTS].tolist() == groups.loc[["UAV", "SAT"], COUNTS].sum().tolist()
    assert groups.loc["UAV&SAT", "tiles"] == len(val_records) == 3
    # Scores come from the pooled counts, not from averaging the members' scores.
    pooled = scores_from_counts(*groups.loc["SAT", COUNTS]).as_percent()
    assert groups.loc["SAT", list(SCORE_COLUMNS)].tolist() == pytest.approx([pooled[c] for c in SCORE_COLUMNS])


@pytest.mark.slow
def test_one_pass_gives_the_scores_and_the_tiles_they_sum(table, trained, val_records, demo_root):
    scores, tiles = evaluate_tiles(trained.best_checkpoint, val_records, batch_size=1, device="cpu")
    pd.testing.assert_frame_equal(scores, table)
    assert tuple(tiles.columns) == TILE_COLUMNS and tiles["tile"].tolist() == [r.uid for r in val_records]
    assert (tiles["model"] == TINY_MODEL["model"]).all() and (tiles[COUNTS].sum(axis=1) == 512 * 512).all()
    for _, row in table.iterrows():
        members = tiles[tiles["group"].isin(get_source("cas").groups[row["group"]])]
        if row["subdataset"]:
            members = members[members["subdataset"] == row["subdataset"]]
        assert row[COUNTS].tolist() == members[COUNTS].sum().tolist()
    own_scores, own_tiles = evaluate_checkpoint_tiles(trained.best_checkpoint, demo_root, batch_size=1, device="cpu",
                                                      progress=False)
    pd.testing.assert_frame_equal(own_scores, table)  # its own validation tiles, in the same order
    pd.testing.assert_frame_equal(own_tiles, tiles)


@pytest.mark.slow
def test_evaluation_record_carries_provenance(table, trained, demo_root, val_records, tmp_path):
    csv_path, json_path = write_evaluation_record(table, tmp_path / "table5", parameters={"model": "tiny"},
                                                  data_root=demo_root, records=val_records, manifest=trained.manifest,
                                                  device="cpu")
    rows, provenance = read_record(tmp_path / "table5")
    assert csv_path.is_file() and json_path.is_file()
    assert rows[COUNTS].values.tolist() == table[COUNTS].values.tolist()
    assert provenance.data_checksum == manifest_checksum(trained.manifest) == trained.manifest_sha256
    assert provenance.data_kind.startswith("demo data") and provenance.parameters == {"model": "tiny"}


def _evaluate_in_process(checkpoint: Path, records: list) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run by each spawned process (module level, so it can be pickled by name)."""
    return evaluate_tiles(checkpoint, records, batch_size=1, device="cpu")


@pytest.mark.slow
def test_two_processes_evaluate_exactly_like_one(table, trained, val_records):
    assert Session(0, 2).shard(3) == [0, 2] and Session(1, 2).shard(3) == [1]  # uneven, no padding duplicates
    tiles = evaluate_tiles(trained.best_checkpoint, val_records, batch_size=1, device="cpu")[1]
    for scores, per_tile in run_local(_evaluate_in_process, 2, trained.best_checkpoint, val_records):
        pd.testing.assert_frame_equal(scores, table)
        pd.testing.assert_frame_equal(per_tile, tiles)


@pytest.mark.slow
def test_a_checkpoint_s_own_validation_counts_are_those_of_scoring_its_tiles_again_and_serve_only_those_tiles(
        trained, demo_root, tmp_path, monkeypatch):
    """``reuse_validation`` takes the counts the best epoch's validation kept, where the tiles asked for are the ones
    it scored (same root, same tiles, same order): equal to scoring them again, without a forward pass."""
    batch = trained.config.batch_size
    again = evaluate_checkpoint_tiles(trained.best_checkpoint, demo_root, batch_size=batch, device="cpu",
                                      progress=False)
    sat_only = evaluate_checkpoint_tiles(trained.best_checkpoint, demo_root, group="SAT", batch_size=batch,
                                         device="cpu", progress=False)
    copy = shutil.copytree(demo_root, tmp_path / "copy")  # the same uids under another root: other tiles
    on_copy = evaluate_checkpoint_tiles(trained.best_checkpoint, copy, manifest=trained.manifest, batch_size=batch,
                                        device="cpu", progress=False)
    scored = []
    counting = evaluation.tile_counts
    monkeypatch.setattr(evaluation, "tile_counts", lambda *a, **k: scored.append(1) or counting(*a, **k))

    def reused(*args: object, **options: object) -> tuple[pd.DataFrame, pd.DataFrame]:
        return evaluate_checkpoint_tiles(*args, batch_size=batch, device="cpu", progress=False,
                                         reuse_validation=True, **options)

    for got, expected in zip(reused(trained.best_checkpoint, demo_root), again, strict=True):
        pd.testing.assert_frame_equal(got, expected)
    assert not scored, "the validation's tiles were scored again"
    for got, expected in zip(reused(trained.best_checkpoint, demo_root, group="SAT"), sat_only, strict=True):
        pd.testing.assert_frame_equal(got, expected)
    for got, expected in zip(reused(trained.best_checkpoint, copy, manifest=trained.manifest), on_copy, strict=True):
        pd.testing.assert_frame_equal(got, expected)
    assert len(scored) == 2  # other tiles (SAT only), and the same uids under another root, were scored


def test_evaluating_nothing_is_an_error(trained):
    with pytest.raises(NothingToEvaluateError, match="no tiles to evaluate"):
        evaluate(trained.best_checkpoint, [], device="cpu")


@pytest.mark.slow
def test_a_changed_training_split_is_refused(trained, demo_root, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained.out_dir, run)
    checkpoint = run / "best.pt"
    original = trained.manifest.read_bytes()
    try:
        trained.manifest.write_bytes(original + b"\n")
        with pytest.raises(CheckpointError, match="best.pt: its training split .* has changed"):
            evaluate_checkpoint(checkpoint, demo_root, device="cpu", progress=False)
    finally:
        trained.manifest.write_bytes(original)


@pytest.mark.slow
def test_cli_trains_and_evaluates(demo_root, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(demo_root), "--out", str(out), "--model", TINY_MODEL["model"],
                 "--model-option", "decoder_channels", "[16, 16, 8, 8, 8]", "--no-pretrained", "--epochs", "1",
                 "--batch-size", "2", "--crop-size", "64", "--num-workers", "0", "--device", "cpu", "-q"]) == 0
    assert "best validation mIoU at epoch 1" in capsys.readouterr().out
    assert {p.name for p in out.iterdir()} >= {"last.pt", "best.pt", "history.csv", "split.csv", "config.json"}

    stem = tmp_path / "eval"
    assert main(["evaluate", str(out / "best.pt"), str(demo_root), "--out", str(stem), "--device", "cpu", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "UAV&SAT" in printed and "hokkaido" in printed and f"counts per tile: {tmp_path / 'eval-tiles.csv'}" in printed
    record = json.loads(stem.with_suffix(".json").read_text())
    assert record["provenance"]["parameters"]["epoch"] == 1 and len(record["rows"]) == 6
    tiles = pd.read_csv(tmp_path / "eval-tiles.csv", keep_default_na=False)
    rows = pd.read_csv(stem.with_suffix(".csv"), keep_default_na=False)
    per_subdataset = tiles.groupby("subdataset")[COUNTS].sum()
    for _, row in rows[rows["subdataset"] != ""].iterrows():
        assert per_subdataset.loc[row["subdataset"]].tolist() == row[COUNTS].tolist()
    assert len(tiles) == rows.loc[rows["group"] == "UAV&SAT", "tiles"].item()


def test_cli_reports_a_missing_checkpoint_in_one_line(demo_root, tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope.pt"), str(demo_root)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "nope.pt: checkpoint not found. Fix:" in err[0]


@pytest.fixture(scope="module")
def other_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CAS tiles the checkpoint never saw: another root, other sub-datasets, and no split manifest anywhere."""
    return write_demo_data(tmp_path_factory.mktemp("other"), subdatasets=["moxitaidi-sat", "jiuzhai-0.2m"],
                           tiles_per_subdataset=2, seed=5, progress=False)


@pytest.mark.slow
def test_a_checkpoint_scores_every_tile_of_data_it_was_not_trained_on_without_a_manifest(trained, other_root):
    table = evaluate_checkpoint(trained.best_checkpoint, other_root, source="cas", device="cpu", progress=False,
                                batch_size=2)
    records = get_source("cas").list_tiles(other_root)
    expected = evaluate(trained.best_checkpoint, records, batch_size=2, device="cpu")
    pd.testing.assert_frame_equal(table, expected)
    group = table[(table["group"] == "UAV&SAT") & (table["subdataset"] == "")].iloc[0]
    assert group["tiles"] == 4 and set(table["subdataset"]) == {"", "moxitaidi-sat", "jiuzhai-0.2m"}
    assert not list(other_root.rglob("*.csv"))  # no manifest was written or needed
    opened = open_checkpoint(trained.best_checkpoint)  # read once, to score on several data: the same scores
    for _ in range(2):
        pd.testing.assert_frame_equal(evaluate_checkpoint(opened, other_root, source="cas", device="cpu",
                                                          progress=False, batch_size=2), expected)


def test_one_side_of_data_the_checkpoint_was_not_trained_on_needs_that_data_s_manifest(trained, other_root):
    with pytest.raises(ConfigError, match="needs a split manifest: pass --manifest"):
        evaluate_checkpoint(trained.best_checkpoint, other_root, source="cas", split="val", device="cpu",
                            progress=False)


@pytest.fixture(scope="module")
def picture_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    """Someone else's landslide pictures: PNGs of 300×200 to 700×650 px, yellow-on-black masks named ``<id>_gt``."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("pictures")
    images, masks = folder / "photos", folder / "labels"
    images.mkdir()
    masks.mkdir()
    rng, landslide = np.random.default_rng(1), 0
    for i, (w, h) in enumerate([(300, 200), (512, 512), (700, 650)]):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(images / f"scene{i}.png")
        mask = np.zeros((h, w, 3), np.uint8)
        mask[h // 4: h // 2, w // 3: w // 2] = (255, 255, 0)
        Image.fromarray(mask).save(masks / f"scene{i}_gt.png")
        binary = Image.fromarray((mask[..., 0] > 0).astype(np.uint8)).resize((512, 512), Image.Resampling.NEAREST)
        landslide += int(np.asarray(binary).sum())
    return images, masks, landslide


@pytest.mark.slow
def test_cli_evaluates_a_checkpoint_on_a_folder_of_pngs_with_colour_masks_and_no_manifest(trained, picture_folder,
                                                                                        capsys, tmp_path):
    images, masks, landslide = picture_folder
    stem = tmp_path / "pictures"
    assert main(["evaluate", str(trained.best_checkpoint), "--images", str(images), "--masks", str(masks),
                 "--mask-colour", "#ffff00", "--mask-pattern", "{id}_gt", "--device", "cpu", "--out", str(stem),
                 "-q"]) == 0
    printed = capsys.readouterr().out
    assert "all" in printed and "folder" in printed
    rows = pd.read_csv(stem.with_suffix(".csv"), keep_default_na=False)
    group = rows[rows["subdataset"] == ""].iloc[0]
    assert group["tiles"] == 3 and group["tp"] + group["fn"] == landslide  # every yellow pixel, resized to 512
    assert group["tp"] + group["fp"] + group["fn"] + group["tn"] == 3 * 512 * 512
    record = json.loads(stem.with_suffix(".json").read_text())
    assert record["provenance"]["parameters"]["source"]["mask_colour"] == "#ffff00"
    assert not list(images.parent.rglob("*split*"))


def test_cli_names_the_colours_a_mask_has_when_none_is_given(trained, picture_folder, capsys):
    images, masks, _ = picture_folder
    assert main(["evaluate", str(trained.best_checkpoint), "--images", str(images), "--masks", str(masks),
                 "--mask-pattern", "{id}_gt", "--device", "cpu", "-q"]) == 1
    err = capsys.readouterr().err
    assert "#ffff00" in err and "--mask-colour" in err


def test_cli_names_the_patterns_that_pair_a_public_sichuan_copy(trained, tmp_path, capsys):
    from tests.sources.test_folder import LAYOUTS, named_folders

    images, masks = named_folders(tmp_path, *LAYOUTS["sichuan public copy"][:2])
    assert main(["evaluate", str(trained.best_checkpoint), "--source", "folder", "--images", str(images),
                 "--masks", str(masks), "--device", "cpu", "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {images}: no image here pairs with a mask in {masks} by the stem patterns")
    assert (f"Fix: read them with --images {images} --masks {masks} --image-pattern 'Landslide{{id}}' "
            "--mask-pattern 'LandslideLabel{id}'") in err and "more problem" not in err


@pytest.mark.slow
def test_cli_trains_on_another_source_with_its_own_split_and_evaluates_it(tmp_path, capsys):
    from landslide_core.sources import hrgldd

    root = hrgldd.write_stand_in(tmp_path / "hr-gldd", train=4, val=2, test=2)
    out = tmp_path / "run"
    assert main(["train", str(root), "--source", "hr-gldd", "--source-option", "rgb", "[2, 1, 0]", "--out", str(out),
                 "--model", TINY_MODEL["model"],
                 "--model-option", "decoder_channels", "[16, 16, 8, 8, 8]", "--no-pretrained", "--epochs", "1",
                 "--batch-size", "2", "--crop-size", "64", "--val-crop-size", "64", "--num-workers", "0",
                 "--device", "cpu", "-q"]) == 0
    capsys.readouterr()
    sides = pd.read_csv(out / "split.csv", comment="#").groupby("split")["name"].apply(sorted).to_dict()
    assert sides == {"train": [f"train_{i:05d}" for i in range(4)], "val": ["val_00000", "val_00001"]}
    config = json.loads((out / "config.json").read_text())
    assert (config["source"], config["source_options"], config["group"]) == ("hr-gldd", {"rgb": [2, 1, 0]}, "all")
    stem = tmp_path / "val"
    assert main(["evaluate", str(out / "best.pt"), str(root), "--device", "cpu", "--out", str(stem), "-q"]) == 0
    rows = pd.read_csv(stem.with_suffix(".csv"), keep_default_na=False)
    assert rows[["group", "subdataset", "tiles"]].values.tolist() == [["all", "", 2], ["all", "hr-gldd", 2]]
