"""The new-event experiment: each region held out with nothing of it in training, k tiles apart from the evaluation
tiles, runs that resume and a rerun with another k that trains only the new runs.

Leakage is checked by brute force on the pixels: tiles are cut with overlap from random scenes, some across two
regions, and every pair of tiles a manifest puts on opposite sides is compared for any shared 24-pixel run.
"""

from __future__ import annotations

import functools
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from landslide_core.data.splits import read_manifest
from landslide_core.errors import ConfigError, GridError, ManifestError
from landslide_core.experiments import new_event as ne
from landslide_core.experiments import runs as runs_module
from landslide_core.io.raster import read_raster
from landslide_core.scoring.intervals import BootstrapSettings
from tests.conftest import write_pair
from tests.train.test_training import one_thread, tiny_config  # noqa: F401 (one_thread: autouse fixture)

TILE, STRIDE, RUN = 512, 256, 24


def _scene(rng: np.random.Generator, width: int) -> tuple[np.ndarray, np.ndarray]:
    mask = (rng.random((TILE // 32, width // 32)) < 0.3).repeat(32, 0).repeat(32, 1).astype(np.uint8)
    image = rng.integers(0, 200, (3, TILE, width), dtype=np.uint8)
    image[0] //= 2
    image[0] += 100 * mask
    return image, mask


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three regions' SAT tiles: a scene cut at stride 256 across Moxitaidi (luding) and Longxi (shared pixels
    between two regions), one cut inside Palu, and tiles of their own."""
    folder = tmp_path_factory.mktemp("regions") / "root"
    rng = np.random.default_rng(3)
    image, mask = _scene(rng, TILE + 4 * STRIDE)
    for i in range(5):
        window = slice(i * STRIDE, i * STRIDE + TILE)
        folder_name = "Moxitaidi (SAT)" if i < 3 else "Longxi River(SAT)"
        write_pair(folder, folder_name, f"scene_{i:02d}", image[:, :, window].copy(), mask[:, window].copy())
    image, mask = _scene(rng, TILE + 3 * STRIDE)
    for i in range(4):
        window = slice(i * STRIDE, i * STRIDE + TILE)
        write_pair(folder, "palu", f"Palu{i:04d}", image[:, :, window].copy(), mask[:, window].copy(), ".tiff")
    for name, count in (("Moxitaidi (SAT)", 4), ("Longxi River(SAT)", 4), ("palu", 3)):
        for i in range(count):
            image, mask = _scene(rng, TILE)
            write_pair(folder, name, f"own_{i:02d}", image, mask)
    return folder


@functools.cache
def _run_hashes(path: Path) -> np.ndarray:
    """A 64-bit hash of every horizontal run of RUN pixels (all bands) at every position of a tile, sorted.

    Two tiles that share a patch at least RUN pixels wide share the hashes of its runs; random content makes a
    collision between unrelated tiles practically impossible.
    """
    image = read_raster(path).astype(np.uint64)
    pixels = (image[0] << np.uint64(16)) | (image[1] << np.uint64(8)) | image[2]
    width = pixels.shape[1] - RUN + 1
    hashes = np.zeros((pixels.shape[0], width), np.uint64)
    with np.errstate(over="ignore"):
        for i in range(RUN):
            hashes = hashes * np.uint64(1_000_003) + pixels[:, i:i + width]
    return np.sort(hashes, axis=None)


@functools.cache
def _sampled_hashes(path: Path) -> np.ndarray:
    """The hashes of the runs starting at every 8th row and column of a tile (as :func:`_run_hashes` computes them)."""
    image = read_raster(path).astype(np.uint64)
    pixels = (image[0] << np.uint64(16)) | (image[1] << np.uint64(8)) | image[2]
    starts = np.arange(0, pixels.shape[1] - RUN + 1, 8)
    hashes = np.zeros((len(range(0, pixels.shape[0], 8)), len(starts)), np.uint64)
    with np.errstate(over="ignore"):
        for i in range(RUN):
            hashes = hashes * np.uint64(1_000_003) + pixels[::8, starts + i]
    return hashes.ravel()


def _share_pixels(a: Path, b: Path) -> bool:
    """Whether any run of ``a`` (every 8th row and column) appears anywhere in ``b``."""
    every, sampled = _run_hashes(b), _sampled_hashes(a)
    found = np.searchsorted(every, sampled)
    return bool((every[np.minimum(found, len(every) - 1)] == sampled).any())


def _leaks(manifest: Path, root: Path, against: set[str] | None = None) -> list[tuple[str, str]]:
    """Pairs (training tile, ``against`` tile, default the validation tiles) that share pixels, by brute force."""
    records = read_manifest(manifest, root)
    train = [r for r in records if r.split == "train"]
    other = [r for r in records if (r.uid in against if against is not None else r.split == "val")]
    return [(t.uid, o.uid) for t in train for o in other if _share_pixels(t.image, o.image)]


def test_the_brute_force_check_finds_the_pixels_the_fixture_shares(root):
    scene = sorted((root / "Moxitaidi (SAT)" / "img").glob("scene_*"))
    longxi = sorted((root / "Longxi River(SAT)" / "img").glob("scene_*"))
    assert _share_pixels(scene[2], longxi[0]) and _share_pixels(scene[0], scene[1])
    assert not _share_pixels(scene[0], longxi[0])


@pytest.fixture(scope="module")
def plan(root, tmp_path_factory) -> list[ne.RegionSplit]:
    return ne.plan_regions(root, tmp_path_factory.mktemp("splits"), group="SAT", seed=0, shots=(2, 3),
                           progress=False)


def test_no_tile_of_the_held_out_region_nor_any_sharing_pixels_with_one_trains(root, plan):
    assert [s.region for s in plan] == ["palu", "luding", "longxi"]  # paper Table 4's order
    for split in plan:
        manifest = split.manifest(ne.HELD_OUT)
        records = read_manifest(manifest, root)
        region = {r.uid for r in records if ne.region_of(r) == split.region}
        train = {r.uid for r in records if r.split == "train"}
        assert train and not train & region
        assert not _leaks(manifest, root, against=region), split.region
    luding = next(s for s in plan if s.region == "luding")
    assert luding.left_out == 2  # Longxi's two scene tiles share pixels with Moxitaidi's (one directly, one by link)


def test_the_k_tiles_and_the_in_region_pool_share_no_pixels_with_the_evaluation_tiles(root, plan):
    for split in plan:
        assert split.evaluation and not set(split.pool) & set(split.evaluation)
        for role in (ne.IN_REGION, "k2", "k3"):
            manifest = split.manifest(role)
            records = read_manifest(manifest, root)
            assert sorted(r.uid for r in records if r.split == "val") == sorted(split.evaluation)
            assert not _leaks(manifest, root), (split.region, role)
        k2 = {r.uid for r in read_manifest(split.manifest("k2"), root) if r.split == "train"}
        k3 = {r.uid for r in read_manifest(split.manifest("k3"), root) if r.split == "train"}
        assert len(k2) == 2 and len(k3) == 3 and k2 < k3  # nested: a larger k adds tiles


def test_the_plan_is_read_back_and_refused_when_the_tiles_change(root, tmp_path):
    first = ne.plan_regions(root, tmp_path, group="SAT", seed=1, progress=False)
    again = ne.plan_regions(root, tmp_path, group="SAT", seed=1, progress=False)
    assert first == again
    with pytest.raises(ConfigError, match="wenchuan"):
        ne.plan_regions(root, tmp_path, group="SAT", seed=1, chosen=["wenchuan"], progress=False)
    moved = tmp_path / "other"
    shutil.copytree(root, moved)
    (moved / "palu" / "img" / "own_00.tif").unlink()
    (moved / "palu" / "mask" / "own_00.tif").unlink()
    (moved / "palu" / "label" / "own_00.tif").unlink()
    with pytest.raises(ManifestError, match="delete the folder"):
        ne.plan_regions(moved, tmp_path, group="SAT", seed=1, progress=False)


def _trained(monkeypatch) -> list[tuple[str, int]]:
    """(folder, epochs done before this call) for every run trained."""
    calls: list[tuple[str, int]] = []
    original = runs_module.train

    def counting(config, data_root, out_dir, **options):
        result = original(config, data_root, out_dir, **options)
        calls.append((Path(out_dir).name, result.resumed_from))
        return result

    monkeypatch.setattr(runs_module, "train", counting)
    return calls


def test_runs_resume_and_a_rerun_with_another_k_trains_only_the_new_runs(root, plan, tmp_path, monkeypatch):
    base = tiny_config(group="SAT", epochs=2, batch_size=2, crop_size=32, val_crop_size=64, lr=0.05)
    tuning = ne.FineTuning(epochs=1, lr=0.01)
    palu = {0: [s for s in plan if s.region == "palu"]}
    runs = ne.plan_runs(palu, tmp_path, base, tuning, shots=(0, 2))
    assert [r.configuration for r in runs] == [ne.HELD_OUT, ne.IN_REGION, ne.k_label(2)]
    held, inside, tuned = runs
    assert tuned.spec.config.init_weights == str(held.folder / "best.pt")
    assert tuned.spec.identity()["starts_from"] == held.spec.digest() and tuned.spec.config.batch_size == 2
    split = palu[0][0]
    held_steps = held.spec.config.epochs * (len(split.elsewhere) // held.spec.config.batch_size)
    per_epoch = len(split.pool) // inside.spec.config.batch_size
    assert inside.spec.config.epochs == -(-held_steps // per_epoch)  # the fewest epochs with the held-out's steps
    assert inside.spec.config.val_every == inside.spec.config.epochs

    # An interrupted held-out run: one of its two epochs done, its last.pt written.
    from landslide_core.train.loop import train

    stop = RuntimeError("interrupted")

    def interrupt(row):
        raise stop

    with pytest.raises(RuntimeError):
        train(held.spec.config, held.spec.data_root, held.folder, manifest=held.spec.manifest, progress=False,
              identity=held.spec.identity(), on_epoch_end=interrupt)
    assert (held.folder / "last.pt").is_file() and not held.done()

    calls = _trained(monkeypatch)
    ne.run_event(tuned, progress=False)  # trains its parent first, resuming it
    assert calls == [(held.folder.name, 1), (tuned.folder.name, 0)]  # the held-out run resumed after epoch 1
    assert held.done() and tuned.done() and (held.folder / "best.pt").is_file()
    assert not (tuned.folder / "best.pt").exists()  # a k-tile run keeps only its scores
    ne.run_event(inside, progress=False)
    counts = ne.event_counts(runs)
    assert set(counts["configuration"]) == {ne.HELD_OUT, ne.IN_REGION, ne.k_label(2)}
    assert sorted(counts.loc[counts["configuration"] == ne.HELD_OUT, "tile"]) == sorted(palu[0][0].evaluation)

    calls.clear()
    again = ne.plan_runs(palu, tmp_path, base, tuning, shots=(0, 2, 3))
    for run in again:
        ne.run_event(run, progress=False)
    assert calls == [(next(r for r in again if r.configuration == ne.k_label(3)).folder.name, 0)]
    assert [r.folder for r in again if r.configuration != ne.k_label(3)] == [r.folder for r in runs]

    changed = ne.plan_runs(palu, tmp_path, replace(base, lr=0.02), tuning, shots=(0, 2))
    assert {r.folder for r in changed}.isdisjoint({r.folder for r in runs})  # other settings: new runs

    counts = ne.event_counts(again)
    baselines = ne.baseline_counts(palu, (0, 2, 3), crop_size=64, progress=False)
    assert set(baselines["configuration"]) == {"all landslide", "all background", ne.rule_label(None),
                                               ne.rule_label(2), ne.rule_label(3)}
    judged = ne.judge_event(counts, baselines, palu, (0, 2, 3), BootstrapSettings(resamples=200))
    gap = judged.difference(ne.IN_REGION, ne.HELD_OUT, "iou", region="palu")
    inside = judged.estimate(ne.IN_REGION, "iou", region="palu")["value"]
    held_iou = judged.estimate(ne.HELD_OUT, "iou", region="palu")["value"]
    assert gap["delta"] == pytest.approx(inside - held_iou)


@pytest.mark.slow
def test_chains_run_as_local_scheduler_jobs_and_are_not_sent_again_once_done(root, plan, tmp_path):
    from landslide_core.experiments.jobs import Scheduler

    base = tiny_config(group="SAT", epochs=1, batch_size=2, crop_size=32, val_crop_size=64)
    runs = ne.plan_runs({0: [s for s in plan if s.region == "palu"]}, tmp_path, base, ne.FineTuning(1, 0.01),
                        shots=(0, 2))
    chains = ne.chains(runs)
    assert [[r.configuration for r in c.runs] for c in chains] == [[ne.HELD_OUT, ne.k_label(2)], [ne.IN_REGION]]
    local = Scheduler(executor="local", gpus_per_job=0, parallel=2, threads=1, time_min=30)
    lines = ne.submit_events(runs, tmp_path / "jobs", local, poll_s=0.2, echo=lambda line: None)
    assert sorted(lines) == sorted(f"chain {c.index} ({c.label}) done" for c in chains)
    assert all(run.done() for run in runs) and (runs[0].folder / "job.json").is_file()
    assert ne.submit_events(runs, tmp_path / "jobs", local, echo=lambda line: None) == []  # nothing left
    with pytest.raises(GridError, match="one GPU"):
        ne.submit_events(runs, tmp_path / "jobs", replace(local, gpus_per_job=2))
