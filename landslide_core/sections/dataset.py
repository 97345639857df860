"""The dataset overview: paper Table 2 beside what is on disk, landslide shares, a tile gallery.

Everything here is computed from the files found; the only numbers not computed
are the tile counts of paper Table 2, which are quoted and labelled so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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
    "COUNT_COLUMNS", "GROUP_COLOURS", "SAMPLE_COLUMNS", "gallery", "image_statistics", "landslide_shares", "overlay", "representative_tiles",
    "paper_tiles", "sample_comparison", "sample_statistics", "share_chart", "spread_tiles", "summary", "table2", "table2_notes",
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
    rows = [
        {"Sub-dataset": names[key], "Group": part["group"].iloc[0], **_summarize(part)}
        for key, part in sorted(stats.groupby("subdataset"), key=lambda kv: order.index(kv[0]))
    ]
    for group in ("UAV", "SAT"):
        part = stats[stats.group == group]
        if len(part):
            rows.append({"Sub-dataset": f"{group} total", "Group": group, **_summarize(part)})
    rows.append({"Sub-dataset": "UAV&SAT total", "Group": "UAV&SAT", **_summarize(stats)})
    return pd.DataFrame(rows).set_index("Sub-dataset").round(3)


def _summarize(part: pd.DataFrame) -> dict[str, float]:
    """The landslide share columns of :func:`landslide_shares` for some tiles of :func:`tile_statistics`."""
    share = 100 * part["landslide_share"]
    return {
        "Tiles": len(part),
        "Pixel share (%)": 100 * part["landslide_pixels"].sum() / part["pixels"].sum(),
        "Median tile share (%)": share.median(),
        "Min tile share (%)": share.min(),
        "Max tile share (%)": share.max(),
        "Tiles < 0.1 % (%)": 100 * (part["landslide_share"] < 0.001).mean(),
    }


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


SAMPLE_COLUMNS = ("tiles are", "Tiles", "Pixel share (%)", "Min tile share (%)", "Median tile share (%)",
                  "Max tile share (%)", "Tiles < 0.1 % (%)", "Mean brightness", "Brightness SD")
"""The columns of :func:`sample_statistics`: what the tiles are in words, landslide shares, brightness."""


def image_statistics(records: Sequence[TileRecord]) -> pd.DataFrame:
    """One row per tile: pixels, mean brightness and the mean of its square (brightness: the mean of the RGB bands).

    Landslide shares say nothing about how tiles look; these two means pool over any set of tiles into a mean and
    a standard deviation (:func:`sample_statistics`), which sets real imagery beside synthetic imagery.
    """
    rows = []
    for record in records:
        brightness = read_raster(record.image)[:3].astype(np.float64).mean(axis=0)
        rows.append((record.subdataset, record.name, brightness.size, brightness.mean(), np.square(brightness).mean()))
    return pd.DataFrame(rows, columns=["subdataset", "name", "pixels", "brightness_mean", "brightness_square"])


def _describe(stats: pd.DataFrame, images: pd.DataFrame, kind: str) -> dict[str, float | str]:
    """One row of :func:`sample_statistics`: shares from the masks, brightness pooled over every pixel."""
    weights = images["pixels"] / images["pixels"].sum()
    mean = float((weights * images["brightness_mean"]).sum())
    square = float((weights * images["brightness_square"]).sum())
    return {"tiles are": kind, **_summarize(stats), "Mean brightness": mean,
            "Brightness SD": float(np.sqrt(max(square - mean**2, 0.0)))}


def paper_tiles(keys: Iterable[str]) -> tuple[str, int, int]:
    """Sub-datasets by key: their paper Table 2 names in its order, the tiles Table 2 lists for them and for all 16.

    What a part on a few tiles sets them against (e.g. 24 of the 1,484 Hokkaido Iburi-Tobu tiles of 20,865).
    """
    keys = set(keys)
    listed = [sd for sd in subdatasets() if sd.key in keys]
    return (", ".join(sd.name for sd in listed), sum(sd.paper_tiles for sd in listed),
            sum(sd.paper_tiles for sd in subdatasets()))


def _names(records: Sequence[TileRecord]) -> str:
    """The sub-datasets of some tiles, by the names of paper Table 2, in its order."""
    return paper_tiles(r.subdataset for r in records)[0]


def sample_statistics(main: Sequence[TileRecord], sample: Sequence[TileRecord], *, synthetic: bool,
                      main_stats: pd.DataFrame, sample_stats: pd.DataFrame) -> pd.DataFrame:
    """The real sample's tile statistics beside the page's own tiles (the demo's, or a ``data_root``'s).

    Rows, in this order: the page's tiles of the sample's sub-datasets (only where it has any), all the page's
    tiles, the sample. The column "tiles are" says in words which rows are synthetic and which real.
    ``main_stats`` and ``sample_stats`` are the :func:`tile_statistics` the page already read for its tables and
    gallery, so each mask is read once; each image is read once here, for its brightness.
    """
    where, kind = ("demo", "synthetic") if synthetic else ("data_root", "real")
    main_images, sample_images = image_statistics(main), image_statistics(sample)
    keys = set(sample_stats["subdataset"])
    rows = {}
    if main_stats["subdataset"].isin(keys).any():
        rows[f"{_names(sample)}, {where}"] = _describe(main_stats[main_stats["subdataset"].isin(keys)],
                                                       main_images[main_images["subdataset"].isin(keys)], kind)
    rows[f"all sub-datasets, {where}"] = _describe(main_stats, main_images, kind)
    rows[f"{_names(sample)}, shipped sample"] = _describe(sample_stats, sample_images, "real")
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(SAMPLE_COLUMNS)).rename_axis("tiles")


def spread_tiles(records: Sequence[TileRecord], stats: pd.DataFrame, count: int = 4) -> list[TileRecord]:
    """``count`` tiles spread evenly over the range of landslide shares, lowest first (a gallery of the range)."""
    ranked = stats.sort_values("landslide_share", kind="stable")
    picks = np.unique(np.linspace(0, len(ranked) - 1, min(count, len(ranked))).round().astype(int))
    by_uid = {r.uid: r for r in records}
    return [by_uid[f"{row.subdataset}/{row.name}"] for row in ranked.iloc[picks].itertuples()]


def sample_comparison(table: pd.DataFrame, sample: Sequence[TileRecord]) -> str:
    """The sample against the page's tiles in one computed paragraph, with what 24 tiles of one sub-dataset show.

    Args:
        table: :func:`sample_statistics` of the page's tiles and ``sample``.
        sample: The records of the shipped sample.
    """
    real, everything = table.iloc[-1], table.iloc[-2]
    where = everything.name.rsplit(", ", 1)[1]
    kind, names, count = everything["tiles are"], _names(sample), int(real["Tiles"])
    below = round(real["Tiles < 0.1 % (%)"] * count / 100)
    text = (f"The {count} real {names} tiles of the sample hold {real['Pixel share (%)']:.1f} % landslide pixels "
            f"(tile shares from {real['Min tile share (%)']:.2f} % to {real['Max tile share (%)']:.1f} %, {below or 'none'} "
            f"under 0.1 %), against ")
    if len(table) == 3:
        same = table.iloc[0]
        text += (f"{same['Pixel share (%)']:.1f} % in the {int(same['Tiles'])} {kind} {names} tiles of the {where} "
                 f"data and ")
    reference, which = ((table.iloc[0], f"the {kind} {names} tiles") if len(table) == 3
                        else (everything, f"all {kind} tiles"))
    text += (f"{everything['Pixel share (%)']:.1f} % in all {int(everything['Tiles'])} {kind} tiles of the {where} "
             f"data; their mean brightness is {real['Mean brightness']:.0f} (standard deviation "
             f"{real['Brightness SD']:.0f}) against {reference['Mean brightness']:.0f} "
             f"({reference['Brightness SD']:.0f}) in {which}.")
    _, listed, total = paper_tiles(r.subdataset for r in sample)
    return (f"{text} These are {count} tiles of {names}, of the {listed:,} tiles paper Table 2 lists for it and "
            f"{total:,} in the dataset: they show how real tiles look and how their landslide share varies beside "
            f"the {kind} ones, not the landslide share of the sub-dataset or of the dataset.")
