"""The benchmarks page's panel on the shipped real sample: one model on a random and a grouped split, against baselines.

The page's grid runs on its main data (the synthetic demo tiles by default); this panel trains one model on the 24
real Hokkaido Iburi-Tobu tiles of ``data/sample`` (group SAT), once on a random 7:3 split and once on a grouped one,
with the grid's own machinery (:mod:`landslide_core.sections.benchmarks`, :mod:`landslide_core.experiments.table5`):
the same split manifests, run folders named by everything that decides them, baselines, per-tile counts, leakage
blocks and judged comparisons. Its runs go to their own folder beside the grid's (:func:`sample_runs_dir`), so the
two never mix; the models validate on full tiles, the pixels the leakage audit measures. What 24 tiles of one
sub-dataset can and cannot show is put in words from the scores (:func:`sample_text`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from ..building.leakage import audit_records, leakage_report
from ..data.splits import read_manifest
from ..eval.baselines import baseline_judgements, is_baseline, no_result, rule
from ..experiments.grid import grid_cells, run_cell
from ..experiments.runs import GridRun, read_run
from ..experiments.table5 import baseline_frame, grid_blocks, tile_counts_frame
from ..scoring.intervals import BootstrapSettings, Judged, difference_text, format_interval, interval_table, judge
from ..sources import get_source
from ..sources.cas.registry import get_subdataset
from .benchmarks import SPLIT_KINDS, GridSettings, baseline_table, grid_configs, prepare_splits

__all__ = [
    "LEAKAGE_COLUMNS", "SAMPLE_GROUP", "SAMPLE_RUNS", "SamplePanel", "leakage_frame", "sample_panel",
    "sample_runs_dir", "sample_settings", "sample_table", "sample_text", "train_sample_runs",
]

SAMPLE_GROUP = "SAT"
"""The sensor group of the sample's one sub-dataset (Hokkaido Iburi-Tobu is a SAT sub-dataset, paper Table 2)."""
SAMPLE_RUNS = "sample"
"""The folder under a code version's runs folder that holds the sample's runs, one subfolder per split kind."""
LEAKAGE_COLUMNS = ("val_tiles", "val_tiles_sharing", "val_pixels", "val_pixels_in_train", "val_pixels_in_train_share")
"""Columns of :func:`leakage_frame`: the leakage report's ``total`` row of each split."""


def sample_runs_dir(grid_dir: Path, split: str) -> Path:
    """Where the sample's runs of one split kind go, beside the grid's runs folder ``grid_dir``.

    ``grid_dir`` is :func:`~.benchmarks.grid_runs_dir` (``<runs folder of the code version>/<split>-split``); the
    sample's go to ``<runs folder of the code version>/sample/<split>-split``: never mixed with the grid's runs,
    packed with them (``landslide-core results pack``) and pruned with them when the code changes
    (``landslide-core results prune``).
    """
    return Path(grid_dir).parent / SAMPLE_RUNS / f"{split}-split"


def sample_settings(page: GridSettings, *, model: str, epochs: int, crop_size: int | None, val_every: int,
                    lr: float) -> dict[str, GridSettings]:
    """The panel's settings per split kind (``random``, ``grouped``): ``model`` on SAT, from the page's settings.

    Batch size, device, data loading, initialisation and checkpoint keeping are the page's; the first of its seeds;
    no per-model exceptions; validation on full tiles, the pixels whose leaked share the audit measures.
    """
    return {split: replace(page, models=(model,), groups=(SAMPLE_GROUP,), epochs=epochs, crop_size=crop_size,
                           val_crop_size=None, val_every=val_every, lr=lr, seeds=page.seeds[:1], per_model=(),
                           split=split) for split in SPLIT_KINDS}


def train_sample_runs(data_root: Path, runs_dir: Path, settings: GridSettings) -> list[GridRun]:
    """Train (or read back, or resume) the runs of ``settings`` in ``runs_dir``; return them, all finished.

    The grid's cells (:func:`~.benchmarks.grid_configs`), trained here whatever the page's ``train``: the sample's
    runs are small and no ``landslide-core grid`` job makes them. They keep their best checkpoint only with
    ``keep_checkpoints`` (no example figure shows them).
    """
    prepare_splits(data_root, runs_dir, settings)
    keep = None if settings.keep_checkpoints else (lambda model, group, seed: False)
    runs = []
    for cell in grid_cells(runs_dir, grid_configs(settings), data_root, split=settings.split, keep=keep):
        run_cell(cell, progress=False)
        runs.append(read_run(cell.spec, cell.folder))
    return runs


def leakage_frame(data_root: Path, manifests: Mapping[str, Path]) -> pd.DataFrame:
    """Per split (index), how much of its validation set training has seen: the leakage report's ``total`` row.

    One audit of every tile under ``data_root`` (:func:`~landslide_core.building.leakage.audit_records`), measured
    against each split manifest (:func:`~landslide_core.building.leakage.leakage_report`); :data:`LEAKAGE_COLUMNS`.
    """
    audit = audit_records(get_source("cas").list_tiles(data_root), progress=False)
    totals = [leakage_report(audit, read_manifest(path, data_root)).set_index("subdataset")
              .loc[["total"], list(LEAKAGE_COLUMNS)].set_axis([split]) for split, path in manifests.items()]
    return pd.concat(totals).rename_axis("split")


def _order(judged: Judged) -> dict[str, list[str]]:
    """Per split, its configurations: models first, then the baselines, each in order of appearance."""
    order = {}
    for split, rows in judged.estimates.groupby("split", sort=False):
        names = pd.Series(pd.unique(rows["configuration"]))
        order[split] = [*names[~is_baseline(names)], *names[is_baseline(names)]]
    return order


def sample_table(judged: Judged, counts: pd.DataFrame, leakage: pd.DataFrame) -> pd.DataFrame:
    """Per split, the model and the baselines: landslide IoU and mIoU with their intervals, and the split's tiles.

    Args:
        judged: The per-tile counts judged within ``split`` (:func:`judge` with ``within=["split"]``).
        counts: Those counts (``split``, ``tile``): each split's validation tiles.
        leakage: :func:`leakage_frame` of the same splits.
    """
    cells = interval_table(judged, ["iou", "miou"], index=("split", "configuration"))
    rows = [(split, name) for split, names in _order(judged).items() for name in names]
    table = cells.loc[rows].rename(columns={"iou": "IoU (%)", "miou": "mIoU (%)"})
    splits = table.index.get_level_values("split")
    table["val tiles"] = counts.groupby("split")["tile"].nunique().reindex(splits).to_numpy()
    table["val pixels also in training (%)"] = 100 * leakage["val_pixels_in_train_share"].astype(float).reindex(
        splits).to_numpy()
    return table.rename_axis(["Split", "Configuration"])


def _listed(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)


def _split_line(judged: Judged, split: str, tiles: int, leak: pd.Series) -> str:
    """One split in Markdown: its tiles and leaked share, then each model's IoU and which baselines it beats."""
    level = judged.settings.level
    verdicts = baseline_judgements(judged)
    verdicts = verdicts[verdicts["split"] == split]
    flat = no_result(judged)
    flat = flat[flat["split"] == split].set_index("model")
    sentences = []
    for model in dict.fromkeys(verdicts["model"]):
        own = verdicts[verdicts["model"] == model]
        beaten, kept = list(own.loc[own["beats"], "baseline"]), list(own.loc[~own["beats"], "baseline"])
        iou = judged.estimate(model, "iou", split=split)
        text = f"{model}'s landslide IoU is {format_interval(iou['value'], iou['low'], iou['high'])} %"
        if flat.loc[model, "no result"]:
            row = flat.loc[model]
            text += (f"; it is **no result**: its mIoU cannot be told apart from {row['constant']}'s "
                     f"({difference_text('mIoU', row['Δ mIoU'], row['Δ mIoU low'], row['Δ mIoU high'], level)}, "
                     "not above 0)")
        text += f"; it beats {_listed(beaten)}" if beaten else "; it beats no baseline"
        if beaten and kept:
            text += f" but not {_listed(kept)}"
        # A baseline beats the model by the same rule turned round: both intervals lie below 0.
        for _, row in own[(own["Δ mIoU high"] < 0) & (own["Δ IoU high"] < 0)].iterrows():
            margin = difference_text("landslide IoU", -row["Δ IoU"], -row["Δ IoU high"], -row["Δ IoU low"], level)
            text += f"; {row['baseline']} beats it ({margin}, baseline − model)"
        sentences.append(text)
    shared = int(leak["val_tiles_sharing"])
    return (f"- **{split} split**: {tiles} validation tiles, {shared} of them sharing pixels with a training tile "
            f"({100 * float(leak['val_pixels_in_train_share']):.1f} % of the validation pixels also in training); "
            + "; ".join(sentences) + ".")


def sample_text(judged: Judged, counts: pd.DataFrame, leakage: pd.DataFrame, *, tiles: int) -> str:
    """What the panel shows and what 24 tiles can and cannot show, in Markdown, every number from its arguments.

    Per split its validation tiles, the share of their pixels also in training, and which baselines each model
    beats (:func:`~landslide_core.eval.baselines.baseline_judgements`) or whether it is no result
    (:func:`~landslide_core.eval.baselines.no_result`); that the two splits validate on different tiles, so their
    scores are not a paired comparison; how wide the model's intervals are; and that one sub-dataset says nothing
    about the others.

    Args:
        judged: The per-tile counts judged within ``split``.
        counts: Those counts (``split``, ``tile``, ``subdataset``).
        leakage: :func:`leakage_frame` of the same splits.
        tiles: How many tiles the sample holds.
    """
    level = judged.settings.level
    validated = {split: set(rows["tile"]) for split, rows in counts.groupby("split", sort=False)}
    order = _order(judged)
    lines = [f"Against the baselines, {rule(level)}.\n"]
    lines += [_split_line(judged, split, len(validated[split]), leakage.loc[split]) for split in order]
    source = get_source("cas")
    keys = list(dict.fromkeys(counts["subdataset"]))
    names = _listed([get_subdataset(key).name for key in keys])
    others = len(source.subdataset_order()) - len(keys)
    count = "one sub-dataset" if len(keys) == 1 else f"{len(keys)} sub-datasets"
    text = f"\n\n**What {tiles} tiles can and cannot show.** These are {tiles} real tiles of {count}, {names}."
    models = [name for name in order[next(iter(order))] if not is_baseline(name)]
    if len(order) > 1:
        splits = list(order)
        common = set.intersection(*(validated[s] for s in splits))
        sizes = _listed([f"{len(validated[s])} ({s})" for s in splits])
        text += (f" The splits validate on {sizes} tiles, {len(common)} of them in both, so their scores come from "
                 "different sets of tiles and are not a paired comparison")
        if models:
            ious = _listed([f"{judged.estimate(models[0], 'iou', split=s)['value']:.1f} % ({s})" for s in splits])
            text += (f": the difference between {models[0]}'s landslide IoU of {ious} comes both from the split "
                     "(what training saw of the validation pixels) and from the tiles scored, and these tiles cannot "
                     "tell the two apart")
        text += "."
    leaked = [(s, 100 * float(leakage.loc[s, "val_pixels_in_train_share"])) for s in order]
    seen = [s for s, share in leaked if share > 0]
    text += (" The leakage audit finds " + _listed([f"{share:.1f} % of the {s} split's validation pixels"
                                                    for s, share in leaked]) + " also in training")
    text += (f": under the {_listed(seen)} split the model is partly scored on pixels that are also in its training "
             "tiles, so its score there is not one of unseen ground." if seen else ".")
    if models:
        spans = {s: judged.estimate(models[0], "iou", split=s) for s in order}
        widths = _listed([f"{row['high'] - row['low']:.1f} points ({s})" for s, row in spans.items()])
        text += (f" The {100 * level:g} % interval of {models[0]}'s landslide IoU spans {widths}: intervals this "
                 "wide cannot rank models whose scores lie closer than that.")
    text += (f" And {tiles} tiles of {count} say nothing about the CAS dataset's other {others} sub-datasets (other "
             "sensors, places and landslide types), nor about the sensor groups paper Table 5 scores as wholes.")
    return "\n".join(lines) + text


@dataclass(frozen=True)
class SamplePanel:
    """The panel's runs and what was computed from them."""

    runs: tuple[GridRun, ...]
    counts: pd.DataFrame
    """The model's and the baselines' per-tile counts, with the ``split`` they were scored under."""
    judged: Judged
    """:attr:`counts` judged within ``split``."""
    leakage: pd.DataFrame
    """:func:`leakage_frame` of the splits."""
    rules: pd.DataFrame
    """The threshold rule fitted on each split's training tiles."""
    tiles: int
    """Tiles in the sample."""

    @property
    def folders(self) -> list[Path]:
        """The run folders the panel read."""
        return [run.folder for run in self.runs]

    def table(self) -> pd.DataFrame:
        """:func:`sample_table`."""
        return sample_table(self.judged, self.counts, self.leakage)

    def judgements(self) -> pd.DataFrame:
        """The model against each baseline per split (:func:`~.benchmarks.baseline_table`)."""
        return baseline_table(self.judged)

    def text(self) -> str:
        """:func:`sample_text`."""
        return sample_text(self.judged, self.counts, self.leakage, tiles=self.tiles)


def sample_panel(data_root: Path, grid_dir: Path, settings: Mapping[str, GridSettings],
                 intervals: BootstrapSettings) -> SamplePanel:
    """Train (or read back) the panel's runs, score the baselines on each split, and judge them within split.

    Args:
        data_root: The sample (:meth:`landslide_core.book.page.SectionRun.on_sample`'s ``data_root``).
        grid_dir: The page's grid runs folder; the panel's runs go beside it (:func:`sample_runs_dir`).
        settings: Split kind → its settings (:func:`sample_settings`).
        intervals: Resamples, seed and coverage of the intervals.
    """
    runs, counts, rules, blocks, manifests = [], [], [], {}, {}
    for split, own in settings.items():
        runs_dir, base = sample_runs_dir(grid_dir, split), own.train_config()
        found = train_sample_runs(data_root, runs_dir, own)
        _, fitted = baseline_frame(data_root, runs_dir, base=base, groups=own.groups, seeds=own.seeds)
        counts.append(tile_counts_frame(found, runs_dir, base=base, groups=own.groups, seeds=own.seeds)
                      .assign(split=split))
        blocks[split] = grid_blocks(data_root, runs_dir, base=base, groups=own.groups, seeds=own.seeds)
        rules.append(fitted.assign(split=split))
        manifests[split] = runs_dir / f"split-seed{own.seeds[0]}.csv"
        runs += found
    frame = pd.concat(counts, ignore_index=True)
    judged = judge(frame, within=["split"], blocks=lambda keys: blocks[keys["split"]], settings=intervals)
    return SamplePanel(tuple(runs), frame, judged, leakage_frame(data_root, manifests),
                       pd.concat(rules, ignore_index=True), len(get_source("cas").list_tiles(data_root)))
