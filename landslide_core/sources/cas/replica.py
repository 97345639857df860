"""A SYNTHETIC replica of the CAS Landslide Dataset at full size, to rehearse every non-training stage at scale.

The demo data (:mod:`.demo`) is a miniature; the replica has the dataset's layout and size:
``<root>/<sub-dataset>/{img,mask}/<name>.tif[f]`` for all 16 sub-datasets under their folder names as
distributed (:func:`.demo.folder_name`, full-width parentheses included), each with its paper Table 2 tile count
(:func:`replica_counts`), 512×512 RGB uint8 images and 0/1 uint8 masks written as the originals are: uncompressed
baseline TIFF in strips, without georeferencing. ``label/`` is not written: the CAS scan and checks read only
``img/`` and ``mask/`` (a record's label is optional), so labels would cost writing time and disk for nothing.

Content. Each sub-dataset is a few large scenes (:data:`SCENE_GRID` windows a side) cut into 512² windows every
256 px, as the dataset's production code cut its scenes, so neighbouring tiles share half their pixels and the
leakage audit and the grouped split have real work. A share of each sub-dataset's windows (:data:`QC_SHARE`,
seeded) is skipped as if quality control had removed it; windows are numbered in order over all scenes, so the
kept tiles' numbers have gaps (like Hokkaido's 1,484 tiles numbered up to 1571). File names take the registry's
tile-name prefix (an invented one in the same style where none was seen), zero-padded numbers and the endings
of the originals (:data:`NAMING`). Scenes come from the demo painter (:func:`.demo.render_tile` in the
sub-dataset's look, :func:`.demo.style_for`), painted at half the side and twice the ground resolution, then
doubled (bilinear) with per-pixel grain: a quarter of the pixels to paint, which is what brings the full size
within the issue's target of 15 minutes on 2 cores (``benchmarks/replica.py`` measures it).

Determinism. Scene ``s`` of sub-dataset ``k`` (its position in paper Table 2) draws from
``np.random.default_rng([seed, k, s])`` and the sub-dataset's plan (scene sizes, removed windows, endings) from
``[seed, k, PLAN_STREAM]``, so a seed gives the same bytes whatever the number of worker processes.

Resuming. Every file is written atomically; a scene whose tiles all exist is skipped, and a scene with missing
tiles is painted again and only those are written. A stand-in whose marker exists is skipped.

Labelling. The root's :data:`.synthetic.SYNTHETIC_MARKER` is written before any tile, so the scanner labels every
tile synthetic from the first one on; it records the settings and says ``"complete": false`` until the run ends.

Stand-ins. The public datasets of paper Table 7 get their stand-ins (each source's ``write_stand_in``) under
``<root>/_stand_ins/<source name>/``; the leading underscore keeps the folder out of the CAS scan. This module
sits in the CAS source, below the other sources, so it cannot import their writers: the caller passes them as
:class:`StandIn` (:func:`landslide_core.sources.replica_stand_ins.replica_stand_ins` lists all four at their real
sizes, and ``landslide-core replica`` passes them).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from importlib import resources
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ...errors import ConfigError, PathProblemError
from ...io.atomic import write_text_atomic
from ...io.raster import write_raster
from ..stand_in_marker import is_stand_in
from .demo import folder_name, render_tile, style_for
from .registry import TILE_SIZE, SubDataset, get_subdataset, subdatasets
from .synthetic import REPLICA_GENERATOR, SYNTHETIC_MARKER, is_synthetic, synthetic_info

__all__ = [
    "CAS_PART", "GENERATOR", "GENERATOR_VERSION", "GRAIN", "NAMING", "NOTE", "PLAN_STREAM", "QC_SHARE", "SCENE_GRID",
    "STAND_INS_FOLDER", "STRIDE", "PartReport", "ReplicaReport", "Scene", "StandIn", "disk_usage", "paint_scene",
    "plan_scenes", "replica_counts", "replica_settings", "replica_usage", "table7_count", "tile_prefix",
    "write_replica",
]

GENERATOR = REPLICA_GENERATOR
GENERATOR_VERSION = 1
"""Raised whenever the bytes a seed produces change; a root written by another version is not resumed."""
STRIDE = TILE_SIZE // 2
"""Windows are cut every half tile, as the dataset's production code did."""
QC_SHARE = (0.03, 0.08)
"""Ours: the range of each sub-dataset's share of windows skipped as removed by quality control (Hokkaido's 1,484
tiles are numbered up to 1571)."""
SCENE_GRID = (8, 14)
"""Ours: the fewest and most windows along a scene's side (scenes of 2304 to 3840 px); a sub-dataset's last scene is
smaller when few windows are left."""
PLAN_STREAM = 2**32 - 1
"""The last seed word of a sub-dataset's plan; no scene index reaches it."""
GRAIN = 3
"""Ours: the per-pixel grain added after doubling a painted scene is a whole number of grey levels from -GRAIN to
GRAIN, all equally likely (a standard deviation of 2 levels)."""
STAND_INS_FOLDER = "_stand_ins"
"""Folder under the root holding the public datasets' stand-ins, one folder per source name."""
CAS_PART = "cas"
"""The name of the CAS tiles' part in a :class:`ReplicaReport`."""
NOTE = (
    "Synthetic full-size replica of the CAS Landslide Dataset's layout, generated by landslide-core; it is not CAS "
    "imagery and results on it say nothing about real landslides."
)

NAMING: dict[str, tuple[int, tuple[str, ...]]] = {
    "palu": (4, (".tiff",)),
    "lombok": (3, (".tiff",)),
    "hokkaido": (4, (".tiff",)),
    "tiburon-sentinel": (3, (".tiff",)),
    "tiburon-planet": (3, (".tiff",)),
    "mengdong": (4, (".tiff",)),
    "moxitaidi-sat": (3, (".tiff",)),
    "moxitaidi-uav-0.6m": (3, (".tiff",)),
    "moxitaidi-uav-1m": (3, (".tiff",)),
    "moxi-town-0.2m": (4, (".tif",)),
    "moxi-town-1m": (3, (".tif",)),
    "longxi-sat": (4, (".tiff",)),
    "longxi-uav": (4, (".tif",)),
    "jiuzhai-0.2m": (4, (".tif", ".tiff")),
    "jiuzhai-0.5m": (4, (".tif",)),
    "wenchuan": (3, (".tif",)),
}
"""Digits of the tile number and file endings per sub-dataset: those of the original tiles where one was seen
(``Hokkaido0017.tiff``, ``Haiti146.tiff``, ``jiuzzhaigou_0.2m_UVA0155.tif`` beside ``…0011.tiff``), else the
demo data's invented ones. Where an ending list has two, each tile draws one."""
_INVENTED_PREFIXES = {
    "moxitaidi-uav-0.6m": "Luding_0.6m_UAV",
    "moxi-town-0.2m": "Moxi_0.2m_UAV",
    "moxi-town-1m": "Moxi_1m_UAV",
    "jiuzhai-0.5m": "jiuzzhaigou_0.5m_UVA",
    "wenchuan": "Wenchuan",
}
"""Prefixes for the sub-datasets whose real tile names were not seen (the registry has none), as the demo data's."""


# --------------------------------------------------------------------------- plan


def _check_fraction(fraction: float) -> float:
    if not 0 < fraction <= 1:
        raise ConfigError(f"fraction must be in (0, 1], not {fraction!r}; 1 writes the dataset's full size")
    return float(fraction)


def replica_counts(fraction: float = 1.0) -> dict[str, int]:
    """Tiles per sub-dataset: its paper Table 2 count times ``fraction``, rounded, at least 1.

    Raises:
        ConfigError: ``fraction`` is not in (0, 1].
    """
    fraction = _check_fraction(fraction)
    return {sd.key: max(1, round(sd.paper_tiles * fraction)) for sd in subdatasets()}


def tile_prefix(sd: SubDataset) -> str:
    """The start of the sub-dataset's tile names: the registry's first prefix, or an invented one of the same style."""
    return sd.tile_name_prefixes[0] if sd.tile_name_prefixes else _INVENTED_PREFIXES[sd.key]


def table7_count(dataset: str) -> int:
    """The sample count paper Table 7 gives for a public dataset (its ``dataset`` column, e.g. ``Bijie``).

    Raises:
        ConfigError: Table 7 has no such dataset.
    """
    with resources.files("landslide_core.paper").joinpath("scores.csv").open(encoding="utf-8") as f:
        counts = {row["dataset"]: int(row["number"]) for row in csv.DictReader(f) if row["table"] == "7"}
    if dataset not in counts:
        raise ConfigError(f"paper Table 7 has no dataset {dataset!r}; it has {', '.join(sorted(counts))}")
    return counts[dataset]


@dataclass(frozen=True)
class Scene:
    """One painted scene of a sub-dataset and the tiles kept from its windows."""

    subdataset: str
    position: int
    """The sub-dataset's position in paper Table 2 (part of the scene's seed)."""
    index: int
    """The scene's index within its sub-dataset (part of its seed)."""
    grid: int
    """Windows along each side."""
    tiles: tuple[tuple[int, int, str], ...]
    """``(row, column, file name)`` of each kept window, row and column counted in windows."""

    @property
    def side(self) -> int:
        """The scene's side in pixels."""
        return TILE_SIZE + STRIDE * (self.grid - 1)


def _plan_subdataset(seed: int, position: int, sd: SubDataset, count: int) -> list[Scene]:
    rng = np.random.default_rng([seed, position, PLAN_STREAM])
    needed = math.ceil(count / (1 - rng.uniform(*QC_SHARE)))
    grids: list[int] = []
    while (windows := sum(g * g for g in grids)) < needed:
        drawn = int(rng.integers(SCENE_GRID[0], SCENE_GRID[1] + 1))
        grids.append(min(drawn, max(2, math.ceil(math.sqrt(needed - windows)))))
    kept = np.zeros(windows, bool)
    kept[rng.choice(windows, count, replace=False)] = True
    digits, suffixes = NAMING[sd.key]
    endings = rng.integers(len(suffixes), size=windows)
    prefix = tile_prefix(sd)
    scenes, number = [], 0
    for index, grid in enumerate(grids):
        tiles = []
        for row in range(grid):
            for col in range(grid):
                if kept[number]:
                    tiles.append((row, col, f"{prefix}{number + 1:0{digits}d}{suffixes[endings[number]]}"))
                number += 1
        if tiles:
            scenes.append(Scene(sd.key, position, index, grid, tuple(tiles)))
    return scenes


def plan_scenes(seed: int = 0, fraction: float = 1.0) -> list[Scene]:
    """Every scene of the replica with the tiles it gives, in the order of paper Table 2; nothing is painted."""
    counts = replica_counts(fraction)
    return [scene for position, sd in enumerate(subdatasets())
            for scene in _plan_subdataset(seed, position, sd, counts[sd.key])]


# --------------------------------------------------------------------------- painting


def _double(image: np.ndarray) -> np.ndarray:
    """Bilinear enlargement by 2 of the last two axes of a uint8 array (pixel centres kept, edges clamped).

    In integers: each new pixel is 3 parts of its nearest old pixel and 1 part of the next one, along each axis, so
    the result is sixteen times the interpolated value, as uint16 (several times faster than in floats).
    """
    doubled = image.astype(np.uint16)
    for axis in (-2, -1):
        n = doubled.shape[axis]
        before = np.take(doubled, np.r_[0, 0 : n - 1], axis=axis)
        after = np.take(doubled, np.r_[1:n, n - 1], axis=axis)
        shape = list(doubled.shape)
        shape[axis] *= 2
        out = np.empty(shape, np.uint16)
        even, odd = [slice(None)] * doubled.ndim, [slice(None)] * doubled.ndim
        even[axis], odd[axis] = slice(0, None, 2), slice(1, None, 2)
        doubled *= 3
        out[tuple(even)] = doubled + before
        out[tuple(odd)] = doubled + after
        doubled = out
    return doubled


def paint_scene(seed: int, subdataset: str, index: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Scene ``index`` of a sub-dataset: ``(3, side, side)`` uint8 RGB and its ``(side, side)`` 0/1 uint8 mask.

    Painted by the demo painter at half the side and twice the ground resolution (the satellite blur halved to
    match), doubled, and given grain; the mask is doubled by repetition, so it stays exactly 0/1.
    """
    sd = get_subdataset(subdataset)
    position = [s.key for s in subdatasets()].index(sd.key)
    rng = np.random.default_rng([seed, position, index])
    style = style_for(sd)
    coarse = dataclasses.replace(style, resolution_m=2 * style.resolution_m, blur_px=style.blur_px / 2)
    tile = render_tile(rng, coarse, side // 2)
    image = ((_double(tile.image) + 8) >> 4).astype(np.int16)
    image += rng.integers(-GRAIN, GRAIN + 1, size=image.shape, dtype=np.int8)
    return np.clip(image, 0, 255).astype(np.uint8), tile.mask.repeat(2, axis=0).repeat(2, axis=1)


# --------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class StandIn:
    """A public dataset's stand-in: its source name, its ``write_stand_in`` and its real size.

    ``sizes`` maps the writer's count keywords to their real values; each is scaled by the replica's fraction
    (rounded, at least 1). Keywords left out keep the writer's default.
    """

    name: str
    writer: Callable[..., Path]
    sizes: Mapping[str, int]

    def scaled(self, fraction: float) -> dict[str, int]:
        """The writer's counts at ``fraction`` of the real size."""
        return {keyword: max(1, round(count * fraction)) for keyword, count in self.sizes.items()}


@dataclass(frozen=True)
class _SceneJob:
    root: Path
    seed: int
    scene: Scene


@dataclass(frozen=True)
class _StandInJob:
    folder: Path
    seed: int
    fraction: float
    stand_in: StandIn


@dataclass(frozen=True)
class _Done:
    part: str
    samples: int
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float | None


def _reset_peak_rss() -> None:
    """Reset this process's peak resident set (Linux), so the next reading covers one job only."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # not Linux, or not allowed: the reading then covers the process's life
        pass


def _peak_rss_mib() -> float | None:
    """``VmHWM`` of ``/proc/self/status`` in MiB; None without ``/proc``.

    As :func:`landslide_core.runtime.memory.process_status_mib`, which sits above this layer.
    """
    status = Path("/proc/self/status")
    if not status.is_file():
        return None
    found = re.search(r"^VmHWM:\s+(\d+)", status.read_text(), re.MULTILINE)
    return int(found.group(1)) / 1024 if found else None


def _tile_paths(root: Path, scene: Scene, name: str) -> tuple[Path, Path]:
    folder = root / folder_name(scene.subdataset)
    return folder / "img" / name, folder / "mask" / name


def _write_scene(job: _SceneJob) -> int:
    image, mask = paint_scene(job.seed, job.scene.subdataset, job.scene.index, job.scene.side)
    written = 0
    for row, col, name in job.scene.tiles:
        y, x = row * STRIDE, col * STRIDE
        image_path, mask_path = _tile_paths(job.root, job.scene, name)
        missing = [(path, array) for path, array in ((image_path, image[:, y : y + TILE_SIZE, x : x + TILE_SIZE]),
                                                     (mask_path, mask[y : y + TILE_SIZE, x : x + TILE_SIZE]))
                   if not path.exists()]
        for path, array in missing:
            write_raster(path, np.ascontiguousarray(array))
        written += bool(missing)
    return written


def _write_stand_in(job: _StandInJob) -> int:
    sizes = job.stand_in.scaled(job.fraction)
    job.stand_in.writer(job.folder, seed=job.seed, **sizes)
    return sum(sizes.values())


def _run(job: _SceneJob | _StandInJob) -> _Done:
    """Do one job and say what it cost: seconds and the process's peak memory while it ran."""
    _reset_peak_rss()
    start, cpu_start = time.perf_counter(), time.process_time()
    if isinstance(job, _SceneJob):
        part, samples = CAS_PART, _write_scene(job)
    else:
        part, samples = job.stand_in.name, _write_stand_in(job)
    return _Done(part, samples, time.perf_counter() - start, time.process_time() - cpu_start, _peak_rss_mib())


def _run_all(jobs: Sequence[_SceneJob | _StandInJob], workers: int, bar: tqdm) -> list[_Done]:
    if workers == 1 or len(jobs) <= 1:
        done = []
        for job in jobs:
            done.append(_run(job))
            bar.update(done[-1].samples)
        return done
    done = []
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=get_context("spawn")) as pool:
        futures: list[Future[_Done]] = [pool.submit(_run, job) for job in jobs]
        try:
            for future in as_completed(futures):
                done.append(future.result())
                bar.update(done[-1].samples)
        finally:  # on an error or Ctrl-C, start no further job
            for future in futures:
                future.cancel()
    return done


# --------------------------------------------------------------------------- root, marker, report


def replica_settings(seed: int, fraction: float) -> dict[str, object]:
    """What the marker records; a root is resumed only with equal ``seed``, ``fraction`` and generator version."""
    return {
        "synthetic": True,
        "generator": GENERATOR,
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "fraction": fraction,
        "tiles": replica_counts(fraction),
        "tile_size": TILE_SIZE,
        "stride": STRIDE,
        "stand_ins_folder": STAND_INS_FOLDER,
        "note": NOTE,
    }


def _stand_ins_present(root: Path) -> list[str]:
    folder = root / STAND_INS_FOLDER
    return sorted(p.name for p in folder.iterdir() if is_stand_in(p)) if folder.is_dir() else []


def _write_marker(root: Path, settings: Mapping[str, object], *, complete: bool) -> None:
    content = {**settings, "complete": complete, "stand_ins": _stand_ins_present(root)}
    write_text_atomic(root / SYNTHETIC_MARKER, json.dumps(content, indent=2, ensure_ascii=False) + "\n")


def _check_root(root: Path, settings: Mapping[str, object]) -> None:
    """Refuse a file, real data, demo data or a replica of other settings; say what to do instead.

    Raises:
        PathProblemError: ``root`` is none of a new folder, an empty one, or a replica of these settings.
    """
    if root.exists() and not root.is_dir():
        raise PathProblemError(root, "this is a file, not a folder", "choose a new or empty folder for the replica")
    if not root.is_dir() or not any(root.iterdir()):
        return
    if not is_synthetic(root):
        raise PathProblemError(
            root,
            f"the folder is not empty and holds no replica (no {SYNTHETIC_MARKER}); a replica is written only into a "
            "new or empty folder or resumed in its own, so that real data is never overwritten",
            "choose a new or empty folder, e.g. `landslide-core replica /work/replica`",
        )
    try:
        recorded = synthetic_info(root)
    except (OSError, ValueError):
        recorded = {}
    if recorded.get("generator") != GENERATOR:
        raise PathProblemError(root, "this folder holds synthetic demo data, not a replica",
                               "choose another folder for the replica, or delete this one first")
    keys = ("seed", "fraction", "generator_version")
    if any(recorded.get(key) != settings[key] for key in keys):
        was = ", ".join(f"{key} {recorded.get(key)!r}" for key in keys)
        asked = ", ".join(f"{key} {settings[key]!r}" for key in keys)
        raise PathProblemError(
            root,
            f"this folder holds a replica written with other settings ({was}; asked for: {asked}); a replica is "
            "resumed only with the settings it was started with",
            f"resume it with `landslide-core replica {root} --seed {recorded.get('seed')} --fraction "
            f"{recorded.get('fraction')}`, choose another folder, or delete {root} to write it anew",
        )


def _remove_temporaries(root: Path) -> None:
    """Remove the temporary files of writes cut short by a killed run: they end in ``.tif`` and would scan as tiles."""
    for sd in subdatasets():
        for kind in ("img", "mask"):
            folder = root / folder_name(sd.key) / kind
            if folder.is_dir():
                for path in folder.glob(".*.tmp.tif"):
                    path.unlink()


@dataclass(frozen=True)
class PartReport:
    """What one part of a run (the CAS tiles, or one stand-in) wrote and cost."""

    name: str
    samples: int
    """Tiles (CAS) or samples (a stand-in, all its counts together) written in this run."""
    skipped: int
    """Tiles or samples already there, left as they were."""
    seconds: float
    """Busy seconds: the sum over the part's jobs of each job's time, in whichever process ran it."""
    cpu_seconds: float
    """CPU seconds of the part's jobs (user and system): the busy seconds less any wait for a core shared with
    other work, and for the disk."""
    peak_rss_mib: float | None
    """Largest peak resident set of one of the part's jobs (each measured from its own start)."""


@dataclass(frozen=True)
class ReplicaReport:
    """A run of :func:`write_replica`: where, how long (wall seconds), with how many processes, and each part."""

    root: Path
    seconds: float
    workers: int
    parts: tuple[PartReport, ...]


def _parts(done: Iterable[_Done], skipped: Mapping[str, int], names: Sequence[str]) -> tuple[PartReport, ...]:
    by_part: dict[str, list[_Done]] = defaultdict(list)
    for item in done:
        by_part[item.part].append(item)
    reports = []
    for name in names:
        items = by_part[name]
        peaks = [item.peak_rss_mib for item in items if item.peak_rss_mib is not None]
        reports.append(PartReport(name, sum(item.samples for item in items), skipped.get(name, 0),
                                  round(sum(item.seconds for item in items), 2),
                                  round(sum(item.cpu_seconds for item in items), 2), max(peaks, default=None)))
    return tuple(reports)


def _usable_cores() -> int:
    """The cores this process may run on (as :func:`landslide_core.runtime.workers.available_cores`, a layer above)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def write_replica(
    root: str | Path,
    *,
    seed: int = 0,
    fraction: float = 1.0,
    workers: int | None = None,
    progress: bool = True,
    stand_ins: Sequence[StandIn] = (),
) -> ReplicaReport:
    """Write (or resume) the replica under ``root``, and the given stand-ins under ``root/_stand_ins``.

    Scenes and stand-ins are jobs for a pool of ``workers`` processes (default: the cores this process may use;
    1 runs them here); stand-ins go first, being the longest jobs, then scenes, largest first. The bytes written
    do not depend on ``workers``.

    Args:
        root: The replica's data root: new, empty, or a replica written with the same seed and fraction.
        seed: Seed of every scene, name and stand-in; a non-negative integer.
        fraction: Share of each sub-dataset's Table 2 count (and of each stand-in's real size) to write.
        workers: Processes painting and writing.
        progress: Show a progress bar (tiles and stand-in samples).
        stand_ins: Public datasets' stand-ins to write beside the tiles.

    Raises:
        ConfigError: ``seed``, ``fraction`` or ``workers`` is out of range.
        PathProblemError: ``root`` is a file, holds other data, or a replica of other settings.
    """
    start = time.perf_counter()
    root = Path(root)
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, not {seed!r}")
    workers = _usable_cores() if workers is None else workers
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, not {workers}")
    settings = replica_settings(int(seed), _check_fraction(fraction))
    _check_root(root, settings)
    root.mkdir(parents=True, exist_ok=True)
    _write_marker(root, settings, complete=False)
    _remove_temporaries(root)

    skipped: dict[str, int] = defaultdict(int)
    jobs: list[_SceneJob | _StandInJob] = []
    for stand_in in stand_ins:
        folder = root / STAND_INS_FOLDER / stand_in.name
        if is_stand_in(folder):
            skipped[stand_in.name] += sum(stand_in.scaled(fraction).values())
        else:
            jobs.append(_StandInJob(folder, int(seed), float(fraction), stand_in))
    scenes = []
    for scene in plan_scenes(int(seed), fraction):
        if all(path.exists() for _, _, name in scene.tiles for path in _tile_paths(root, scene, name)):
            skipped[CAS_PART] += len(scene.tiles)
        else:
            scenes.append(scene)
    jobs += [_SceneJob(root, int(seed), scene) for scene in sorted(scenes, key=lambda s: -s.grid)]
    total = sum(len(job.scene.tiles) if isinstance(job, _SceneJob) else sum(job.stand_in.scaled(fraction).values())
                for job in jobs)
    with tqdm(total=total, desc="replica", unit="tile", disable=not progress) as bar:
        done = _run_all(jobs, workers, bar)
    _write_marker(root, settings, complete=True)
    parts = _parts(done, skipped, [CAS_PART, *(s.name for s in stand_ins)])
    return ReplicaReport(root, round(time.perf_counter() - start, 2), workers, parts)


def disk_usage(path: str | Path, *, exclude: str | None = None) -> tuple[int, int, int]:
    """Files, bytes on disk (allocated blocks, as ``du``) and apparent bytes under ``path``.

    ``exclude`` names a folder directly under ``path`` left out (the stand-ins, for the CAS part).
    """
    files = on_disk = apparent = 0
    pending = [Path(path)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if not (exclude and entry.name == exclude and Path(entry.path).parent == Path(path)):
                        pending.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    stat = entry.stat(follow_symlinks=False)
                    files, on_disk, apparent = files + 1, on_disk + stat.st_blocks * 512, apparent + stat.st_size
    return files, on_disk, apparent


def replica_usage(root: str | Path) -> dict[str, tuple[int, int, int]]:
    """:func:`disk_usage` of each part of a replica: the CAS tiles (and marker), then each stand-in present."""
    root = Path(root)
    usage = {CAS_PART: disk_usage(root, exclude=STAND_INS_FOLDER)}
    for name in _stand_ins_present(root):
        usage[name] = disk_usage(root / STAND_INS_FOLDER / name)
    return usage
