"""Paper Table 7 as an experiment: one model per training dataset, all validated on Moxitaidi and on each other.

Paper Table 7 trains DeepLabV3+ on each public landslide dataset (Bijie,
Sichuan, HR-GLDD, Landslide4Sense) and on the CAS UAV, SAT and UAV&SAT tiles
outside Moxitaidi, and validates every model on the 2,119 Moxitaidi tiles. Here
each training set is a tile source and a root (any subset of datasets), every
dataset gets a held-out part written as a split manifest, and every model is
scored on every held-out part: the Moxitaidi column is Table 7, the whole matrix
shows which datasets transfer to which.

- CAS: the validation region's sub-datasets (default the three Moxitaidi ones) are held out; every other tile of
  the training set's sensor group trains (ours: the paper's “the remaining data were categorized into UAV and
  satellite classes and reconstituted as a training set”, though Table 7's CAS counts are 4 UAV and 8 SAT tiles
  below Table 2's, see :func:`landslide_core.paper.mismatches`).
- A dataset with a split of its own (HR-GLDD) keeps it; the others are split 7:3 at random from the seed (ours), so
  the models train on 70 % of the samples Table 7 counts, and every model has a held-out part to be scored on.

Every run validates once, after its last epoch, and the last checkpoint is scored: no epoch is chosen on the
tiles it is reported on. A run's folder, named by everything that decides its result (:func:`run_spec`), holds the
counts of every held-out tile it was scored on (``tile_counts.csv``, :func:`transfer_tiles`) and, written last,
``transfer.csv``: a folder with it is finished and is read back, never trained again.

Intervals: the counts per tile of the runs (:func:`transfer_tiles`) and of the baselines (:func:`table7_baselines`)
are resampled by leakage group of each held-out part's tiles (:func:`held_out_blocks`): :func:`judge_table7` gives
Table 7's cells with the baselines on the same tiles, :func:`judge_transfer` every cell of the transfer matrix and
the paired difference of every two training sets on each held-out part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ..data.splits import load_or_make_split, manifest_checksum, read_manifest, write_manifest
from ..errors import BaselineError, ConfigError, ManifestError
from ..eval.baselines import THRESHOLD_RULE, baseline_scores
from ..eval.evaluation import evaluate_checkpoint_tiles, open_checkpoint
from ..eval.paper import paper_values
from ..io.atomic import write_text_atomic
from ..scoring.confusion import COUNT_COLUMNS, SCORE_COLUMNS
from ..scoring.intervals import BootstrapSettings, Judged, judge
from ..sources import CAS, TileSource, get_source
from ..tiles import TileRecord
from ..train.checkpoints import BEST, LAST
from ..train.config import TrainConfig
from ..train.loop import train
from .blocks import union_blocks
from .runs import TILE_COUNTS_FILE, RunSpec, baseline_tiles_path, check_identity, read_tile_counts
from .table5 import paper_name

__all__ = [
    "CAS_TRAINING", "MOXITAIDI", "table7_baselines", "PAPER_LABELS", "TRANSFER_FILE", "HeldOut", "TrainingSet", "public_training_set",
    "cas_training_sets", "held_out_blocks", "held_out_records", "judge_table7", "judge_transfer", "run_spec",
    "run_table7", "table7", "table7_baseline_tiles", "training_sets", "training_sizes", "transfer_matrix",
    "transfer_tiles",
]

MOXITAIDI = ("moxitaidi-sat", "moxitaidi-uav-0.6m", "moxitaidi-uav-1m")
"""The validation region of paper Table 7: 652 + 984 + 483 = 2,119 tiles."""
CAS_TRAINING = {"UAV": "UAV", "SAT": "SAT", "SAT + UAV": "UAV&SAT"}
"""Paper Table 7's CAS rows and the sensor group each trains on."""
PAPER_LABELS = {"bijie": "Bijie", "sichuan": "Sichuan and Surrounding Areas Landslide Dataset",
                "hr-gldd": "HR-GLDD", "landslide4sense": "Landslide4Sense"}
"""Source name → the row label paper Table 7 gives the dataset."""
TRANSFER_FILE = "transfer.csv"


@dataclass(frozen=True)
class HeldOut:
    """A dataset's held-out part: the ``val`` side of its manifest."""

    dataset: str
    """Column label, e.g. ``Bijie`` or ``CAS (Moxitaidi)``."""
    source: dict[str, Any]
    """The source's :meth:`~landslide_core.sources.TileSource.spec`."""
    root: Path
    manifest: Path


@dataclass(frozen=True)
class TrainingSet:
    """One row of Table 7: a dataset (and, for CAS, a sensor group) trained on."""

    key: str
    """Run folder name, e.g. ``bijie`` or ``cas-uav``."""
    label: str
    """The paper's row label."""
    group: str
    """The source's group trained on (``all``; CAS ``UAV``, ``SAT`` or ``UAV&SAT``)."""
    held_out: HeldOut
    """The dataset's held-out part; its manifest's ``train`` side (of :attr:`group`) is what trains."""

    @property
    def source(self) -> TileSource:
        """The tile source, made from the held-out part's spec."""
        return get_source(self.held_out.source)

    def listed(self) -> list[TileRecord]:
        """Every tile of the dataset's manifest, with its side (``train``, ``val``)."""
        return read_manifest(self.held_out.manifest, self.held_out.root)

    def trained(self, listed: Sequence[TileRecord] | None = None) -> list[TileRecord]:
        """The tiles this row trains on: the manifest's ``train`` side of :attr:`group` (of ``listed``, if read)."""
        listed = self.listed() if listed is None else listed
        return self.source.select_group([r for r in listed if r.split == "train"], self.group)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def cas_training_sets(root: str | Path, splits_dir: Path, *, validation: Sequence[str] = MOXITAIDI, seed: int = 0,
                      val_fraction: float = 0.3, groups: Mapping[str, str] = CAS_TRAINING) -> list[TrainingSet]:
    """The CAS rows: each sensor group without the validation region, which is held out.

    The manifest lists every CAS tile under ``root``: ``val`` for the validation region's sub-datasets, ``train``
    for the others. Its header carries the training runs' ``seed`` and ``val_fraction``, which training checks;
    the held-out region, not the fraction, decides the sides.

    Raises:
        ConfigError: No tile of the validation region, or none outside it, is under ``root``.
        ManifestError: An existing manifest lists other tiles than ``root`` holds.
    """
    root = Path(root)
    keys = {CAS.subdataset_key(name) for name in validation}
    records = CAS.list_tiles(root)
    held = [r for r in records if r.subdataset in keys]
    if not held or len(held) == len(records):
        raise ConfigError(f"{root}: the validation region {sorted(keys)} must hold some but not all CAS tiles; "
                          f"found {len(held)} of {len(records)}")
    manifest = splits_dir / f"cas-{'-'.join(sorted(keys))}-seed{seed}.csv"
    if manifest.exists():
        listed = {r.uid: r.split for r in read_manifest(manifest, root)}
        wanted = {r.uid: "val" if r.subdataset in keys else "train" for r in records}
        if listed != wanted:
            raise ManifestError(manifest, "lists other tiles or sides than the data root and validation region give",
                                "delete it to write it anew for the current tiles")
    else:
        write_manifest([replace(r, split="val" if r.subdataset in keys else "train") for r in records], manifest,
                       root=root, seed=seed, val_fraction=val_fraction)
    names = ", ".join(sorted({r.subdataset for r in held}))
    held_out = HeldOut(f"CAS ({names})" if set(keys) != set(MOXITAIDI) else "CAS (Moxitaidi)", CAS.spec(), root,
                       manifest)
    return [TrainingSet(f"cas-{_slug(group)}", label, group, held_out) for label, group in groups.items()]


def public_training_set(name: str | Mapping[str, Any], root: str | Path, splits_dir: Path, *, seed: int = 0,
                        val_fraction: float = 0.3) -> TrainingSet:
    """A public dataset's row: its own split where it has one (HR-GLDD), else a seeded 7:3 split.

    Args:
        name: A source name (``bijie``, ``sichuan``, ``hr-gldd``, ``landslide4sense``, ``folder``) or a source spec
            with options.
        root: The dataset's root in its official layout.
        splits_dir: Where its manifest is written.
        seed: Seed of the split.
        val_fraction: Held-out share where the dataset has no split of its own.

    Raises:
        PathProblemError: The root is not in the source's layout (the message names it and where to download).
    """
    source = get_source(name)
    spec = source.spec()
    key = _slug(source.name)
    manifest = splits_dir / f"{key}-seed{seed}.csv"
    load_or_make_split(root, manifest, seed=seed, val_fraction=val_fraction, source=source)
    label = PAPER_LABELS.get(source.name, source.title)
    return TrainingSet(key, label, source.widest_group, HeldOut(label, spec, Path(root), manifest))


def _held_out_parts(sets: Sequence[TrainingSet]) -> list[tuple[HeldOut, TileSource]]:
    """Each distinct held-out part with its source, made once.

    Every model's evaluation then reuses what the source computes per root (a uint8 stretch, open arrays).
    """
    parts: dict[str, HeldOut] = {}
    for training_set in sets:
        parts.setdefault(training_set.held_out.dataset, training_set.held_out)
    return [(part, get_source(part.source)) for part in parts.values()]


def _transfer(checkpoint: Path, parts: Sequence[tuple[HeldOut, TileSource]], trained_on: str,
              config: TrainConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One model's scores on every held-out part (one row per part: its group row) and its counts per tile.

    The checkpoint is read and its model built once, for all the parts; on the part it validated on, its validation's
    counts are taken instead of scoring the part again.
    """
    rows, tiles = [], []
    opened = open_checkpoint(checkpoint)
    for part, source in parts:
        scores, per_tile = evaluate_checkpoint_tiles(opened, part.root, source=source, split="val",
                                                     manifest=part.manifest, group=source.widest_group,
                                                     batch_size=config.batch_size, device=config.device,
                                                     num_workers=config.num_workers, progress=False,
                                                     reuse_validation=True)
        row = scores[(scores["group"] == source.widest_group) & (scores["subdataset"] == "")].iloc[0]
        rows.append({"model": config.model, "trained on": trained_on, "evaluated on": part.dataset,
                     "tiles": int(row["tiles"]), **{c: row[c] for c in (*SCORE_COLUMNS, *COUNT_COLUMNS)}})
        tiles.append(per_tile.assign(**{"evaluated on": part.dataset}))
    return pd.DataFrame(rows), pd.concat(tiles, ignore_index=True)


def training_sets(cas_root: str | Path | None, public: Mapping[str, str | Path], splits_dir: Path, *, seed: int = 0,
                  validation: Sequence[str] = MOXITAIDI, cas_groups: Sequence[str] = tuple(CAS_TRAINING.values()),
                  val_fraction: float = 0.3) -> list[TrainingSet]:
    """Every training set of one seed: the public datasets given (source name → root), then the CAS rows.

    Args:
        cas_root: The CAS data root; ``None`` leaves out the CAS rows (and Table 7's validation column).
        public: Source name → the dataset's root in its official layout.
        splits_dir: Where the manifests are written.
        seed: Seed of the splits (one set of manifests per seed).
        validation: CAS sub-datasets held out (default Moxitaidi).
        cas_groups: The CAS sensor groups that train a model (``UAV``, ``SAT``, ``UAV&SAT``).
        val_fraction: Held-out share of a dataset without a split of its own.
    """
    sets = [public_training_set(name, root, splits_dir, seed=seed, val_fraction=val_fraction)
            for name, root in public.items()]
    if cas_root is not None:
        groups = {label: group for label, group in CAS_TRAINING.items() if group in cas_groups}
        sets += cas_training_sets(cas_root, splits_dir, validation=validation, seed=seed, val_fraction=val_fraction,
                                  groups=groups)
    return sets


def run_spec(training_set: TrainingSet, seed: int, base: TrainConfig, parts: Sequence[HeldOut]) -> RunSpec:
    """What decides one row's run: ``base`` on the training set's source and group, and every part it is scored on.

    The run validates once, after its last epoch (``val_every`` = ``epochs``).
    """
    source = training_set.source
    config = replace(base, source=source.name, source_options=dict(source.options), group=training_set.group,
                     seed=seed, val_every=base.epochs)
    scored_on = tuple(f"{part.dataset}: {manifest_checksum(part.manifest)}" for part in parts)
    return RunSpec(config, training_set.held_out.root, training_set.held_out.manifest, "held-out part",
                   scored_on=scored_on)


def run_table7(sets: Mapping[int, Sequence[TrainingSet]], runs_dir: str | Path, base: TrainConfig, *,
               progress: bool = False) -> pd.DataFrame:
    """Train ``base`` on every training set of every seed; score each last checkpoint on every held-out part.

    Finished runs are read back (their ``config.json`` checked against the identity asked for); interrupted ones
    resume. Each run validates once, after its last epoch, and keeps only its last checkpoint. A run's folder is
    named by its identity (:func:`run_spec`), so other settings, or other held-out parts, train anew.

    Args:
        sets: Seed → that seed's training sets (:func:`training_sets`): the seed draws the splits and the training.
        runs_dir: Where the run folders go.
        base: Model and training settings; source, group, seed and validation schedule are set per run.
        progress: Show progress bars.

    Returns:
        One row per (seed, training set, held-out part): model, tiles, the six scores (%), the confusion counts,
        and ``run``, the name of the run's folder under ``runs_dir``.

    Raises:
        RunMismatchError: A finished run's ``config.json`` differs from the identity its folder name stands for.
    """
    runs_dir, frames = Path(runs_dir), []
    for seed, seed_sets in sets.items():
        parts = _held_out_parts(seed_sets)
        for training_set in seed_sets:
            spec = run_spec(training_set, seed, base, [part for part, _ in parts])
            folder = spec.folder(runs_dir, f"{training_set.key}_seed{seed}")
            if not (folder / TRANSFER_FILE).is_file():
                train(spec.config, spec.data_root, folder, manifest=spec.manifest, progress=progress,
                      identity=spec.identity())
                (folder / BEST).unlink(missing_ok=True)  # validated once, after the last epoch: best is last
                transfer, tiles = _transfer(folder / LAST, parts, training_set.label, spec.config)
                write_text_atomic(folder / TILE_COUNTS_FILE, tiles.to_csv(index=False))
                write_text_atomic(folder / TRANSFER_FILE, transfer.to_csv(index=False))  # last: marks it finished
            check_identity(folder, spec)
            frames.append(pd.read_csv(folder / TRANSFER_FILE).assign(seed=seed, key=training_set.key, run=folder.name))
    return pd.concat(frames, ignore_index=True)


def transfer_tiles(transfer: pd.DataFrame, runs_dir: str | Path) -> pd.DataFrame:
    """The counts per tile behind :func:`run_table7`'s rows: every run's, labelled with its seed, key and run.

    Args:
        transfer: :func:`run_table7`'s rows (its ``run``, ``seed`` and ``key`` columns name the runs).
        runs_dir: The folder the runs are in.

    Returns:
        Rows of :data:`~landslide_core.scoring.TILE_COLUMNS` with ``evaluated on`` (the held-out part), ``seed``,
        ``key`` and ``run``; per run and held-out part their counts sum to the ``transfer`` row's.

    Raises:
        RunFolderError: A finished run has no ``tile_counts.csv``.
    """
    runs = transfer.drop_duplicates("run")
    return pd.concat([read_tile_counts(Path(runs_dir) / run, TRANSFER_FILE).assign(seed=seed, key=key, run=run)
                      for run, seed, key in zip(runs["run"], runs["seed"], runs["key"], strict=True)],
                     ignore_index=True)


def training_sizes(sets: Sequence[TrainingSet]) -> pd.DataFrame:
    """Per training set: tiles trained on and held out in this run, beside Table 7's count."""
    published = paper_values(7).set_index("dataset")["number"]
    rows = []
    for training_set in sets:
        listed = training_set.listed()
        paper = published.get(training_set.label)
        rows.append({"dataset": training_set.label, "trained on (this run)": len(training_set.trained(listed)),
                     "held out (this run)": sum(r.split == "val" for r in listed),
                     "trained on (paper)": int(paper) if paper not in (None, "") else None})
    return pd.DataFrame(rows)


def _cas_set(sets: Sequence[TrainingSet]) -> TrainingSet:
    """The first CAS training set, whose held-out part is Table 7's validation column.

    Raises:
        ConfigError: No CAS training set was given.
    """
    cas = [s for s in sets if s.held_out.source.get("name") == CAS.name]
    if not cas:
        raise ConfigError("Table 7 validates on the CAS held-out region; include the CAS data root")
    return cas[0]


def table7(transfer: pd.DataFrame, sets: Sequence[TrainingSet]) -> pd.DataFrame:
    """Table 7: every model on the CAS held-out region (mean over seeds), with the number trained on (``sets``' seed).

    Raises:
        ConfigError: No CAS training set was run, so there is no CAS held-out column.
    """
    column = _cas_set(sets).held_out.dataset
    sizes = training_sizes(sets).set_index("dataset")["trained on (this run)"]
    shown = transfer[transfer["evaluated on"] == column]
    means = shown.groupby(["model", "trained on"], sort=False)[[*SCORE_COLUMNS, "tiles"]].mean()
    rows = [{"model": paper_name(model), "dataset": label, "number": int(sizes[label]), "val tiles": int(row["tiles"]),
             **{m: float(row[m]) for m in SCORE_COLUMNS}} for (model, label), row in means.iterrows()]
    return pd.DataFrame(rows)


def table7_baselines(sets: Sequence[TrainingSet], base: TrainConfig) -> pd.DataFrame:
    """The baselines' rows beside each Table 7 row (one seed's ``sets``), with :func:`table7`'s columns.

    For each training set, the threshold rule is fitted on its training tiles; all three baselines are scored on
    the CAS held-out part as the models were (``base.val_crop_size``). All landslide and all background do not
    depend on the training set, so they repeat on every row. The three baselines' counts per tile are written for
    each training set beside the CAS held-out manifest (:func:`~.runs.baseline_tiles_path`, ``rule_from`` the
    training set's key), to pair with its runs' (:func:`transfer_tiles`).

    Raises:
        ConfigError: No CAS training set was given.
    """
    cas = _cas_set(sets)
    cas_source = cas.source
    held = cas_source.select_group([r for r in cas.listed() if r.split == "val"], cas_source.widest_group)
    rows, constants, constant_tiles = [], None, None
    for training_set in sets:
        trained = training_set.trained()
        scores, tiles, _ = baseline_scores(trained, held, source=cas_source, crop_size=base.val_crop_size,
                                           rule_source=training_set.source, constants=constants is None)
        group_rows = scores[(scores["group"] == cas_source.widest_group) & (scores["subdataset"] == "")]
        if constants is None:  # the same for every training set: scored once
            constants = group_rows[group_rows["model"] != THRESHOLD_RULE]
            constant_tiles = tiles[tiles["model"] != THRESHOLD_RULE]
        path = baseline_tiles_path(cas.held_out.manifest, cas_source.widest_group, base.val_crop_size,
                                   rule_from=training_set.key)
        write_text_atomic(path, pd.concat([constant_tiles, tiles[tiles["model"] == THRESHOLD_RULE]],
                                          ignore_index=True).to_csv(index=False))
        rows += [{"model": row["model"], "dataset": training_set.label, "number": len(trained),
                  "val tiles": int(row["tiles"]), **{m: float(row[m]) for m in SCORE_COLUMNS}}
                 for _, row in pd.concat([constants, group_rows[group_rows["model"] == THRESHOLD_RULE]]).iterrows()]
    return pd.DataFrame(rows)


def transfer_matrix(transfer: pd.DataFrame, metric: str = "iou") -> pd.DataFrame:
    """``metric`` (%) of every model (rows: trained on) on every held-out part (columns), mean over seeds."""
    table = transfer.pivot_table(index="trained on", columns="evaluated on", values=metric, aggfunc="mean", sort=False)
    table.columns.name, table.index.name = "evaluated on", "trained on"
    return table


def held_out_records(part: HeldOut) -> list[TileRecord]:
    """The tiles of a held-out part that every model is scored on: its manifest's ``val`` side, widest group."""
    source = get_source(part.source)
    return source.select_group([r for r in read_manifest(part.manifest, part.root) if r.split == "val"],
                               source.widest_group)


def held_out_blocks(sets: Mapping[int, Sequence[TrainingSet]]) -> dict[str, dict[str, str]]:
    """Held-out part → (tile uid → leakage group) over every seed's tiles of that part, resampled together.

    A part's seeds may hold out other tiles (a seeded split), so its groups are found among all of them at once.
    Cached as :func:`~.blocks.union_blocks` says (CAS: beside the part's one manifest, the validation region whatever
    the seed).
    """
    parts: dict[str, list[HeldOut]] = {}
    for seed_sets in sets.values():
        for part, _ in _held_out_parts(seed_sets):
            if all(p.manifest != part.manifest for p in parts.get(part.dataset, [])):
                parts.setdefault(part.dataset, []).append(part)
    return {name: union_blocks({part.manifest: held_out_records(part) for part in seeds},
                               get_source(seeds[0].source).widest_group, source=seeds[0].source)
            for name, seeds in parts.items()}


def table7_baseline_tiles(sets: Sequence[TrainingSet], base: TrainConfig) -> pd.DataFrame:
    """The baselines' counts per tile on the CAS held-out part, per training set (``dataset``: its row label).

    Read from the files :func:`table7_baselines` writes for ``sets`` and ``base.val_crop_size``; each training set's
    rows hold the constants and the threshold rule fitted on its own training tiles.

    Raises:
        ConfigError: No CAS training set was given.
        BaselineError: A training set's baseline counts were not written (call :func:`table7_baselines` first).
    """
    cas = _cas_set(sets)
    group = cas.source.widest_group
    frames = []
    for training_set in sets:
        path = baseline_tiles_path(cas.held_out.manifest, group, base.val_crop_size, rule_from=training_set.key)
        if not path.is_file():
            raise BaselineError(f"no baseline counts per tile for {training_set.label!r} at {path}: call "
                                "table7_baselines with the same training sets and configuration first")
        frames.append(pd.read_csv(path, keep_default_na=False).assign(dataset=training_set.label))
    return pd.concat(frames, ignore_index=True)


def _model_tiles(transfer: pd.DataFrame, tiles: pd.DataFrame) -> pd.DataFrame:
    """``tiles`` (:func:`transfer_tiles`) labelled as :func:`table7` labels the models: ``model`` and ``trained on``."""
    runs = transfer.drop_duplicates("run").set_index("run")
    return tiles.assign(model=tiles["run"].map(runs["model"]).map(paper_name),
                        **{"trained on": tiles["run"].map(runs["trained on"])})


def judge_table7(transfer: pd.DataFrame, tiles: pd.DataFrame, baseline_tiles: pd.DataFrame,
                 sets: Sequence[TrainingSet], blocks: Mapping[str, Mapping[str, str]],
                 settings: BootstrapSettings | None = None) -> Judged:
    """Table 7's cells with intervals: each row's model and the baselines on the CAS held-out tiles, paired.

    Within each ``dataset`` (a training set's row label) the model (named as :func:`table7` names it, every seed)
    and the three baselines (:func:`table7_baseline_tiles`, the threshold rule fitted on that training set) are
    resampled with the same draws over the held-out part's leakage groups. Tiles are taken in one order, so a
    model's interval equals its cell of :func:`judge_transfer`.

    Args:
        transfer: :func:`run_table7`'s rows.
        tiles: :func:`transfer_tiles` of those runs.
        baseline_tiles: :func:`table7_baseline_tiles`.
        sets: One seed's training sets (the CAS held-out part's column).
        blocks: :func:`held_out_blocks`.
        settings: Resamples, seed and coverage.

    Raises:
        ConfigError: No CAS training set was given.
    """
    column = _cas_set(sets).held_out.dataset
    models = _model_tiles(transfer, tiles)
    models = models[models["evaluated on"] == column].assign(dataset=lambda f: f["trained on"])
    constants = baseline_tiles.assign(seed=int(models["seed"].min()))
    counts = pd.concat([models, constants], ignore_index=True).sort_values("tile", kind="stable")
    return judge(counts, within=["dataset"], configuration="model", blocks=blocks.get(column), settings=settings)


def judge_transfer(transfer: pd.DataFrame, tiles: pd.DataFrame, blocks: Mapping[str, Mapping[str, str]],
                   settings: BootstrapSettings | None = None) -> Judged:
    """Every cell of the transfer matrix with its interval, and every two training sets compared on each part.

    Each held-out part (``evaluated on``) is resampled over its own leakage groups; the models (``trained on``)
    scored on it share the draws, so their differences are paired (same tiles; a seed's run carries zeros on
    another seed's held-out tiles).

    Args:
        transfer: :func:`run_table7`'s rows.
        tiles: :func:`transfer_tiles` of those runs.
        blocks: :func:`held_out_blocks`.
        settings: Resamples, seed and coverage.
    """
    counts = _model_tiles(transfer, tiles)
    part = pd.factorize(counts["evaluated on"])[0]  # parts in order of appearance, each part's tiles sorted
    counts = counts.assign(_part=part).sort_values(["_part", "tile"], kind="stable").drop(columns="_part")
    return judge(counts, within=["evaluated on"], configuration="trained on",
                 blocks=lambda cell: blocks.get(cell["evaluated on"]), settings=settings)
