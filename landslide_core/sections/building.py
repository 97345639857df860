"""What the "Building the dataset" and "Validation of quality control" pages compute beyond the building tools.

Scenes are cut into tiles with the tiler (quality-control scores in the tile index),
flagged by the rules :func:`qc_rules` quotes (at the page's thresholds), compared with
the truth the demo scenes were drawn with, filtered into a dataset of kept tiles (the
stand-in for the published one), and audited for tiles that share pixels. The figures
show the workflow and the four challenges the paper's Table 3 names.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..building.qc import CRITERIA, QCThresholds, flag, score_tile
from ..building.tiling import TilingOptions, tile_scene
from ..io.raster import open_raster, read_raster
from ..paper import quote, says
from ..sources import get_source
from ..sources.cas.demo import folder_name
from ..sources.cas.demo_scenes import DemoScene, write_demo_scenes
from ..sources.cas.registry import get_subdataset
from ..sources.cas.synthetic import SYNTHETIC_MARKER, is_replica, is_synthetic
from ..tiles import TileRecord

__all__ = [
    "RULE_COLOURS", "RULE_NAMES", "BuiltDataset", "build_dataset", "challenge_gallery", "cut_scenes", "disagreements",
    "flag_counts",
    "flag_table", "link_kept", "planted_truth", "published_root", "qc_against_truth", "qc_rules", "scene_overview",
    "scene_table",
    "score_distributions", "thresholds_from", "truth_summary",
]

RULE_NAMES = {"fill": "image boundary (fill)", "label": "label pixel proportion", "cloud": "cloud", "seam": "seam"}
"""Each rule by its challenge's name, as in the paper's “insufficient content in cropped images (image boundary)”, …

``(fill)`` is ours, the score the rule reads.
"""
RULE_COLOURS = {"fill": "#7570b3", "label": "#e6ab02", "cloud": "#1f78b4", "seam": "#d95f02"}
SCORE_OF = {"fill": "fill_fraction", "label": "label_share", "cloud": "cloud_fraction", "seam": "seam_score"}
SEAM_MARGIN = 16
"""Pixels a seam must lie inside a tile, on both sides, for the tile to count as crossing it."""


def _prefix(subdataset: str) -> str:
    sd = get_subdataset(subdataset)
    return sd.tile_name_prefixes[0] if sd.tile_name_prefixes else sd.key


def cut_scenes(scenes: Sequence[DemoScene], tiles_root: str | Path, *, options: TilingOptions | None = None,
               progress: bool = False) -> gpd.GeoDataFrame:
    """Cut every scene into tiles in the CAS layout under ``tiles_root``; return all tile indices as one table.

    Footprints are returned in WGS 84 (each scene has its own UTM zone); each scene's own index keeps its CRS.

    Each sub-dataset's tiles are numbered with one counter, as the production code
    did; reruns resume (tiles already cut are not written again). A root cut from
    synthetic scenes is marked synthetic like the demo tiles.
    """
    tiles_root, options = Path(tiles_root), options or TilingOptions()
    frames = []
    for scene in scenes:
        result = tile_scene(scene.scene, tiles_root, labels=scene.labels, subdataset=folder_name(scene.subdataset),
                            prefix=_prefix(scene.subdataset), options=options, scorer=score_tile, progress=progress)
        index = gpd.read_file(result.index)
        frames.append(index[index["scene"] == scene.scene.name].assign(subdataset=scene.subdataset).to_crs(4326))
    marker = scenes[0].scene.parent / SYNTHETIC_MARKER
    if marker.is_file():
        shutil.copyfile(marker, tiles_root / SYNTHETIC_MARKER)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326)


def planted_truth(index: pd.DataFrame, scenes: Sequence[DemoScene]) -> pd.DataFrame:
    """Per tile, what the scene was drawn with: true fill and cloud shares, and whether a seam crosses it."""
    by_file = {s.scene.name: s for s in scenes}
    truths = {name: read_raster(scene.truth).astype(bool) for name, scene in by_file.items()}  # each read once
    rows = []
    for _, tile in index.iterrows():
        scene = by_file[tile["scene"]]
        y0, x0, h, w = int(tile["y_off"]), int(tile["x_off"]), int(tile["height"]), int(tile["width"])
        fill, cloud = truths[tile["scene"]][:, y0:y0 + h, x0:x0 + w]
        start = x0 if scene.seam_axis == "vertical" else y0
        side = w if scene.seam_axis == "vertical" else h
        crosses = start + SEAM_MARGIN <= scene.seam_position <= start + side - SEAM_MARGIN
        rows.append({"name": tile["name"], "subdataset": tile["subdataset"], "true_fill": fill.mean(),
                     "true_cloud": cloud[~fill].mean() if (~fill).any() else 0.0, "crosses_seam": crosses})
    return pd.DataFrame(rows)


def _with_truth(flags: pd.DataFrame, truth: pd.DataFrame, thresholds: QCThresholds
                ) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Flags joined with the truth, and for each rule which tiles truly break it."""
    merged = flags.merge(truth, on=["subdataset", "name"])
    truly = {"fill": merged["true_fill"] > thresholds.fill, "label": merged["label_share"] < thresholds.label,
             "cloud": merged["true_cloud"] > thresholds.cloud, "seam": merged["crosses_seam"]}
    return merged, truly


def qc_against_truth(flags: pd.DataFrame, truth: pd.DataFrame, thresholds: QCThresholds | None = None
                     ) -> pd.DataFrame:
    """For each rule: tiles that truly break it, tiles flagged, and where the two disagree.

    Truth per rule: fill share > the fill threshold; landslide share (exact, from the mask) < the label
    threshold; cloud share of the image pixels > the cloud threshold; a seam crossing the tile.
    """
    merged, truly = _with_truth(flags, truth, thresholds or QCThresholds())
    rows = []
    for rule in CRITERIA:
        flagged = merged[f"flag_{rule}"].astype(bool)
        rows.append({"rule": RULE_NAMES[rule], "breaks it (truth)": int(truly[rule].sum()),
                     "flagged": int(flagged.sum()), "both": int((flagged & truly[rule]).sum()),
                     "missed": int((~flagged & truly[rule]).sum()),
                     "false alarms": int((flagged & ~truly[rule]).sum())})
    return pd.DataFrame(rows).set_index("rule")


def disagreements(flags: pd.DataFrame, truth: pd.DataFrame, thresholds: QCThresholds | None = None
                  ) -> pd.DataFrame:
    """The tiles where a rule's flag and the planted truth disagree, with their scores and truth."""
    merged, truly = _with_truth(flags, truth, thresholds or QCThresholds())
    rows = []
    for rule in CRITERIA:
        wrong = merged[merged[f"flag_{rule}"].astype(bool) != truly[rule]]
        for _, tile in wrong.iterrows():
            rows.append({"rule": RULE_NAMES[rule], "tile": tile["name"],
                         "error": "missed" if truly[rule][tile.name] else "false alarm",
                         "fill": tile["fill_fraction"], "true fill": tile["true_fill"],
                         "cloud": tile["cloud_fraction"], "true cloud": tile["true_cloud"],
                         "seam score": tile["seam_score"], "seam crosses": bool(tile["crosses_seam"])})
    return pd.DataFrame(rows, columns=["rule", "tile", "error", "fill", "true fill", "cloud", "true cloud",
                                       "seam score", "seam crosses"])


def flag_counts(flags: pd.DataFrame) -> pd.DataFrame:
    """Tiles per sub-dataset, how many each rule flags, and how many any rule flags (with the share)."""
    counts = flags.groupby("subdataset", sort=False).agg(
        tiles=("name", "size"), **{RULE_NAMES[r]: (f"flag_{r}", "sum") for r in CRITERIA},
        flagged=("flagged", "sum"))
    counts.loc["all"] = counts.sum()
    counts.index.name = "sub-dataset"
    counts["flagged share (%)"] = 100 * counts["flagged"] / counts["tiles"]
    return counts.astype({c: int for c in counts.columns if c != "flagged share (%)"})


def link_kept(records: Sequence[TileRecord], kept: set[str], out_root: str | Path, tiles_root: str | Path) -> Path:
    """A data root holding only the kept tiles (hard links where possible), as the published dataset held.

    Names are unchanged, so the numbering has gaps where tiles were rejected.
    """
    out_root, tiles_root = Path(out_root), Path(tiles_root)
    for record in records:
        if record.uid not in kept:
            continue
        for path in (record.image, record.mask, record.label):
            if path is None:
                continue
            target = out_root / path.relative_to(tiles_root)
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
            except OSError:
                shutil.copyfile(path, target)
    if (tiles_root / SYNTHETIC_MARKER).is_file():
        shutil.copyfile(tiles_root / SYNTHETIC_MARKER, out_root / SYNTHETIC_MARKER)
    return out_root


def _rgb(path: Path, step: int = 1) -> np.ndarray:
    return read_raster(path)[:3, ::step, ::step].transpose(1, 2, 0)


def scene_overview(scenes: Sequence[DemoScene], flags: pd.DataFrame, index: pd.DataFrame) -> Figure:
    """Each scene with its tile centres coloured by the rules that flag them, the seam and the event zone."""
    columns = min(len(scenes), 2)
    rows = -(-len(scenes) // columns)
    figure = plt.figure(figsize=(4.6 * columns, 4.7 * rows + 0.8), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for spare in axes[len(scenes):]:
        spare.set_axis_off()
    flag_columns = ["subdataset", "name", "flagged", *(f"flag_{rule}" for rule in CRITERIA)]
    merged = index.merge(flags[flag_columns], on=["subdataset", "name"])
    step = 4
    for axis, scene in zip(axes, scenes, strict=False):
        axis.imshow(_rgb(scene.scene, step), extent=_extent(scene.scene))
        tiles = merged[merged["scene"] == scene.scene.name]
        cy = (tiles["y_off"] + tiles["height"] / 2).to_numpy()
        cx = (tiles["x_off"] + tiles["width"] / 2).to_numpy()
        kept = ~tiles["flagged"].astype(bool).to_numpy()
        axis.scatter(cx[kept], cy[kept], s=22, c="#1b9e77", edgecolors="white", linewidths=0.6)
        for offset, rule in enumerate(CRITERIA):
            hit = tiles[f"flag_{rule}"].astype(bool).to_numpy()
            axis.scatter(cx[hit] + (offset - 1.5) * 40, cy[hit], s=22, c=RULE_COLOURS[rule], edgecolors="white",
                         linewidths=0.6, marker="s")
        line = axis.axvline if scene.seam_axis == "vertical" else axis.axhline
        line(scene.seam_position, color="#d95f02", linestyle="--", linewidth=1)
        r, c, h, w = scene.event_zone
        axis.add_patch(plt.Rectangle((c, r), w, h, fill=False, edgecolor="#e7298a", linewidth=1, linestyle=":"))
        axis.set_title(f"{get_subdataset(scene.subdataset).name} ({scene.crs})", fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    handles = [Line2D([], [], marker="o", linestyle="", color="#1b9e77", label="tile kept"),
               *(Line2D([], [], marker="s", linestyle="", color=RULE_COLOURS[r], label=f"flagged: {RULE_NAMES[r]}")
                 for r in CRITERIA),
               Line2D([], [], color="#d95f02", linestyle="--", label="planted seam"),
               Line2D([], [], color="#e7298a", linestyle=":", label="landslide event zone")]
    figure.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8)
    return figure


def _extent(path: Path) -> tuple[float, float, float, float]:
    with open_raster(path) as src:
        return (-0.5, src.width - 0.5, src.height - 0.5, -0.5)


def score_distributions(flags: pd.DataFrame, thresholds: QCThresholds | None = None) -> Figure:
    """One histogram per score with the rule's threshold as a line (the quoted number; ours for the seam)."""
    thresholds = thresholds or QCThresholds()
    figure = plt.figure(figsize=(11, 2.6), layout="constrained")
    axes = figure.subplots(1, len(CRITERIA))
    for axis, rule in zip(axes, CRITERIA, strict=True):
        values = flags[SCORE_OF[rule]].dropna()
        if rule == "label":
            values = np.log10(values.clip(lower=1e-6))
            limit = np.log10(thresholds.label)
            axis.set_xlabel("log10 landslide share (none: −6)")
        else:
            limit = getattr(thresholds, rule)
            axis.set_xlabel(SCORE_OF[rule].replace("_", " "))
        axis.hist(values, bins=25, color=RULE_COLOURS[rule], alpha=0.8)
        axis.axvline(limit, color="black", linestyle="--", linewidth=1)
        axis.set_title(RULE_NAMES[rule], fontsize=9)
    axes[0].set_ylabel("tiles")
    return figure


def challenge_gallery(flags: pd.DataFrame, records: Sequence[TileRecord], source: str = "cas") -> Figure:
    """Paper Table 3's four challenges: for each rule, the tile it flags most clearly, mask outlined, with scores."""
    by_uid = {r.uid: r for r in records}
    tiles = get_source(source)
    figure = plt.figure(figsize=(11, 3.4), layout="constrained")
    axes = figure.subplots(1, len(CRITERIA))
    for axis, rule in zip(axes, CRITERIA, strict=True):
        hits = flags[flags[f"flag_{rule}"].astype(bool)]
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_title(RULE_NAMES[rule], fontsize=9)
        if hits.empty:
            axis.text(0.5, 0.5, "no tile flagged", ha="center", va="center", transform=axis.transAxes)
            continue
        score = hits[SCORE_OF[rule]]
        pick = hits.loc[score.idxmin() if rule == "label" else score.idxmax()]
        record = by_uid[f"{pick['subdataset']}/{pick['name']}"]
        image, mask = tiles.read_tile(record)
        axis.imshow(image.transpose(1, 2, 0))
        if mask is not None and mask.any():
            axis.contour(mask.reshape(mask.shape[-2:]), levels=[0.5], colors="#e7298a", linewidths=0.8)
        axis.set_xlabel(f"{pick['name']}\nfill {pick['fill_fraction']:.0%} · label {pick['label_share']:.2%}\n"
                        f"cloud {pick['cloud_fraction']:.0%} · seam {pick['seam_score']:.1f}", fontsize=7)
    return figure


def flag_table(index: pd.DataFrame, thresholds: QCThresholds) -> pd.DataFrame:
    """The tile index's scores with the rules' flags (:func:`landslide_core.building.qc.flag`)."""
    return flag(pd.DataFrame(index.drop(columns="geometry")), thresholds)


@dataclass(frozen=True)
class BuiltDataset:
    """Scenes cut into tiles, scored, decided on, and the kept tiles as their own data root."""

    scenes: list[DemoScene]
    index: gpd.GeoDataFrame
    """Every tile's footprint, position and scores (the tiler's index, all scenes)."""
    flags: pd.DataFrame
    """Scores, one flag column per rule, ``flagged`` and ``reasons``."""
    kept: set[str]
    """Uids of the tiles kept."""
    tiles_root: Path
    """Every tile cut (the unfiltered dataset)."""
    filtered_root: Path
    """Only the kept tiles (the filtered dataset)."""
    records: list[TileRecord]
    """The records of every tile cut."""


def build_dataset(work_dir: str | Path, *, seed: int = 0, options: TilingOptions | None = None,
                  thresholds: QCThresholds | None = None, progress: bool = False) -> BuiltDataset:
    """Paper Fig. 2 on the synthetic demo scenes: draw them, cut them, score and flag every tile, keep the rest.

    Here the automated flags decide (ours: every flagged tile is rejected); the paper's scheme has a person
    decide, “We then manually inspected the flagged images to make the final rejection or retention decision”
    (``landslide-core qc --decisions`` reads such decisions back). Everything is written under ``work_dir``
    and read back on the next call.
    """
    work_dir, thresholds = Path(work_dir), thresholds or QCThresholds()
    scenes = write_demo_scenes(work_dir / "scenes", seed=seed, progress=progress)
    tiles_root = work_dir / "tiles"
    index = cut_scenes(scenes, tiles_root, options=options, progress=progress)
    flags = flag_table(index, thresholds)
    records = get_source("cas").list_tiles(tiles_root)
    rejected = {f"{row.subdataset}/{row.name}" for row in flags.itertuples() if row.flagged}
    kept = {r.uid for r in records} - rejected
    filtered_root = link_kept(records, kept, work_dir / "filtered", tiles_root)
    return BuiltDataset(scenes, index, flags, kept, tiles_root, filtered_root, records)


def published_root(data_root: str | Path | None) -> Path | None:
    """The data root of published tiles a page should audit, or ``None`` for the synthetic demo tiles.

    The book runner resolves an unset ``data_root`` to the demo tiles; those are not a published dataset
    (they were never cut from scenes), so the pages then work on the demo scenes alone. A full-size replica
    (``landslide-core replica``) is synthetic too, but laid out as the published dataset: the pages audit it as
    they would the real tiles, which is what a rehearsal of the paper profile measures.
    """
    if data_root in (None, "") or (is_synthetic(data_root) and not is_replica(data_root)):
        return None
    return Path(data_root)


def _percent(share: float) -> str:
    return f"{100 * share:g} %"


def qc_rules(thresholds: QCThresholds | None = None) -> str:
    """The four rules in Markdown: each quoted, then how this page flags, with what is ours said so.

    The rules are in the "Building the dataset" prose, not in Table 3 (which names the challenges); each quote
    comes from :mod:`landslide_core.paper`, and ``thresholds`` are the page's parameters.
    """
    t = thresholds or QCThresholds()
    rules = [
        ("fill", "fill_rule", f"fill share > {_percent(t.fill)}."),
        ("label", "label_rule", f"landslide share < {_percent(t.label)}, tiles without any landslide included "
                                "(ours: the rule read literally)."),
        ("cloud", "cloud_rule", f"cloud share > {_percent(t.cloud)}, never on tiles known to be UAV. Ours: the "
                                "share alone decides; the second condition has no measure, so the clarity of the "
                                "landslide pixels is left to the person who reviews the flags."),
        ("seam", "seam_rule", f"seam score > {t.seam:g}, a threshold of ours (the rule has no number; chosen on "
                              "published tiles, see `QCThresholds`)."),
    ]
    lines = [f"{says('table3_challenges')}. The rules are in the prose of the same section, not in Table 3:", ""]
    lines += [f"- **{RULE_NAMES[rule]}**: {quote(key).cited()}. Flagged here: {ours}" for rule, key, ours in rules]
    lines += ["", f"{says('qc_scheme')} Here the flags decide: every flagged tile is rejected (ours, for a run "
              "without a reviewer)."]
    return "\n".join(lines)


def thresholds_from(fill: float, label: float, cloud: float, seam: float | None) -> QCThresholds:
    """The page's threshold parameters as :class:`QCThresholds`; ``seam=None`` keeps our calibrated default."""
    default = QCThresholds()
    return QCThresholds(fill=fill, label=label, cloud=cloud, seam=default.seam if seam is None else seam)


def scene_table(built: BuiltDataset) -> pd.DataFrame:
    """Per scene: sub-dataset, CRS, size, ground resolution, tiles cut, tiles kept, and its planted defects."""
    rows = []
    for scene in built.scenes:
        with open_raster(scene.scene) as src:
            width, height, resolution = src.width, src.height, src.res[0]
        tiles = built.flags[built.flags["scene"] == scene.scene.name]
        kept = sum(f"{scene.subdataset}/{name}" in built.kept for name in tiles["name"])
        rows.append({"sub-dataset": get_subdataset(scene.subdataset).name, "CRS": scene.crs,
                     "size (px)": f"{width}×{height}", "resolution (m)": resolution, "tiles": len(tiles),
                     "kept": kept, "fill": scene.fill_style, "seam": f"{scene.seam_axis} at {scene.seam_position} px"})
    return pd.DataFrame(rows).set_index("sub-dataset")


def truth_summary(checked: pd.DataFrame) -> str:
    """The flags-against-truth table in a sentence: which rules found every planted defect, and the errors."""
    exact = [rule for rule, row in checked.iterrows() if row["missed"] == 0 and row["false alarms"] == 0]
    text = (f"{len(exact)} of {len(checked)} rules flag exactly the tiles that break them"
            + (f" ({', '.join(exact)})." if exact else "."))
    for rule, row in checked.iterrows():
        if row["missed"] or row["false alarms"]:
            text += (f" {rule.capitalize()}: {row['missed']} tile(s) missed and {row['false alarms']} flagged "
                     f"without breaking the rule in the truth.")
    return text
