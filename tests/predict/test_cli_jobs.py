"""`landslide-core predict`: scenes and folders in, maps and scores out; many scenes as scheduler jobs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import rasterio

from landslide_core.cli import main
from landslide_core.errors import PredictionError
from landslide_core.experiments.jobs import Scheduler
from landslide_core.predict.jobs import find_scenes, scene_works, submit_scenes
from landslide_core.sources.cas.demo_scenes import DemoScene

OPTIONS = ["--tile", "128", "--overlap", "32", "--batch", "4", "--device", "cpu", "-q"]


def test_predict_writes_the_maps_and_judges_them_against_the_inventory(small_scene: DemoScene, unet_checkpoint: Path,
                                                                      tmp_path: Path, capsys) -> None:
    code = main(["predict", str(small_scene.scene), "--checkpoint", str(unet_checkpoint), "--out", str(tmp_path),
                 "--reference", str(small_scene.labels), "--fill", str(small_scene.fill_value), *OPTIONS])
    printed = capsys.readouterr().out
    assert code == 0, printed
    stem = small_scene.scene.stem
    report = json.loads((tmp_path / f"{stem}.prediction.json").read_text())
    assert f"{report['polygons']} landslide polygon(s)" in printed
    assert "pixels (the metrics of paper Table 5, in %): precision" in printed and "centroid" in printed
    with rasterio.open(tmp_path / f"{stem}.mask.tif") as mask, rasterio.open(small_scene.scene) as scene:
        assert mask.crs == scene.crs and mask.transform == scene.transform
    assert len(gpd.read_file(tmp_path / f"{stem}.landslides.gpkg")) == report["polygons"]


def test_predict_refuses_a_reference_for_several_scenes_and_a_missing_checkpoint(small_scene: DemoScene,
                                                                                 unet_checkpoint: Path,
                                                                                 tmp_path: Path, capsys) -> None:
    folder = tmp_path / "scenes"
    folder.mkdir()
    for name in ("a.tif", "b.tif"):
        shutil.copy(small_scene.scene, folder / name)
    assert main(["predict", str(folder), "--checkpoint", str(unet_checkpoint), "--out", str(tmp_path / "out"),
                 "--reference", str(small_scene.labels), *OPTIONS]) == 1
    assert "judges one scene, but 2 were given" in capsys.readouterr().err
    assert main(["predict", str(small_scene.scene), "--checkpoint", str(tmp_path / "none.pt"), "--out",
                 str(tmp_path / "out"), *OPTIONS]) == 1
    assert "none.pt: checkpoint not found" in capsys.readouterr().err


def test_a_folder_lists_its_scenes_but_not_our_outputs(small_scene: DemoScene, tmp_path: Path) -> None:
    shutil.copy(small_scene.scene, tmp_path / "x.tif")
    (tmp_path / "x.mask.tif").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("")
    assert find_scenes([tmp_path]) == [tmp_path / "x.tif"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(PredictionError, match="holds no scene"):
        find_scenes([tmp_path / "empty"])
    with pytest.raises(PredictionError, match="scene not found"):
        find_scenes([tmp_path / "missing.tif"])


@pytest.mark.slow
def test_scenes_run_as_local_jobs_one_per_scene_and_done_ones_are_not_sent_again(small_scene: DemoScene,
                                                                                 unet_checkpoint: Path,
                                                                                 tmp_path: Path) -> None:
    scenes = []
    for name in ("east.tif", "west.tif"):
        shutil.copy(small_scene.scene, tmp_path / name)
        scenes.append(tmp_path / name)
    works = scene_works(scenes, unet_checkpoint, tmp_path / "maps", device="cpu", tile=128, overlap=32,
                        batch_size=4)
    lines = submit_scenes(works, Scheduler(executor="local", gpus_per_job=0, parallel=2, threads=1),
                          echo=lambda line: None)
    assert sorted(lines) == ["scene 0 (east.tif) done", "scene 1 (west.tif) done"]
    reports = [json.loads((tmp_path / "maps" / f"{s.stem}.prediction.json").read_text()) for s in scenes]
    assert reports[0]["landslide_pixels"] == reports[1]["landslide_pixels"], "same pixels, same map"
    assert all(json.loads(w.job_file.read_text())["executor"] == "local" for w in works)
    said = []
    assert submit_scenes(works, Scheduler(executor="local", gpus_per_job=0), echo=said.append) == []
    assert said == ["every scene is done; nothing to submit"]
    changed = scene_works(scenes[:1], unet_checkpoint, tmp_path / "maps", device="cpu", tile=128, overlap=64,
                          batch_size=4)
    assert not changed[0].done(), "another overlap is another map"
    other = tmp_path / "other.pt"
    other.write_bytes(unet_checkpoint.read_bytes() + b"\0")
    assert not scene_works(scenes[:1], other, tmp_path / "maps", device="cpu", tile=128, overlap=32,
                           batch_size=4)[0].done(), "another checkpoint is another map"
