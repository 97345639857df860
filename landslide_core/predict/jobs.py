"""Many scenes, one job each, on the scheduler the Table 5 grid uses (:mod:`landslide_core.experiments.jobs`).

A scene job loads the checkpoint on its own device and runs :func:`.scene.predict_scene`;
requeued after preemption or a time limit, it resumes from the scene's last
finished chunk. A scene whose report already holds the same settings is done and
is not sent again, nor is one whose last job (``<scene>.job.json``) still runs or
waits in the queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import submitit
import torch

from ..errors import PredictionError
from ..experiments.jobs import Scheduler, submit_work
from ..io.checksums import file_sha256
from .formats import output_paths
from .scene import SETTINGS, Predictor, finished_report, predict_scene, prediction_settings

__all__ = ["SCENE_SUFFIXES", "SceneJob", "SceneWork", "distinct_scenes", "find_scenes", "scene_works", "submit_scenes"]

SCENE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".jp2", ".img", ".vrt")
_OUTPUT_SUFFIXES = (".probability.tif", ".mask.tif")


def find_scenes(paths: Sequence[str | Path]) -> list[Path]:
    """The scenes named: files as given, and each folder's rasters (by suffix, not our own outputs), sorted.

    A file named twice (as itself and in its folder) is listed once.

    Raises:
        PredictionError: A path does not exist, a folder holds no raster, or two scenes share a stem (their
            outputs would overwrite each other's).
    """
    scenes: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SCENE_SUFFIXES
                           and not p.name.endswith(_OUTPUT_SUFFIXES))
            if not found:
                raise PredictionError(path, f"holds no scene ({', '.join(SCENE_SUFFIXES)})",
                                      "pass the scene files, or the folder that holds them")
            scenes.extend(found)
        elif path.is_file():
            scenes.append(path)
        else:
            raise PredictionError(path, "scene not found", "pass the path of a GeoTIFF (or a folder of them)")
    return distinct_scenes(scenes)


def distinct_scenes(scenes: Sequence[str | Path]) -> list[Path]:
    """``scenes`` with each file once, checked to write outputs of their own: their stems name the outputs.

    Raises:
        PredictionError: Two different files share a stem (``x.tif`` and ``x.vrt``, or ``scene.tif`` in two
            folders): both would write ``<stem>.*`` and share ``<stem>.work/``. Nothing has been written then.
    """
    kept: dict[str, Path] = {}
    for scene in map(Path, scenes):
        other = kept.setdefault(scene.stem, scene)
        if other != scene and other.resolve() != scene.resolve():
            raise PredictionError(scene, f"has the stem {scene.stem!r} of {other} too, so both would write "
                                  f"{scene.stem}.probability.tif, .mask.tif, .landslides.gpkg and .prediction.json "
                                  f"and share {scene.stem}.work/ in the output folder",
                                  "predict them with two commands into different --out folders, or rename one")
    return list(kept.values())


@dataclass(frozen=True)
class SceneWork:
    """One scene to predict as a piece of scheduler work."""

    index: int
    scene: Path
    out: Path
    checkpoint: Path
    options: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for :func:`.scene.predict_scene` (tile, overlap, threshold, …)."""
    device: str = "auto"
    checkpoint_sha256: str = ""
    """The checkpoint's SHA-256 (:func:`landslide_core.io.checksums.file_sha256`): a map made with another checkpoint is not done."""
    kind: str = "scene"

    @property
    def label(self) -> str:
        """The scene's file name."""
        return self.scene.name

    @property
    def job_file(self) -> Path:
        """``<scene>.job.json`` beside its outputs."""
        return self.out / f"{self.scene.stem}.job.json"

    def done(self) -> bool:
        """Whether the scene's outputs exist, made from this scene file with this checkpoint and these settings."""
        settings = prediction_settings(self.scene, self.checkpoint_sha256,
                                       **{k: v for k, v in self.options.items() if k in SETTINGS})
        return finished_report(output_paths(self.scene, self.out), settings) is not None

    def job(self, threads: int | None) -> SceneJob:
        """The callable a job runs."""
        return SceneJob(self, threads)


class SceneJob(submitit.helpers.Checkpointable):
    """What a submitit job runs: one scene. Requeued on preemption or timeout, it resumes from its last chunk."""

    def __init__(self, work: SceneWork, threads: int | None = None) -> None:
        self.work, self.threads = work, threads

    def __call__(self) -> str:
        """Predict the scene; return its report's path."""
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        predictor = Predictor.from_checkpoint(self.work.checkpoint, device=self.work.device)
        predict_scene(self.work.scene, predictor, self.work.out, progress=False, **self.work.options)
        return str(output_paths(self.work.scene, self.work.out)["report"])


def scene_works(scenes: Sequence[Path], checkpoint: Path, out: Path, *, device: str = "auto",
                **options: Any) -> list[SceneWork]:
    """One piece of work per scene, numbered from 0.

    Raises:
        PredictionError: The checkpoint does not exist, or two scenes share a stem (:func:`distinct_scenes`).
    """
    scenes = distinct_scenes(scenes)
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise PredictionError(checkpoint, "checkpoint not found", "pass the last.pt or best.pt of a training run")
    digest = file_sha256(checkpoint)
    return [SceneWork(i, scene, Path(out), checkpoint, dict(options), device, digest)
            for i, scene in enumerate(scenes)]


def submit_scenes(works: Sequence[SceneWork], scheduler: Scheduler, *, wait: bool = False,
                  echo: Any = print) -> list[str]:
    """Send the scenes not yet predicted as jobs (job folders under ``<out>/jobs``); one line per scene sent.

    A scene whose last job still runs or is queued is not sent again; its line says so.
    """
    if not works:
        return []
    return submit_work(works, works[0].out / "jobs", scheduler, name="landslide-predict", wait=wait, echo=echo)
