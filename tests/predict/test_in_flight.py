"""`predict` never starts one piece of work twice: scenes sharing a stem are refused, a scene whose job runs is skipped."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
import rasterio.shutil

from landslide_core.cli import main
from landslide_core.errors import LockHeldError, PredictionError
from landslide_core.experiments.jobs import Scheduler
from landslide_core.io.lock import lock_holder
from landslide_core.predict.jobs import find_scenes, scene_works, submit_scenes
from landslide_core.predict.scene import Predictor, predict_scene
from landslide_core.sources.cas.demo_scenes import DemoScene

OPTIONS = ["--tile", "128", "--overlap", "32", "--batch", "4", "--device", "cpu", "-q"]


def test_a_tif_and_a_vrt_with_one_stem_are_refused_before_any_work(small_scene: DemoScene, unet_checkpoint: Path,
                                                                    tmp_path: Path, capsys) -> None:
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    shutil.copy(small_scene.scene, scenes / "x.tif")
    rasterio.shutil.copy(scenes / "x.tif", scenes / "x.vrt", driver="VRT")  # a real VRT over the GeoTIFF
    with pytest.raises(PredictionError) as refused:
        find_scenes([scenes])
    assert str(refused.value) == (
        f"{scenes / 'x.vrt'}: has the stem 'x' of {scenes / 'x.tif'} too, so both would write x.probability.tif, "
        ".mask.tif, .landslides.gpkg and .prediction.json and share x.work/ in the output folder. Fix: predict them "
        "with two commands into different --out folders, or rename one")
    out = tmp_path / "maps"
    assert main(["predict", str(scenes), "--checkpoint", str(unet_checkpoint), "--out", str(out), *OPTIONS]) == 1
    assert f"{scenes / 'x.vrt'}: has the stem 'x' of {scenes / 'x.tif'}" in capsys.readouterr().err
    assert not out.exists(), "refused before anything was written"
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(scenes / "x.vrt", one / "x.vrt")
    assert find_scenes([one, one / "x.vrt"]) == [one / "x.vrt"], "one file named twice is one scene"


def test_two_folders_each_with_scene_tif_are_refused_for_jobs_and_in_the_foreground(small_scene: DemoScene,
                                                                                   unet_checkpoint: Path,
                                                                                   tmp_path: Path, capsys) -> None:
    for folder in ("east", "west"):
        (tmp_path / folder).mkdir()
        shutil.copy(small_scene.scene, tmp_path / folder / "scene.tif")
    out = tmp_path / "maps"
    for extra in ([], ["--submit", "--executor", "local", "--gpus-per-job", "0"]):
        assert main(["predict", str(tmp_path / "east"), str(tmp_path / "west"), "--checkpoint", str(unet_checkpoint),
                     "--out", str(out), *OPTIONS, *extra]) == 1
        error = capsys.readouterr().err
        assert f"{tmp_path / 'west' / 'scene.tif'}: has the stem 'scene' of {tmp_path / 'east' / 'scene.tif'}" in error
        assert "different --out folders" in error and not out.exists()
    with pytest.raises(PredictionError, match="has the stem 'scene' of"):
        scene_works([tmp_path / "east" / "scene.tif", tmp_path / "west" / "scene.tif"], unet_checkpoint, out)


@pytest.mark.slow
def test_a_scene_whose_local_job_runs_is_not_sent_again_and_a_second_predictor_is_refused(small_scene: DemoScene,
                                                                                         unet_checkpoint: Path,
                                                                                         tmp_path: Path) -> None:
    scene, maps = tmp_path / "east.tif", tmp_path / "maps"
    shutil.copy(small_scene.scene, scene)
    options = {"tile": 128, "overlap": 96, "batch_size": 1}  # 81 tiles, one at a time: long enough to watch
    works = scene_works([scene], unet_checkpoint, maps, device="cpu", **options)
    local = Scheduler(executor="local", gpus_per_job=0, parallel=1, threads=1)
    predictor = Predictor.from_checkpoint(unet_checkpoint, device="cpu")  # loaded first: the job takes ~6 s
    lines: list[str] = []
    first = threading.Thread(target=lambda: lines.extend(submit_scenes(works, local, echo=lambda line: None)))
    first.start()
    try:
        deadline = time.monotonic() + 120
        while not lock_holder(maps / "east.lock") and time.monotonic() < deadline:
            time.sleep(0.02)  # the job is predicting the scene
        holder = lock_holder(maps / "east.lock")
        job = json.loads(works[0].job_file.read_text())

        said: list[str] = []
        assert submit_scenes(works, local, echo=said.append) == said == [
            f"scene 0 (east.tif): not sent again, its local job {job['job_id']} is running"]
        assert json.loads(works[0].job_file.read_text()) == job, "no second job was recorded"
        with pytest.raises(LockHeldError, match=f"east.lock: is held by process {holder['pid']} on "
                                                f"{holder['host']} \\(predicting {scene}, since "):
            predict_scene(scene, predictor, maps, progress=False, **options)
    finally:
        first.join(timeout=300)
    assert lines == ["scene 0 (east.tif) done"] and works[0].done()
    assert not (maps / "east.lock").exists()
