"""Paper Table 6 as an experiment: one model trained before and after quality control, and under a grouped split.

Three arms, each one training run in its own folder (resumable, read back when finished):

- ``unfiltered``: every tile cut from the scenes ("Original SAT" in Table 6);
- ``filtered``: the tiles quality control kept ("SAT"), split 7:3 at random, as the paper says for Table 5:
  “randomly split each subdataset into training and validation sets at a 7:3 ratio” (that Table 6 was split
  the same way is ours);
- ``grouped``: the kept tiles under a split that keeps every group of tiles sharing pixels on one side (ours, not
  in Table 6): the gap to ``filtered`` is what leakage adds to a random split's scores.

The unfiltered split extends the filtered one: kept tiles keep their side and the rejected tiles are split 7:3
with the same seed, so both models can also be scored on the same validation tiles (the filtered ones). Scoring
each arm on its own validation set is our reading of Table 6, which names no validation tiles
(``unfiltered_own_split`` in ``landslide_core/paper/inferences.yaml``); there the unfiltered model is also judged
on the tiles quality control removed.

For intervals, every score comes with its counts per tile: the runs' own (``tile_counts.csv``), the baselines' beside
each arm's manifest, and both models' on the common tiles (:func:`common_validation_scores`); :func:`arm_tile_counts`
gathers the first two and :func:`validation_blocks` the leakage groups a bootstrap resamples them by.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from ..data.splits import load_or_make_split, make_split, split_records, write_manifest
from ..errors import BaselineError
from ..eval.baselines import baseline_scores
from ..eval.evaluation import evaluate_checkpoint_tiles
from ..io.atomic import write_text_atomic
from ..scoring.confusion import SCORE_COLUMNS
from ..sources import TileSource, get_source
from ..tiles import TileRecord
from ..train.config import TrainConfig
from .blocks import union_blocks
from .runs import SCORES_FILE, GridRun, RunSpec, baseline_tiles_path, read_run, train_and_evaluate
from .table5 import paper_name, run_stem

__all__ = ["ARMS", "QCArm", "arm_tile_counts", "common_validation_scores", "qc_arms", "run_table6", "table6",
           "table6_baselines", "validation_blocks", "validation_records"]

ARMS = {"unfiltered": "Original SAT", "filtered": "SAT", "grouped": "SAT, grouped split"}
"""Arm key and the dataset label its row carries (the paper's labels for the first two)."""


@dataclass(frozen=True)
class QCArm:
    """One arm of the experiment: which tiles, which split."""

    key: str
    dataset: str
    data_root: Path
    manifest: Path

    def spec(self, base: TrainConfig) -> RunSpec:
        """The run of ``base`` on this arm: its tiles, its manifest, and its kind of split."""
        return RunSpec(base, self.data_root, self.manifest, "grouped" if self.key == "grouped" else "random")


def qc_arms(filtered_root: str | Path, runs_dir: str | Path, *, grouped: Sequence[TileRecord],
            unfiltered_root: str | Path | None = None, seed: int = 0, val_fraction: float = 0.3,
            source: str = "cas") -> list[QCArm]:
    """Write (or read back) the arms' split manifests under ``runs_dir``.

    Args:
        filtered_root: The tiles quality control kept.
        runs_dir: Where manifests and runs go.
        grouped: The filtered tiles under a grouped split
            (:func:`landslide_core.building.leakage_split.grouped_split`), written as the ``grouped`` arm's
            manifest unless one is there already.
        unfiltered_root: Every tile cut from the scenes (same names as in ``filtered_root``); ``None`` where
            only filtered tiles exist (the published dataset), which leaves out the ``unfiltered`` arm.
        seed: Seed of every split.
        val_fraction: Validation share.
        source: The tile source.
    """
    runs_dir = Path(runs_dir)
    tiles = get_source(source)
    manifests = {key: runs_dir / f"split-{key}-seed{seed}.csv" for key in ARMS}
    filtered = load_or_make_split(filtered_root, manifests["filtered"], seed=seed, val_fraction=val_fraction,
                                  source=tiles)
    if unfiltered_root is not None and not manifests["unfiltered"].exists():
        side = {r.uid: r.split for r in filtered}
        every = tiles.list_tiles(unfiltered_root)
        rejected = make_split([r for r in every if r.uid not in side], val_fraction=val_fraction, seed=seed)
        kept = [replace(r, split=side[r.uid]) for r in every if r.uid in side]
        write_manifest(kept + rejected, manifests["unfiltered"], root=unfiltered_root, seed=seed,
                       val_fraction=val_fraction)
    if not manifests["grouped"].exists():
        write_manifest(grouped, manifests["grouped"], root=filtered_root, seed=seed, val_fraction=val_fraction)
    roots = {"unfiltered": unfiltered_root, "filtered": filtered_root, "grouped": filtered_root}
    return [QCArm(key, label, Path(roots[key]), manifests[key]) for key, label in ARMS.items()
            if roots[key] is not None]


def run_table6(arms: list[QCArm], runs_dir: str | Path, base: TrainConfig, *,
               progress: bool = False) -> dict[str, GridRun]:
    """Train and evaluate ``base`` on each arm; finished arms are read back, interrupted ones resumed.

    Each arm's run folder is named by its identity (:class:`~.runs.RunSpec`), so other settings train anew.
    """
    runs = {}
    for arm in arms:
        spec = arm.spec(base)
        folder = spec.folder(runs_dir, f"{arm.key}_{run_stem(base.model, base.group, base.seed)}")
        if not (folder / SCORES_FILE).is_file():
            train_and_evaluate(spec, folder, progress)
        runs[arm.key] = read_run(spec, folder)
    return runs


def _group_row(scores: pd.DataFrame, group: str) -> pd.Series:
    return scores[(scores["group"] == group) & (scores["subdataset"] == "")].iloc[0]


def _sides(manifest: Path, group: str, source: str | TileSource) -> pd.Series:
    """Tiles of ``group`` per split value (``train``, ``val``, ``buffer``) in a manifest.

    A manifest lists every tile of its root (on the real data UAV tiles beside SAT); only the group's count.
    """
    source = get_source(source)
    listed = pd.read_csv(manifest, comment="#")
    return listed.loc[listed["group"].isin(source.groups[source.check_group(group)]), "split"].value_counts()


def table6(runs: Mapping[str, GridRun], arms: list[QCArm], *, source: str | TileSource = "cas") -> pd.DataFrame:
    """Table 6 rows on each arm's own validation set: model, dataset, tiles and the six scores (%).

    ``number`` counts the tiles of the run's group trained and validated on (Table 6's "Number"); ``left out``
    the tiles of that group a grouped split keeps out of both sides because they share pixels with validation
    tiles. ``source`` names the group's members.
    """
    rows = []
    for arm in arms:
        run = runs[arm.key]
        row = _group_row(run.scores, run.group)
        sides = _sides(arm.manifest, run.group, source)
        rows.append({"model": paper_name(run.model), "dataset": arm.dataset,
                     "number": int(sides.get("train", 0) + sides.get("val", 0)), "left out": int(sides.get("buffer", 0)),
                     "val tiles": int(row["tiles"]), **{m: float(row[m]) for m in SCORE_COLUMNS}})
    return pd.DataFrame(rows)


def table6_baselines(arms: list[QCArm], base: TrainConfig) -> pd.DataFrame:
    """The baselines' rows for each arm, with :func:`table6`'s columns.

    The threshold rule is fitted on the arm's training tiles of ``base.group``; every baseline is scored on its
    validation tiles of that group as the model was (``base.val_crop_size``). Tiles are counted as :func:`table6`'s.
    Each arm's baseline counts per tile are written beside its manifest (:func:`~.runs.baseline_tiles_path`), to pair
    with its run's.
    """
    rows = []
    source = base.tile_source()
    for arm in arms:
        sides = [split_records(arm.data_root, arm.manifest, seed=base.seed, val_fraction=base.val_fraction,
                               group=base.group, split=side, source=source) for side in ("train", "val")]
        scores, tiles, _ = baseline_scores(*sides, source=source, crop_size=base.val_crop_size, device="cpu")
        write_text_atomic(baseline_tiles_path(arm.manifest, base.group, base.val_crop_size), tiles.to_csv(index=False))
        manifest_sides = _sides(arm.manifest, base.group, source)
        for _, row in scores[(scores["group"] == base.group) & (scores["subdataset"] == "")].iterrows():
            rows.append({"model": row["model"], "dataset": arm.dataset,
                         "number": int(manifest_sides.get("train", 0) + manifest_sides.get("val", 0)),
                         "left out": int(manifest_sides.get("buffer", 0)), "val tiles": int(row["tiles"]),
                         **{m: float(row[m]) for m in SCORE_COLUMNS}})
    return pd.DataFrame(rows)


def common_validation_scores(runs: Mapping[str, GridRun], arms: list[QCArm], *, device: str = "cpu",
                             batch_size: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The unfiltered and filtered models scored on the same tiles: the filtered arm's validation set.

    The filtered model's are its own validation's counts, where its checkpoint kept them (it validated on those tiles).

    Returns:
        One row of scores per model (``trained on``: the arm's dataset label), and the same evaluation per tile
        (rows of :data:`~landslide_core.scoring.confusion.TILE_COLUMNS` with ``trained on``), which pair the two
        models tile by tile. Both are empty of a model without an arm or a kept checkpoint.
    """
    filtered = next(a for a in arms if a.key == "filtered")
    rows, tiles = [], []
    for key in ("unfiltered", "filtered"):
        run = runs.get(key)
        if run is None or run.checkpoint is None:
            continue
        scores, counts = evaluate_checkpoint_tiles(run.checkpoint, filtered.data_root, manifest=filtered.manifest,
                                                   group=run.group, batch_size=batch_size, device=device,
                                                   progress=False, reuse_validation=True)
        row = _group_row(scores, run.group)
        rows.append({"trained on": ARMS[key], "val tiles": int(row["tiles"]),
                     **{m: float(row[m]) for m in SCORE_COLUMNS}})
        tiles.append(counts.assign(model=paper_name(run.model), **{"trained on": ARMS[key]}))
    return pd.DataFrame(rows), (pd.concat(tiles, ignore_index=True) if tiles else pd.DataFrame())


def arm_tile_counts(runs: Mapping[str, GridRun], arms: list[QCArm], base: TrainConfig) -> pd.DataFrame:
    """Per-tile counts of every arm's model and baselines on the arm's own validation tiles, with ``dataset``.

    The models' come from their runs (labelled as :func:`table6` labels them), the baselines' from the files
    :func:`table6_baselines` writes beside each arm's manifest for ``base``'s group and crops.

    Raises:
        BaselineError: An arm's baseline counts were not written (call :func:`table6_baselines` first).
    """
    frames = []
    for arm in arms:
        run = runs[arm.key]
        path = baseline_tiles_path(arm.manifest, base.group, base.val_crop_size)
        if not path.is_file():
            raise BaselineError(f"no baseline counts per tile for {arm.dataset!r} at {path}: call table6_baselines "
                                "with the same arms and training configuration first")
        baselines = pd.read_csv(path, keep_default_na=False)
        frames += [run.tile_counts.assign(model=paper_name(run.model), dataset=arm.dataset),
                   baselines.assign(dataset=arm.dataset)]
    return pd.concat(frames, ignore_index=True)


def validation_records(arm: QCArm, base: TrainConfig) -> list[TileRecord]:
    """The validation tiles of ``base``'s group that an arm's model and baselines are scored on."""
    return split_records(arm.data_root, arm.manifest, seed=base.seed, val_fraction=base.val_fraction,
                         group=base.group, split="val", source=base.tile_source())


def validation_blocks(arms: Sequence[QCArm], base: TrainConfig) -> dict[str, str]:
    """Tile uid → leakage group of the validation tiles of ``arms`` together (one arm: its own tiles).

    Cached as :func:`~.blocks.union_blocks` says (the unfiltered arm's tiles cover the filtered arm's). Tiles are the
    same tile in every arm that has their uid.
    """
    return union_blocks({arm.manifest: validation_records(arm, base) for arm in arms}, base.group,
                        source=base.tile_source())
