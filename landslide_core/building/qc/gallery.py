"""A review gallery of the flagged tiles: one picture each and an HTML index, for the person who decides."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from tqdm import tqdm

from ...io.atomic import atomic_path, write_text_atomic
from ...io.raster import read_raster

__all__ = ["GALLERY_INDEX", "gallery_name", "tile_figure", "write_gallery"]

GALLERY_INDEX = "index.html"
_MASK_ALPHA = 0.45


def gallery_name(subdataset: str, name: str) -> str:
    """The picture's file name for a tile: ``<sub-dataset>__<name>.png``, other characters than ``A-Za-z0-9._-`` as ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{subdataset}__{name}") + ".png"


def _scores_line(row: pd.Series) -> str:
    label = row["label_share"]
    return (f"fill {row['fill_fraction']:.1%} · label {'no mask' if pd.isna(label) else format(label, '.2%')} · "
            f"cloud {row['cloud_fraction']:.1%} · seam {row['seam_score']:.1f}")


def tile_figure(row: pd.Series) -> Figure:
    """The tile's image, its mask in semi-transparent red where it has one, and a title with reasons and scores.

    The title names the tile and its sub-dataset.

    Args:
        row: One row of :func:`~landslide_core.building.qc.flags.flag`'s output (``image`` and ``mask`` paths).

    Raises:
        TileError: The image or mask cannot be read.
    """
    image = read_raster(row["image"])[:3].transpose(1, 2, 0)
    figure = Figure(figsize=(6, 6.6), dpi=100)
    axis = figure.add_axes((0.02, 0.01, 0.96, 0.87))
    axis.imshow(image, interpolation="nearest")
    if row["mask"]:
        mask = read_raster(row["mask"])[0] > 0
        overlay = np.zeros((*mask.shape, 4), np.float32)
        overlay[mask] = (1.0, 0.0, 0.0, _MASK_ALPHA)
        axis.imshow(overlay, interpolation="nearest")
    axis.set_axis_off()
    figure.suptitle(f"{row['name']} ({row['subdataset']})\n{row['reasons'] or 'not flagged'}\n{_scores_line(row)}",
                    fontsize=9, y=0.985, va="top")
    return figure


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    with atomic_path(path, suffix=".tmp.png") as tmp:
        figure.savefig(tmp, format="png")


def _index_html(tiles: pd.DataFrame, files: list[str]) -> str:
    rows = []
    for (_, row), file in zip(tiles.iterrows(), files, strict=True):
        link = quote(file)
        rows.append(
            f'<tr><td><a href="{link}"><img src="{link}" width="256" alt="{html.escape(row["name"])}"></a></td>'
            f"<td>{html.escape(str(row['subdataset']))}</td><td>{html.escape(row['name'])}</td>"
            f"<td>{html.escape(row['reasons'])}</td><td>{html.escape(_scores_line(row))}</td></tr>"
        )
    body = "\n".join(rows) or '<tr><td colspan="5">No tile was flagged.</td></tr>'
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Flagged tiles</title>\n"
        "<style>body{font-family:sans-serif} td{vertical-align:top;padding:4px} th{text-align:left}</style>"
        "</head><body>\n"
        f"<h1>Flagged tiles ({len(files)})</h1>\n"
        "<p>Automated scores flag, a person decides: write <code>keep</code> or <code>reject</code> for each tile "
        "in <code>decisions.csv</code> beside this folder, then run <code>landslide-core qc</code> again.</p>\n"
        "<table><tr><th>tile</th><th>sub-dataset</th><th>name</th><th>reasons</th><th>scores</th></tr>\n"
        f"{body}\n</table></body></html>\n"
    )


def write_gallery(flags: pd.DataFrame, out: str | Path, *, progress: bool = True) -> Path:
    """Write a picture of every flagged tile (:func:`tile_figure`) and ``index.html`` listing them into ``out``.

    Pictures of tiles no longer flagged (from an earlier run) are removed, so the folder shows
    exactly what the index lists.

    Args:
        flags: :func:`~landslide_core.building.qc.flags.flag`'s output.
        out: The gallery folder (created when missing).
        progress: Show a progress bar.

    Returns:
        The path of ``index.html``.

    Raises:
        TileError: A flagged tile cannot be read.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    flagged = flags[flags["flagged"]]
    files = [gallery_name(s, n) for s, n in zip(flagged["subdataset"], flagged["name"], strict=True)]
    for (_, row), file in tqdm(zip(flagged.iterrows(), files, strict=True), total=len(files),
                               desc="drawing flagged tiles", unit="tile", disable=not progress):
        _save(tile_figure(row), out / file)
    for stale in set(p.name for p in out.glob("*.png")) - set(files):
        (out / stale).unlink()
    return write_text_atomic(out / GALLERY_INDEX, _index_html(flagged, files))
