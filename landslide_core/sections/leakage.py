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

import pandas as pd

from ..building.leakage import LeakageAudit, leakage_report
from ..building.leakage_split import grouped_split
from ..building.qc import QCThresholds, flag, removed_from_names, score_root
from ..data.splits import make_split
from ..eval.paper import paper_values
from ..paper import inferences, mismatches, says
from ..sources import get_source
from ..tiles import TileRecord
from .building import flag_counts

__all__ = [
    "PAPER_REMOVED", "PublishedAudit", "audit_summary", "leakage_tables", "published_tiles_audit", "readable_report",
    "removed_note", "removed_table",
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
    """Audit every tile under ``root``; report a random split's leakage and a grouped split's."""
    records = get_source(source).list_tiles(root)
    grouped, audit = grouped_split(records, val_fraction=val_fraction, seed=seed, source=source, progress=False)
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

    flag_counts: pd.DataFrame
    removed: pd.DataFrame
    audit: LeakageAudit
    report: pd.DataFrame


def published_tiles_audit(root: str | Path, thresholds: QCThresholds, *, seed: int, val_fraction: float,
                          source: str = "cas") -> PublishedAudit:
    """Score, count and audit the tiles of a data root (e.g. the real CAS dataset)."""
    flags = flag(score_root(root, source=source, progress=False), thresholds)
    audit, report, _ = leakage_tables(root, seed=seed, val_fraction=val_fraction, source=source)
    return PublishedAudit(flag_counts(flags), removed_table(root, source), audit, report)
