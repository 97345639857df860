"""A run is named by everything that decides its result, and read back only under the same configuration."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from landslide_core.data.splits import load_or_make_split
from landslide_core.errors import RunFolderError, RunMismatchError
from landslide_core.experiments.runs import RunSpec, check_identity, read_run
from landslide_core.sources.cas.demo import write_demo_data
from landslide_core.train.config import TrainConfig


@pytest.fixture
def spec(tmp_path: Path) -> RunSpec:
    root = write_demo_data(tmp_path / "data", subdatasets=["hokkaido"], tiles_per_subdataset=4, progress=False)
    manifest = tmp_path / "split-seed0.csv"
    load_or_make_split(root, manifest, seed=0, val_fraction=0.5)
    config = TrainConfig(model="unet", group="SAT", epochs=2, lr=0.05, pretrained=False, device="cpu")
    return RunSpec(config, root, manifest, "random")


def test_every_setting_that_decides_the_result_names_another_folder(spec, tmp_path):
    folder = spec.folder(tmp_path, "unet_SAT_seed0")
    assert folder.parent == tmp_path and folder.name == f"unet_SAT_seed0-{spec.digest()[:12]}"
    others = [replace(spec, config=replace(spec.config, epochs=3)), replace(spec, config=replace(spec.config, lr=0.01)),
              replace(spec, config=replace(spec.config, crop_size=64)),
              replace(spec, config=replace(spec.config, precision="fp32")),
              replace(spec, config=replace(spec.config, model_options={"encoder_depth": 4})),
              replace(spec, split="grouped"), replace(spec, scored_on=("Bijie: 0123",))]
    digests = {spec.digest(), *(other.digest() for other in others)}
    assert len(digests) == 1 + len(others)
    neutral = replace(spec, config=replace(spec.config, num_workers=3, checkpoint_every=5))
    assert neutral.digest() == spec.digest()  # data-loader workers and checkpoint spacing change no number


def test_the_data_and_the_split_are_part_of_the_identity(spec):
    before, original = spec.digest(), spec.manifest.read_bytes()
    text = original.decode()
    spec.manifest.write_text(text.replace("\nval,", "\ntrain,", 1))  # one tile to the other side: another split
    assert replace(spec).digest() != before
    spec.manifest.write_bytes(original)
    assert replace(spec).digest() == before
    image = next((spec.data_root).rglob("img/*.tif"))
    image.write_bytes(image.read_bytes() + b"\0")  # a tile of another size: other data
    assert replace(spec).digest() != before
    assert spec.digest() == before  # a spec's identity is computed once, when first asked


def test_a_run_made_under_another_configuration_is_refused_naming_the_fields(spec, tmp_path):
    folder = spec.folder(tmp_path / "runs", "unet_SAT_seed0")
    folder.mkdir(parents=True)
    saved = {**spec.identity(), "num_workers": 0}
    (folder / "config.json").write_text(json.dumps({**saved, "epochs": 6, "lr": 0.01}))
    with pytest.raises(RunMismatchError) as error:
        check_identity(folder, spec)
    message = str(error.value)
    assert "epochs: 6 here, 2 asked for" in message and "lr: 0.01 here, 0.05 asked for" in message
    assert "split:" not in message and str(folder / "config.json") in message and "delete the run folder" in message
    pd.DataFrame({"epoch": [1, 2]}).to_csv(folder / "history.csv", index=False)
    pd.DataFrame({"group": ["SAT"]}).to_csv(folder / "scores.csv", index=False)
    with pytest.raises(RunMismatchError):
        read_run(spec, folder)
    (folder / "config.json").write_text(json.dumps(saved))
    with pytest.raises(RunFolderError) as missing:  # finished (it has scores) by code that kept no per-tile counts
        read_run(spec, folder)
    assert str(missing.value).startswith(f"{folder / 'tile_counts.csv'}: this finished run (it has scores.csv)")
    assert f"Fix: delete the folder {folder} to train and evaluate the run again" in str(missing.value)
    tiles = pd.DataFrame({"model": ["unet"], "tile": ["hokkaido/NA"], "subdataset": ["hokkaido"], "group": ["SAT"],
                          "tp": [1], "fp": [2], "fn": [3], "tn": [4]})
    tiles.to_csv(folder / "tile_counts.csv", index=False)
    run = read_run(spec, folder)
    assert run.config["epochs"] == 2 and run.config["split"] == "random" and run.checkpoint is None
    pd.testing.assert_frame_equal(run.tile_counts, tiles)  # a tile named NA stays text
    (folder / "config.json").unlink()
    with pytest.raises(RunMismatchError, match=r"epochs: '\(missing\)' here"):
        read_run(spec, folder)
