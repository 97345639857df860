"""A new event as an experiment: a model trained on the other study regions, scored on one held out, then adapted.

After an earthquake or a storm the mapper's questions are how well a model trained on past events maps this one,
and how many of its tiles must be labelled before it maps it well. For each study region of paper Table 4 (each
CAS sub-dataset belongs to one, :func:`~landslide_core.sources.cas.region`) and each seed:

- The region's tiles of the sensor group are split by leakage group (:func:`~landslide_core.data.splits.make_grouped_split`):
  the ``val`` side is its **evaluation tiles**, on which every model and baseline of the region is scored; the
  ``train`` side is its **labelled pool**; tiles sharing pixels with both sides are left out (``buffer``).
- **held-out**: trained on every other region's tiles except those that share pixels (same leakage group) with any
  tile of the region.
- **in-region**: trained from scratch on the labelled pool, for as many optimisation steps as the held-out model:
  what labelling the region's share of a 7:3 split buys.
- **k tiles**: the held-out model fine-tuned on the first k tiles of the pool, in an order drawn from the seed
  (whole leakage groups, shuffled), so the k tiles of a smaller k are among those of a larger one. k = 0 is the
  held-out model itself. A k larger than the pool is not run.

Every run validates once, after its last epoch, on the evaluation tiles; its scores are that validation's counts
(:func:`~.runs.train_and_evaluate`). A run's folder is named by its identity (a k-tile run's names the held-out run
it starts from), so a rerun with other settings trains anew and one with another k adds only the new runs.

The split of every region is worked out once per data root, sensor group, seed and share (one leakage audit of
the group's tiles) and kept in ``regions_<group>_seed<N>.json`` beside the manifests, with the listing checksum of
the tiles it was made from; a changed data root is refused rather than split again under finished runs.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import submitit
from tqdm.auto import tqdm

from ..building.leakage_split import audited_groups
from ..data.splits import BUFFER, make_grouped_split, write_manifest
from ..data.statistics import usable_cores
from ..errors import ConfigError, GridError, ManifestError
from ..eval.baselines import ALL_BACKGROUND, ALL_LANDSLIDE, THRESHOLD_RULE, baseline_scores
from ..io.atomic import write_text_atomic
from ..provenance import listing_checksum
from ..scoring.intervals import BootstrapSettings, Judged, judge
from ..sources import CAS
from ..sources.cas import get_subdataset, regions
from ..tiles import TileRecord
from ..train.checkpoints import BEST
from ..train.config import TrainConfig
from .grid import DONE, JOB_FILE, MISSING
from .jobs import Scheduler, submit_work
from .runs import SCORES_FILE, RunSpec, check_identity, read_tile_counts, train_and_evaluate
from .table5 import prune_checkpoints

__all__ = [
    "HELD_OUT", "IN_REGION", "EventJob", "EventRun", "FineTuning", "RegionSplit", "baseline_counts", "chain_table",
    "chains",
    "compared_pairs", "event_counts", "judge_event", "k_label", "plan_regions", "plan_runs", "region_of", "rule_label",
    "run_event", "submit_events",
]

HELD_OUT, IN_REGION = "held-out", "in-region"
"""The two runs of every region and seed besides the k-tile ones (as :attr:`EventRun.configuration` names them)."""


def k_label(k: int) -> str:
    """How a k-tile run is named in tables: ``k = 5`` (``k = 0`` is the held-out model)."""
    return f"k = {k}"


def rule_label(k: int | None) -> str:
    """The threshold rule fitted on the other regions (``None``) or on k tiles of the region."""
    return f"{THRESHOLD_RULE} (other regions)" if k is None else f"{THRESHOLD_RULE} ({k} tiles)"


def region_of(record: TileRecord) -> str:
    """The study region (paper Table 4 key) of a CAS tile."""
    return get_subdataset(record.subdataset).region


@dataclass(frozen=True)
class RegionSplit:
    """One region's part of a seed's plan: its evaluation tiles, its labelled pool and what the others train on."""

    region: str
    location: str
    """The region as paper Table 4 names it."""
    seed: int
    evaluation: tuple[str, ...]
    """Uids of the evaluation tiles (every model of the region is scored on them)."""
    pool: tuple[str, ...]
    """Uids of the labelled pool, in the order the k tiles are taken."""
    elsewhere: tuple[str, ...]
    """Uids of the other regions' tiles the held-out model trains on."""
    left_out: int
    """Tiles of other regions left out of the held-out model's training: they share pixels with this region's."""
    blocks: Mapping[str, str]
    """Evaluation tile uid → its leakage group (what the intervals resample together)."""
    root: Path
    """The data root the manifests list the tiles of."""
    folder: Path
    """Where its manifests are."""

    def manifest(self, role: str) -> Path:
        """The manifest of one run kind: :data:`HELD_OUT`, :data:`IN_REGION` or ``k<N>``."""
        return self.folder / f"{self.region}_{role}.csv"


@dataclass(frozen=True)
class FineTuning:
    """How the held-out model is fine-tuned on k tiles (ours: the paper has no such experiment)."""

    epochs: int
    lr: float


def _pool_order(pool: Sequence[TileRecord], groups: Mapping[str, str], seed: int, region: str) -> list[str]:
    """The pool's uids: its leakage groups in an order drawn from (seed, region), each group's tiles by name."""
    by_group: dict[str, list[str]] = {}
    for record in sorted(pool, key=lambda r: r.uid):
        by_group.setdefault(groups.get(record.uid, record.uid), []).append(record.uid)
    keys = sorted(by_group, key=lambda g: by_group[g][0])
    rng = np.random.default_rng([seed, zlib.crc32(region.encode())])
    return [uid for i in rng.permutation(len(keys)).tolist() for uid in by_group[keys[i]]]


def _split_regions(records: Sequence[TileRecord], groups: Mapping[str, str], links: Iterable[tuple[str, str]], *,
                   seed: int, val_fraction: float) -> dict[str, dict[str, Any]]:
    """Each region's evaluation tiles, ordered pool, the other regions' tiles its held-out model trains on."""
    region = {record.uid: region_of(record) for record in records}
    by_region: dict[str, list[TileRecord]] = {}
    for record in records:
        by_region.setdefault(region[record.uid], []).append(record)
    links = list(links)
    plans = {}
    for key, inside in by_region.items():
        split = make_grouped_split(inside, groups, links=links, val_fraction=val_fraction, seed=seed)
        touched = {groups.get(r.uid, r.uid) for r in inside}
        others = [r for r in records if region[r.uid] != key]
        trains = sorted(r.uid for r in others if groups.get(r.uid, r.uid) not in touched)
        evaluation = sorted(r.uid for r in split if r.split == "val")
        plans[key] = {"evaluation": evaluation,
                      "pool": _pool_order([r for r in split if r.split == "train"], groups, seed, key),
                      "elsewhere": trains, "left_out": len(others) - len(trains),
                      "blocks": {uid: groups.get(uid, uid) for uid in evaluation}}
    return plans


def _write_role(records: Sequence[TileRecord], path: Path, root: Path, train: Iterable[str], val: Iterable[str], *,
                seed: int, val_fraction: float) -> None:
    """A manifest listing every tile under the root: ``train`` and ``val`` as given, every other tile ``buffer``."""
    if path.is_file():
        return
    sides = {uid: "train" for uid in train} | {uid: "val" for uid in val}
    write_manifest([replace(r, split=sides.get(r.uid, BUFFER)) for r in records], path, root=root, seed=seed,
                   val_fraction=val_fraction)


def plan_regions(root: str | Path, splits_dir: Path, *, group: str = "UAV&SAT", seed: int = 0,
                 val_fraction: float = 0.3, shots: Sequence[int] = (), chosen: Sequence[str] | None = None,
                 progress: bool = True) -> list[RegionSplit]:
    """Every chosen region's split for one seed, with the manifests of its runs (written where missing).

    Args:
        root: The CAS data root.
        splits_dir: Where the plan and the manifests go (one folder per group and seed under it).
        group: The sensor group (``UAV``, ``SAT``, ``UAV&SAT``); only its tiles train or are scored.
        seed: Draws each region's split and the order of its pool.
        val_fraction: Each region's share of evaluation tiles (ours: the paper's 7:3).
        shots: The k values whose manifests to write (those larger than a region's pool are skipped).
        chosen: Region keys to plan (default every region with tiles of the group enough for both evaluation tiles
            and a labelled pool), in Table 4's order.
        progress: Show the leakage audit's progress.

    Raises:
        ConfigError: A chosen region has no tile of the group, or fewer than two regions have any.
        ManifestError: The plan on disk was made from other tiles than the root holds now.
    """
    root = Path(root)
    records = CAS.list_tiles(root)
    in_group = CAS.select_group(records, group)
    folder = splits_dir / f"regions_{group.replace('&', '+')}_seed{seed}"
    plan_file = folder / "plan.json"
    listing = listing_checksum(in_group, root)
    if plan_file.is_file():
        saved = json.loads(plan_file.read_text(encoding="utf-8"))
        if (saved["listing_sha256"], saved["val_fraction"]) != (listing, val_fraction):
            raise ManifestError(plan_file, f"made from other tiles or another share (val_fraction "
                                f"{saved['val_fraction']}) than the {len(in_group)} {group} tiles under {root} now",
                                "delete the folder to split the regions anew, or pass the runs_dir of this data")
        plans = saved["regions"]
    else:
        audit, groups = audited_groups(in_group, workers=usable_cores(), progress=progress)
        plans = _split_regions(in_group, groups, audit.links(), seed=seed, val_fraction=val_fraction)
        write_text_atomic(plan_file, json.dumps({"listing_sha256": listing, "val_fraction": val_fraction,
                                                 "group": group, "seed": seed, "regions": plans}, indent=1) + "\n")
    order = [r.key for r in regions() if r.key in plans and plans[r.key]["evaluation"] and plans[r.key]["pool"]]
    wanted = order if chosen is None else list(chosen)
    unknown = [key for key in wanted if key not in order]
    if unknown or len(plans) < 2:
        raise ConfigError(f"regions {unknown or wanted} asked for, but {root} holds {group} tiles of "
                          f"{', '.join(order) or 'no region'} enough to hold out (evaluation tiles and a labelled "
                          "pool), and a held-out region needs others to train on; choose among these (paper Table "
                          "4's keys)")
    locations = {r.key: r.location for r in regions()}
    splits = []
    for key in [k for k in order if k in wanted]:
        plan = plans[key]
        split = RegionSplit(key, locations[key], seed, tuple(plan["evaluation"]), tuple(plan["pool"]),
                            tuple(plan["elsewhere"]), int(plan["left_out"]), dict(plan["blocks"]), root,
                            folder)
        write = dict(records=records, root=root, val=split.evaluation, seed=seed, val_fraction=val_fraction)
        _write_role(path=split.manifest(HELD_OUT), train=split.elsewhere, **write)
        _write_role(path=split.manifest(IN_REGION), train=split.pool, **write)
        for k in shots:
            if 0 < k <= len(split.pool):
                _write_role(path=split.manifest(f"k{k}"), train=split.pool[:k], **write)
        splits.append(split)
    return splits


@dataclass(frozen=True)
class EventRun:
    """One training run of the page: a region, a seed and what it trains on; a k-tile run starts from ``parent``."""

    region: str
    seed: int
    configuration: str
    """:data:`HELD_OUT`, :data:`IN_REGION` or :func:`k_label`."""
    spec: RunSpec
    folder: Path
    parent: EventRun | None = None
    keep_checkpoint: bool = True
    """Keep ``best.pt`` once scored (a held-out model: the k-tile runs start from it)."""

    @property
    def label(self) -> str:
        """``palu, k = 5, seed 0``."""
        return f"{self.region}, {self.configuration}, seed {self.seed}"

    def done(self) -> bool:
        """Whether it has been trained and scored (its ``scores.csv`` is written last)."""
        return (self.folder / SCORES_FILE).is_file()


def plan_runs(splits: Mapping[int, Sequence[RegionSplit]], runs_dir: Path, base: TrainConfig, tuning: FineTuning,
              shots: Sequence[int]) -> list[EventRun]:
    """Every run of every seed and region: held-out, in-region, then one per k in ``shots`` that fits the pool.

    ``base`` sets the model and training; group and seed come from the plan, and every run validates once, after
    its last epoch, with batches of at most as many tiles as it trains on (a small region's pool). The in-region run
    takes as many epochs as give it the held-out run's number of optimisation steps (ours: the same training
    budget, so that the gap is not a matter of how long each trained). A k-tile run trains ``tuning.epochs`` epochs
    at ``tuning.lr`` on batches of at most k tiles, starting from the held-out run's ``best.pt``; it is short, so it
    writes its resume checkpoint only at its end.
    """
    runs = []
    for seed, seed_splits in splits.items():
        for split in seed_splits:
            common = replace(base, seed=seed, val_every=base.epochs)
            held = _run(split, HELD_OUT, replace(common, batch_size=min(base.batch_size, len(split.elsewhere))),
                        runs_dir, HELD_OUT)
            inside = _matched(replace(common, batch_size=min(base.batch_size, len(split.pool))), len(split.pool),
                              steps=base.epochs * _steps(held.spec.config, len(split.elsewhere)))
            runs += [held, _run(split, IN_REGION, inside, runs_dir, IN_REGION, keep=False)]
            for k in sorted({k for k in shots if 0 < k <= len(split.pool)}):
                tuned = replace(common, epochs=tuning.epochs, lr=tuning.lr, val_every=tuning.epochs,
                                checkpoint_every=tuning.epochs,
                                batch_size=min(base.batch_size, k), init_weights=str(held.folder / BEST))
                runs.append(_run(split, f"k{k}", tuned, runs_dir, k_label(k), parent=held, keep=False))
    return runs


def _steps(config: TrainConfig, tiles: int) -> int:
    """Optimisation steps per epoch of ``config`` on ``tiles`` training tiles (the last partial batch dropped)."""
    return min(tiles // config.batch_size, config.steps_per_epoch or tiles)


def _matched(config: TrainConfig, tiles: int, *, steps: int) -> TrainConfig:
    """``config`` with the epochs that give at least ``steps`` optimisation steps on ``tiles`` tiles.

    Its resume checkpoint is written as often in steps as ``config``'s (not once per epoch of a small pool).
    """
    epochs = max(1, -(-steps // max(_steps(config, tiles), 1)))
    every = max(1, config.checkpoint_every * epochs // config.epochs)
    return replace(config, epochs=epochs, val_every=epochs, checkpoint_every=every)


def _run(split: RegionSplit, role: str, config: TrainConfig, runs_dir: Path, configuration: str, *,
         parent: EventRun | None = None, keep: bool = True) -> EventRun:
    kind = {HELD_OUT: "other regions", IN_REGION: "grouped, in region"}.get(role, f"{role[1:]} tiles of the region")
    spec = RunSpec(config, split.root, split.manifest(role), f"new event: {kind}",
                   starts_from=parent.spec.digest() if parent else "")
    stem = f"{split.region}_{role}_seed{split.seed}"
    return EventRun(split.region, split.seed, configuration, spec, spec.folder(runs_dir, stem), parent, keep)


def run_event(run: EventRun, *, progress: bool = True) -> None:
    """Train and score ``run`` (its held-out parent first, where not done); a finished run is left alone.

    Each run resumes from its ``last.pt`` when interrupted (:func:`~.runs.train_and_evaluate`).
    """
    if run.parent is not None and not run.parent.done():
        run_event(run.parent, progress=progress)
    if not run.done():
        train_and_evaluate(run.spec, run.folder, progress)
        prune_checkpoints(run.folder, run.keep_checkpoint)
    check_identity(run.folder, run.spec)


class EventJob(submitit.helpers.Checkpointable):
    """What a submitit job runs: a chain of runs in order (a held-out model, then its k-tile runs).

    Requeued on preemption or timeout, it resumes where it stopped.
    """

    def __init__(self, runs: Sequence[EventRun], threads: int | None = None) -> None:
        self.runs, self.threads = list(runs), threads

    def __call__(self) -> str:
        """Run every run of the chain; return the first one's folder."""
        if self.threads is not None:
            import torch

            torch.set_num_threads(self.threads)
        for run in self.runs:
            run_event(run, progress=False)
        return str(self.runs[0].folder)


@dataclass(frozen=True)
class _Chain:
    """A :mod:`.jobs` piece of work: one region and seed's held-out model and its k-tile runs, or its in-region run."""

    index: int
    runs: tuple[EventRun, ...]
    kind: str = "chain"

    @property
    def label(self) -> str:
        first = self.runs[0]
        return f"{first.region}, seed {first.seed}: " + ", ".join(run.configuration for run in self.runs)

    @property
    def job_file(self) -> Path:
        return self.runs[0].folder / JOB_FILE

    def done(self) -> bool:
        return all(run.done() for run in self.runs)

    def job(self, threads: int | None) -> EventJob:
        return EventJob(self.runs, threads)


def chains(runs: Sequence[EventRun]) -> list[_Chain]:
    """The runs as jobs: per region and seed, the held-out model with its k-tile runs, and the in-region run."""
    grouped: dict[tuple[str, int, bool], list[EventRun]] = {}
    for run in runs:
        grouped.setdefault((run.region, run.seed, run.configuration == IN_REGION), []).append(run)
    return [_Chain(i, tuple(chain)) for i, chain in enumerate(grouped.values())]


def chain_table(works: Sequence[_Chain]) -> pd.DataFrame:
    """Every run of every chain, one row each: region, seed, run and whether it is done (as ``grid_table`` lists cells)."""
    rows = [{"chain": work.index, "region": run.region, "seed": run.seed, "run": run.configuration,
             "state": DONE if run.done() else MISSING, "folder": run.folder.name}
            for work in works for run in work.runs]
    return pd.DataFrame(rows).set_index("chain")


def submit_events(runs: Sequence[EventRun], jobs_dir: str | Path, scheduler: Scheduler, *, wait: bool = False,
                  poll_s: float = 2.0, echo: Callable[[str], None] = print) -> list[str]:
    """Send the unfinished chains (:func:`chains`) to the scheduler, as the Table 5 grid sends its cells.

    Raises:
        GridError: More than one GPU per job is asked for (a chain trains on one device; the grid's cells may use DDP).
    """
    if scheduler.gpus_per_job > 1:
        raise GridError(f"a new-event chain trains on one GPU, not {scheduler.gpus_per_job}: use --gpus-per-job 1 "
                        "and let the chains run side by side")
    return submit_work(chains(runs), jobs_dir, scheduler, name="landslide-new-event", wait=wait, poll_s=poll_s,
                       echo=echo)


def event_counts(runs: Sequence[EventRun]) -> pd.DataFrame:
    """The per-tile counts of every finished run: ``region``, ``seed``, ``configuration``, ``run`` and the counts.

    Raises:
        RunMismatchError: A finished run's ``config.json`` differs from the identity asked for.
    """
    frames = []
    for run in runs:
        if run.done():
            check_identity(run.folder, run.spec)
            frames.append(read_tile_counts(run.folder).assign(region=run.region, seed=run.seed,
                                                              configuration=run.configuration, run=run.folder.name))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def baseline_counts(splits: Mapping[int, Sequence[RegionSplit]], shots: Sequence[int], *,
                    crop_size: int | None, progress: bool = True) -> pd.DataFrame:
    """The baselines' per-tile counts on every region's evaluation tiles, as :func:`event_counts` gives the runs'.

    All landslide, all background, the threshold rule fitted on the other regions' tiles the held-out model trains
    on, and one fitted on each k tiles that fit the pool; scored on the central crops the runs were (``crop_size``).
    Each data root is listed once; the rule's colour histograms are counted once per sub-dataset and process
    (:func:`~landslide_core.eval.baselines.fit_threshold_rule`).
    """
    listed: dict[Path, dict[str, TileRecord]] = {}
    fits = []
    for seed, seed_splits in splits.items():
        for split in seed_splits:
            if split.root not in listed:
                listed[split.root] = {r.uid: r for r in CAS.list_tiles(split.root)}
            fits += [(seed, split, None, split.elsewhere)] + [(seed, split, k, split.pool[:k])
                                                              for k in sorted(set(shots)) if 0 < k <= len(split.pool)]
    frames = []
    for seed, split, k, trained in tqdm(fits, desc="baselines: fits", unit="fit", disable=not progress):
        tiles_of = listed[split.root]
        _, tiles, _ = baseline_scores([tiles_of[uid] for uid in trained], [tiles_of[uid] for uid in split.evaluation],
                                      source=CAS, crop_size=crop_size, constants=k is None)
        names = {THRESHOLD_RULE: rule_label(k), ALL_LANDSLIDE: ALL_LANDSLIDE, ALL_BACKGROUND: ALL_BACKGROUND}
        frames.append(tiles.assign(configuration=tiles["model"].map(names), region=split.region, seed=seed))
    return pd.concat(frames, ignore_index=True)


def compared_pairs(shots: Sequence[int]) -> list[tuple[str, str]]:
    """The differences the page reads, as (a, b) pairs of configurations.

    The gap (in-region − held-out); each k against in-region, against the held-out model and against the rule fitted
    on the same k tiles; every model against the two constants; the held-out model against the rule fitted on the
    other regions.
    """
    pairs = [(IN_REGION, HELD_OUT)]
    for k in sorted({k for k in shots if k > 0}):
        pairs += [(IN_REGION, k_label(k)), (k_label(k), HELD_OUT), (k_label(k), rule_label(k))]
    for model in (IN_REGION, HELD_OUT, *(k_label(k) for k in sorted({k for k in shots if k > 0}))):
        pairs += [(model, ALL_LANDSLIDE), (model, ALL_BACKGROUND)]
    return pairs + [(HELD_OUT, rule_label(None))]


def judge_event(counts: pd.DataFrame, baselines: pd.DataFrame, splits: Mapping[int, Sequence[RegionSplit]],
                shots: Sequence[int], settings: BootstrapSettings | None = None) -> Judged:
    """Runs' and baselines' scores per region with block-bootstrap intervals, and :func:`compared_pairs`.

    ``counts`` come from :func:`event_counts`, ``baselines`` from :func:`baseline_counts`.

    Within a region every configuration (runs and baselines, every seed) is resampled with the same draws over the
    union of the seeds' evaluation tiles, by leakage group (:attr:`RegionSplit.blocks`), so the differences are
    paired.
    """
    blocks: dict[str, dict[str, str]] = {}
    for seed_splits in splits.values():
        for split in seed_splits:
            blocks.setdefault(split.region, {}).update(split.blocks)
    ordered = pd.concat([counts, baselines], ignore_index=True).sort_values(["region", "tile"], kind="stable")
    return judge(ordered, within=["region"], configuration="configuration",
                 blocks=lambda cell: blocks.get(cell["region"]), settings=settings, pairs=compared_pairs(shots))
