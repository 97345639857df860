"""The leakage audit and the removed-tile counts as the "Building the dataset" page shows them.

The audit itself is :mod:`landslide_core.building.leakage`; here a data root is
audited, scored under a random and a grouped split, and the results are put in
words and in readable tables, with the quoted 1,245 SAT tiles removed and Table 6's SAT counts beside ours, which
are read from the gaps in the tile numbering (our inference, :func:`removed_note`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..building.leakage import LeakageAudit, leakage_report
from ..building.leakage_split import grouped_split
from ..building.qc import QCThresholds, flag, removed_from_names, score_root
from ..data.splits import make_split
from ..data.statistics import usable_cores
from ..eval.paper import paper_values
from ..io.raster import read_raster
from ..paper import inferences, mismatches, says
from ..sources import get_source
from ..sources.cas.registry import ZENODO_RECORD
from ..tiles import TileRecord
from .building import flag_counts
from .dataset import paper_tiles

__all__ = [
    "PAPER_REMOVED", "PublishedAudit", "audit_summary", "leakage_tables", "overlapping_pairs", "pair_figure",
    "published_note", "published_tiles_audit", "readable_report", "removed_note", "removed_table", "sample_leakage",
    "sample_scope",
]

_TABLE6_TILES = paper_values(6).set_index("dataset")["number"].astype(int)
PAPER_REMOVED = {"removed": int(_TABLE6_TILES["Original SAT"] - _TABLE6_TILES["SAT"]),
                 "before": int(_TABLE6_TILES["Original SAT"])}
"""SAT tiles removed by quality control: Table 6's "Original SAT" count less its "SAT" count (8,658 − 7,413), the
“approximately 1,245 problematic images” of the Methods (Building the dataset)."""


def readable_report(report: pd.DataFrame, split: Sequence[TileRecord]) -> pd.DataFrame:
    """A leakage report with the page's column names, shares in percent, and the split's training and left-out tiles."""
    table = report.set_index("subdataset").rename_axis("sub-dataset")
    sides = pd.crosstab(pd.Series([r.subdataset for r in split], name="sub-dataset"),
                        pd.Series([r.split for r in split], name="split"))
    sides.loc["total"] = sides.sum()
    return pd.DataFrame({
        "training tiles": sides["train"],
        "left out (share pixels with validation)": sides["buffer"] if "buffer" in sides else 0,
        "validation tiles": table["val_tiles"],
        "sharing pixels with training": table["val_tiles_sharing"],
        "share of tiles (%)": 100 * table["val_tiles_sharing_share"],
        "share of validation pixels seen in training (%)": 100 * table["val_pixels_in_train_share"],
    })


def leakage_tables(root: str | Path, *, seed: int, val_fraction: float, source: str = "cas"
                   ) -> tuple[LeakageAudit, pd.DataFrame, pd.DataFrame]:
    """Audit every tile under ``root`` (reading on every core); report a random split's leakage and a grouped split's."""
    records = get_source(source).list_tiles(root)
    grouped, audit = grouped_split(records, val_fraction=val_fraction, seed=seed, source=source, progress=False,
                                   workers=usable_cores())
    random = make_split(records, val_fraction=val_fraction, seed=seed)
    return (audit, readable_report(leakage_report(audit, random), random),
            readable_report(leakage_report(audit, grouped), grouped))


def audit_summary(audit: LeakageAudit) -> str:
    """The audit in a sentence, and the largest groups of tiles that share pixels."""
    sizes = audit.tiles.drop_duplicates("group_id").sort_values("group_size", ascending=False)
    linked = sizes[sizes["group_size"] > 1]
    text = f"**Audit.** {audit.summary()}."
    if len(linked):
        largest = ", ".join(f"{row.group_size} tiles ({row.subdataset})" for row in linked.head(3).itertuples())
        text += f" The largest groups of tiles linked by shared pixels: {largest}."
    return text


def removed_table(root: str | Path, source: str = "cas") -> pd.DataFrame:
    """Tiles removed per sub-dataset, read from the numbering gaps (our inference), with Table 6's SAT counts."""
    removed = removed_from_names(root, source=source)
    paper = pd.DataFrame([{"subdataset": "paper: SAT group (quoted)", "present": PAPER_REMOVED["before"]
                           - PAPER_REMOVED["removed"], "highest number": float("nan"), "missing": PAPER_REMOVED["removed"],
                           "missing share": PAPER_REMOVED["removed"] / PAPER_REMOVED["before"]}])
    table = pd.concat([removed, paper], ignore_index=True).set_index("subdataset").rename_axis("sub-dataset")
    table["missing share"] = 100 * table["missing share"]
    return table.rename(columns={"missing": "removed", "missing share": "removed share (%)"})


def removed_note() -> str:
    """Markdown for under :func:`removed_table`: the removed count quoted, the SAT counts that disagree, our reading.

    Quotes and published numbers come from :mod:`landslide_core.paper`, so the page cannot drift from them.
    """
    before, removed = PAPER_REMOVED["before"], PAPER_REMOVED["removed"]
    gaps = next(item for item in inferences() if item.key == "numbering_gaps")
    return (f"{says('qc_removed')}. The row \"paper: SAT group (quoted)\" sets that count against Table 6's "
            f"\"Original SAT\" tiles, {before:,}, which leaves {before - removed:,}, Table 6's \"SAT\" count. "
            f"{mismatches()['sat_tiles'].line()}\n\n**Ours: {gaps.title.lower()}.** {gaps.evidence}")


@dataclass(frozen=True)
class PublishedAudit:
    """Quality-control flags, removed counts and leakage of a published data root."""

    flags: pd.DataFrame
    """Every tile's scores and flags (:func:`landslide_core.building.qc.flag`), for the score distributions."""
    flag_counts: pd.DataFrame
    removed: pd.DataFrame | None
    """Removed counts read from the numbering gaps; ``None`` where the names carry no tile numbers."""
    audit: LeakageAudit
    report: pd.DataFrame
    """The random split's leakage (:func:`readable_report`)."""
    grouped: pd.DataFrame
    """The grouped split's leakage (:func:`readable_report`)."""


def published_tiles_audit(root: str | Path, thresholds: QCThresholds, *, seed: int, val_fraction: float,
                          source: str = "cas", removed: bool = True) -> PublishedAudit:
    """Score, count and audit the tiles of a data root (e.g. the real CAS dataset).

    ``removed=False`` skips the counts read from the numbering gaps, for tiles renamed since publication (the
    shipped sample), whose gaps say nothing about quality control.
    """
    flags = flag(score_root(root, source=source, progress=False), thresholds)
    audit, report, grouped = leakage_tables(root, seed=seed, val_fraction=val_fraction, source=source)
    return PublishedAudit(flags, flag_counts(flags), removed_table(root, source) if removed else None, audit, report,
                          grouped)


def overlapping_pairs(audit: LeakageAudit) -> pd.DataFrame:
    """Every pair of tiles the audit found sharing pixels, by tile name: how much they share, the offset, how found.

    The offset places tile b's top-left corner at row dy, column dx of tile a (after flipping or rotating b where
    "flipped/rotated" says so).
    """
    tiles = audit.tiles.set_index("uid")
    pairs = audit.pairs
    a, b = tiles.loc[pairs["uid_a"]], tiles.loc[pairs["uid_b"]]
    shared = pairs["shared_pixels"].to_numpy()
    return pd.DataFrame({
        "tile a": a["name"].to_numpy(), "tile b": b["name"].to_numpy(), "shared pixels": shared,
        "share of tile a (%)": 100 * shared / (a["rows"] * a["cols"]).to_numpy(),
        "offset dy (px)": pairs["dy"].to_numpy(), "offset dx (px)": pairs["dx"].to_numpy(),
        "flipped/rotated": np.where(pairs["transformed"].to_numpy(bool), "yes", "no"),
        "found by": pairs["found_by"].to_numpy(),
    }).set_index(["tile a", "tile b"])


def pair_figure(audit: LeakageAudit, records: Sequence[TileRecord], *, panel_inches: float = 2.4) -> Figure:
    """Both tiles of each overlapping pair side by side (one row per pair), the shared rectangle outlined on each.

    Seeing the two tiles makes the audit's claim checkable by eye: the outlined parts hold the same pixels.
    """
    by_uid = {r.uid: r for r in records}
    pairs = audit.pairs
    names = audit.tiles.set_index("uid")["name"]
    rows = max(len(pairs), 1)
    figure, axes = plt.subplots(rows, 2, figsize=(2 * panel_inches, rows * panel_inches + 0.3), squeeze=False,
                                layout="constrained")
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    if pairs.empty:
        axes[0, 0].text(0.5, 0.5, "no tiles share pixels", ha="center", va="center", transform=axes[0, 0].transAxes)
        axes[0, 1].set_axis_off()
        return figure
    for (left, right), pair in zip(axes, pairs.itertuples(), strict=True):
        for axis, side in ((left, "a"), (right, "b")):
            uid = getattr(pair, f"uid_{side}")
            top, first, bottom, last = (getattr(pair, f"{side}_{edge}") for edge in ("top", "left", "bottom", "right"))
            axis.imshow(np.moveaxis(read_raster(by_uid[uid].image)[:3], 0, -1))
            axis.add_patch(plt.Rectangle((first - 0.5, top - 0.5), last - first, bottom - top, fill=False,
                                         edgecolor="#ffd400", linewidth=1.6))
            axis.set_title(f"tile {side}: {names[uid]}", fontsize=8)
            axis.set_xlabel(f"shared: rows {top}–{bottom - 1}, columns {first}–{last - 1}", fontsize=7)
    return figure


def sample_scope(checked: PublishedAudit) -> str:
    """What the shipped sample can and cannot show here, its quality-control flags, and why no removed count."""
    names, listed, total = paper_tiles(checked.audit.tiles["subdataset"])
    counts = checked.flag_counts.loc["all"]
    return (f"These are {int(counts['tiles'])} real tiles of one sub-dataset, {names} ({listed:,} tiles in paper "
            f"Table 2, {total:,} in the whole dataset). They can show that published tiles share pixels and that a "
            "random split then puts validation pixels in training; they cannot show how many tiles share pixels, or "
            "how much a random split leaks, in the full sub-dataset or the dataset. Our rules flag "
            f"{int(counts['flagged'])} of them; they were published after the dataset's quality control. The tiles "
            "were renamed `100NN` by a third party before they reached this repository (see the sample's "
            "`LICENCE.md`), so gaps in their numbering say nothing about quality control, and no removed count is "
            "read from them.")


def sample_leakage(checked: PublishedAudit, *, seed: int, val_fraction: float) -> str:
    """The pairs the audit found, by name, and the random split's leaked share against the grouped split's."""
    table = overlapping_pairs(checked.audit)
    named = ", ".join(f"{a} and {b}" for a, b in table.index)
    ways = table["found by"].str.split("+").explode().value_counts()
    how = ", ".join(f"{n} by {way}" for way, n in ways.items())
    turned = int((table["flipped/rotated"] == "yes").sum())
    column = "share of validation pixels seen in training (%)"
    random, grouped = checked.report.loc["total"], checked.grouped.loc["total"]
    found = (f"The audit found {len(table)} pairs of tiles that share pixels: {named} ({how}; "
             f"{turned or 'none'} flipped or rotated)." if len(table) else "The audit found no tiles that share pixels.")
    return (f"{found} A random split with {100 * val_fraction:g} % of the tiles for validation (seed {seed}) puts "
            f"{random[column]:.1f} % of its validation pixels in training ({int(random['sharing pixels with training'])}"
            f" of {int(random['validation tiles'])} validation tiles share pixels with a training tile); the grouped "
            f"split puts {grouped[column]:.1f} % there.")


def published_note(sample_tiles: int | None) -> str:
    """What a page given no ``data_root`` of published tiles audited, and how to audit the full dataset.

    Args:
        sample_tiles: Tiles of the real sample the page audited; ``None`` where that part was left out.
    """
    rerun = (f"To score and audit the full dataset, download it (`landslide-core download --root /path/to/CAS`, Zenodo record "
             f"{ZENODO_RECORD}) and rerun with `landslide-core book --section building -p data_root /path/to/CAS`; "
             "the removed counts are then read from the dataset's own tile numbers.")
    if sample_tiles is None:
        return ("No `data_root` of published tiles was given (the synthetic demo tiles were drawn one by one, not "
                "cut from scenes) and the part on the real sample was left out (`real_sample = False`), so no "
                f"published tiles were audited. {rerun}")
    return ("No `data_root` of published tiles was given (the synthetic demo tiles were drawn one by one, not cut "
            f"from scenes), so the published tiles audited on this page are the {sample_tiles} real tiles of the "
            f"sample above. {rerun}")
