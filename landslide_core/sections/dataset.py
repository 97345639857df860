"""The dataset overview: paper Table 2 beside what is on disk, landslide shares, a tile gallery.

Everything here is computed from the files found; the only numbers not computed
are the tile counts of paper Table 2, which are quoted and labelled so.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..io.raster import read_raster
from ..paper import mismatches, quote
from ..sources import Scan
from ..sources.cas import subdatasets
from ..sources.cas.registry import licence_summary
from ..tiles import TileRecord

__all__ = [
    "COUNT_COLUMNS", "GROUP_COLOURS", "gallery", "landslide_shares", "overlay", "representative_tiles", "share_chart", "summary", "table2",
    "table2_notes",
]

GROUP_COLOURS = {"UAV": "#1b9e77", "SAT": "#7570b3"}
COUNT_COLUMNS = ("Group", "Tiles (paper)", "Tiles on disk", "Folder on disk")
"""The columns of :func:`table2` the dataset page shows, so that it fits the text column: the counts. Sensor,
resolution and acquisition, quoted from the paper, are on the study-areas page (paper Table 2 as published)."""


def table2(found: Scan) -> pd.DataFrame:
    """Paper Table 2 with the tile count found on disk beside the paper's count.

    One row per sub-dataset of the paper (those absent on disk show 0 tiles),
    then subtotals for the UAV and SAT groups and the total.
    """
    on_disk = pd.Series([r.subdataset for r in found.records], dtype="string").value_counts()
    folders = {f.subdataset.key: f.path.name for f in found.folders if f.subdataset is not None}
    rows = [
        {
            "Sub-dataset": sd.name,
            "Group": sd.group,
            "Sensor": sd.sensor,
            "Resolution (m)": f"{sd.resolution_m:g}",
            "Acquisition": sd.acquisition_time,
            "Tiles (paper)": sd.paper_tiles,
            "Tiles on disk": int(on_disk.get(sd.key, 0)),
            "Folder on disk": folders.get(sd.key, "—"),
        }
        for sd in subdatasets()
    ]
    table = pd.DataFrame(rows)
    totals = [
        {"Sub-dataset": f"{label} total", "Group": label,
         "Tiles (paper)": int(part["Tiles (paper)"].sum()), "Tiles on disk": int(part["Tiles on disk"].sum())}
        for label, part in (("UAV", table[table.Group == "UAV"]), ("SAT", table[table.Group == "SAT"]), ("UAV&SAT", table))
    ]
    return pd.concat([table, pd.DataFrame(totals)], ignore_index=True).fillna("").set_index("Sub-dataset")


def table2_notes() -> str:
    """The notes under the counts of :func:`table2`, in Markdown.

    Table 2's SAT total beside Table 6's, and the licences of Table 2: both computed from the
    paper's tables, so they cannot drift from them.
    """
    return f"**SAT total.** {mismatches()['sat_tiles'].line()}\n\n**Licences.** {licence_summary()}"


def landslide_shares(stats: pd.DataFrame) -> pd.DataFrame:
    """Landslide share per sub-dataset and group, in percent.

    *Pixel share* pools all pixels of a sub-dataset (what the pixel-level metrics
    see; with tiles of one size it is also the mean tile share); the *tile share*
    statistics describe how the share varies between tiles.
    """
    names = {sd.key: sd.name for sd in subdatasets()}
    order = [sd.key for sd in subdatasets()]

    def summarize(part: pd.DataFrame) -> dict[str, float]:
        share = 100 * part["landslide_share"]
        return {
            "Tiles": len(part),
            "Pixel share (%)": 100 * part["landslide_pixels"].sum() / part["pixels"].sum(),
            "Median tile share (%)": share.median(),
            "Min tile share (%)": share.min(),
            "Max tile share (%)": share.max(),
            "Tiles < 0.1 % (%)": 100 * (part["landslide_share"] < 0.001).mean(),
        }

    rows = [
        {"Sub-dataset": names[key], "Group": part["group"].iloc[0], **summarize(part)}
        for key, part in sorted(stats.groupby("subdataset"), key=lambda kv: order.index(kv[0]))
    ]
    for group in ("UAV", "SAT"):
        part = stats[stats.group == group]
        if len(part):
            rows.append({"Sub-dataset": f"{group} total", "Group": group, **summarize(part)})
    rows.append({"Sub-dataset": "UAV&SAT total", "Group": "UAV&SAT", **summarize(stats)})
    return pd.DataFrame(rows).set_index("Sub-dataset").round(3)


def representative_tiles(records: Sequence[TileRecord], stats: pd.DataFrame) -> list[TileRecord]:
    """Per sub-dataset, the tile whose landslide share is closest to the sub-dataset's median."""
    by_uid = {r.uid: r for r in records}
    chosen = []
    order = [sd.key for sd in subdatasets()]
    for key, part in sorted(stats.groupby("subdataset"), key=lambda kv: order.index(kv[0])):
        distance = (part["landslide_share"] - part["landslide_share"].median()).abs()
        row = part.loc[distance.sort_values(kind="stable").index[0]]
        chosen.append(by_uid[f"{key}/{row['name']}"])
    return chosen


def overlay(image: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = (255, 40, 40), alpha: float = 0.45) -> np.ndarray:
    """An RGB ``(h, w, 3)`` image with landslide pixels tinted, like the label panels of paper Table 1."""
    rgb = np.moveaxis(image[:3], 0, -1).astype(np.float32)
    tinted = rgb * (1 - alpha) + np.asarray(colour, np.float32) * alpha
    return np.where(mask[0, ..., None] > 0, tinted, rgb).astype(np.uint8)


def gallery(tiles: Sequence[TileRecord], *, pairs_per_row: int = 2, panel_inches: float = 2.2) -> Figure:
    """Image and image-with-mask panels for each tile, laid out like paper Table 1."""
    names = {sd.key: sd.name for sd in subdatasets()}
    rows = max(1, -(-len(tiles) // pairs_per_row))
    fig, axes = plt.subplots(
        rows, 2 * pairs_per_row, figsize=(2 * pairs_per_row * panel_inches, rows * panel_inches + 0.4), squeeze=False
    )
    for ax in axes.flat:
        ax.set_axis_off()
    for i, record in enumerate(tiles):
        image, mask = read_raster(record.image), read_raster(record.mask)
        row, col = divmod(i, pairs_per_row)
        left, right = axes[row, 2 * col], axes[row, 2 * col + 1]
        left.imshow(np.moveaxis(image[:3], 0, -1))
        right.imshow(overlay(image, mask))
        left.set_title(f"{names[record.subdataset]}\n{record.name}", fontsize=7)
        right.set_title("landslide mask (red)", fontsize=7)
    fig.tight_layout()
    return fig


def share_chart(shares: pd.DataFrame) -> Figure:
    """Bar chart of the landslide pixel share per sub-dataset, coloured by sensor group."""
    per_subdataset = shares[~shares.index.str.endswith(" total")]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(per_subdataset) + 1))
    ax.barh(
        per_subdataset.index, per_subdataset["Pixel share (%)"],
        color=[GROUP_COLOURS[g] for g in per_subdataset["Group"]],
    )
    ax.invert_yaxis()
    ax.set_xlabel("landslide pixels (% of all pixels in the sub-dataset)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in GROUP_COLOURS.values()]
    ax.legend(handles, list(GROUP_COLOURS), title="group", loc="lower right")
    fig.tight_layout()
    return fig


def summary(found: Scan, shares: pd.DataFrame, *, synthetic: bool) -> str:
    """What the page shows, in one paragraph computed from the scan and the share table.

    Args:
        found: The scan of the data root.
        shares: :func:`landslide_shares` of the tiles found.
        synthetic: Whether the data are the demo data (the paragraph then says so).
    """
    total = shares.loc["UAV&SAT total"]
    found_subdatasets = {r.subdataset for r in found.records}
    paper_total = sum(sd.paper_tiles for sd in subdatasets())
    return (
        f"{'The synthetic demo data' if synthetic else 'The data'} under `{found.root.name}` hold "
        f"{len(found.records)} tiles in {len(found_subdatasets)} of the {len(subdatasets())} sub-datasets of paper "
        f"Table 2 (which lists {paper_total:,} tiles). Landslide pixels make up {total['Pixel share (%)']:.1f} % of all "
        f"pixels; the tile share ranges from {total['Min tile share (%)']:.2f} % to "
        f"{total['Max tile share (%)']:.1f} %, and {total['Tiles < 0.1 % (%)']:.1f} % of tiles fall below 0.1 %, the "
        f"threshold of the paper's quality control: {quote('label_rule').cited()}."
        + (" These figures describe synthetic tiles and say nothing about the real dataset." if synthetic else "")
    )
