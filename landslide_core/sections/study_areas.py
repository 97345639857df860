"""The study areas: paper Fig. 1 (location map) and Tables 2 and 4 as published, with columns of ours marked.

Positions come from the official study-areas shapefile when it has been
downloaded (``<root>/study_areas/``); otherwise from the registry's approximate
coordinates, and every caption and return value then says so. The world outline
is Natural Earth's 1:110m countries, which the pyogrio wheel ships as a test
fixture, so the map draws without a network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox
from shapely.geometry import Point

from ..errors import PathProblemError
from ..paper import quote
from ..paper.mismatches import resolution_footnote
from ..sources.cas import STUDY_AREAS_FOLDER, Region, regions, subdatasets
from .dataset import GROUP_COLOURS

WGS84 = "EPSG:4326"
__all__ = [
    "AREA_COLUMN", "GROUP_COLUMN", "StudyAreas", "inferred_areas", "read_study_area_shapefiles", "region_groups",
    "region_map", "study_area_shapefiles", "study_areas", "subdataset_chart", "summary", "table2_ours_note",
    "table2_parts", "table2_published", "table2_resolution_note", "table4_published", "world_outline",
]

OUTLINE_PACKAGE = "pyogrio"
OUTLINE_RESOURCE = "tests/fixtures/naturalearth_lowres/naturalearth_lowres.shp"
"""Natural Earth 1:110m countries inside the pyogrio wheel (177 countries, EPSG:4326)."""
SHAPEFILE_NOTE = "outlines from the official study-areas shapefile ({files})"
APPROXIMATE_NOTE = (
    "approximate coordinates of ours for the places of paper Table 4 (landslide_core registry), "
    "not the official study-areas shapefile"
)
GROUP_COLUMN, AREA_COLUMN = "Group (Table 5, ours)", "Study area (Table 4, ours)"
"""Columns of ours beside paper Table 2: the sensor group and the Table 4 region we link each sub-dataset to."""
BOTH = "UAV&SAT"
WORLD_MARKER, DETAIL_MARKER = 6, 8
"""Marker sizes (points) in the world panel and the zoomed panel."""

Source = Literal["shapefile", "registry"]


def outline_path() -> Path:
    """Where the Natural Earth countries shapefile is; raises with the fix when it is missing.

    Raises:
        PathProblemError: The shapefile is not there (or the package that ships it is not installed).
    """
    try:
        path = Path(str(resources.files(OUTLINE_PACKAGE).joinpath(OUTLINE_RESOURCE)))
    except ModuleNotFoundError:
        path = Path(OUTLINE_PACKAGE) / OUTLINE_RESOURCE
        problem = f"the {OUTLINE_PACKAGE} package, which ships the world outline, is not installed"
    else:
        problem = f"the world outline (Natural Earth 1:110m countries) is missing from the {OUTLINE_PACKAGE} package"
    if not path.is_file():
        raise PathProblemError(
            path, problem,
            f"install the {OUTLINE_PACKAGE} wheel from PyPI with its test fixtures: "
            f"`pip install --force-reinstall --no-deps {OUTLINE_PACKAGE}`",
        )
    return path


def world_outline(path: str | Path | None = None) -> gpd.GeoDataFrame:
    """Country polygons (columns ``name``, ``continent``, ``iso_a3``, geometry) in EPSG:4326.

    Raises:
        PathProblemError: The shapefile does not exist.
    """
    path = outline_path() if path is None else Path(path)
    if not path.is_file():
        raise PathProblemError(path, "the world outline shapefile does not exist", "pass the path of a countries shapefile")
    return gpd.read_file(path).to_crs(WGS84)


def region_groups() -> dict[str, str]:
    """Sensor group per region key: ``UAV``, ``SAT`` or ``UAV&SAT`` when it has sub-datasets of both."""
    groups: dict[str, set[str]] = {}
    for sd in subdatasets():
        groups.setdefault(sd.region, set()).add(sd.group)
    return {key: next(iter(g)) if len(g) == 1 else BOTH for key, g in groups.items()}


def _region_frame() -> pd.DataFrame:
    groups = region_groups()
    return pd.DataFrame(
        {
            "region": r.key,
            "Location": r.location,
            "Country": r.country,
            "Group": groups[r.key],
            "Sub-datasets": ", ".join(sd.name for sd in subdatasets() if sd.region == r.key),
        }
        for r in regions()
    )


@dataclass(frozen=True)
class StudyAreas:
    """The nine regions with one map position each, and where the positions come from.

    ``regions`` has one row per region of Table 4 (columns ``region``, ``Location``,
    ``Country``, ``Group``, ``Sub-datasets``, ``lon``, ``lat``, ``Position from``);
    ``outlines`` holds the shapefile's features with their ``region`` (empty in
    registry mode); ``note`` is the sentence for captions.
    """

    regions: gpd.GeoDataFrame
    outlines: gpd.GeoDataFrame
    source: Source
    files: tuple[Path, ...]
    note: str

    @property
    def approximate(self) -> bool:
        """Whether every position is the registry's approximate one (no shapefile was read)."""
        return self.source == "registry"

    def positions(self) -> pd.DataFrame:
        """The regions as the page's table: one row per location, without geometry and registry key."""
        return pd.DataFrame(self.regions.drop(columns=["geometry", "region"])).set_index("Location")


def study_area_shapefiles(root: str | Path) -> list[Path]:
    """The ``.shp`` files unpacked from the Zenodo study-areas archive under ``root``."""
    folder = Path(root) / STUDY_AREAS_FOLDER
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".shp") if folder.is_dir() else []


def _name_tokens(region: Region) -> tuple[str, ...]:
    """Lower-case words that name a region: its key, the first word of its location and of its sub-datasets."""
    words = [region.key, region.location.split(",")[0].split()[0]]
    words += [sd.name.split()[0] for sd in subdatasets() if sd.region == region.key]
    return tuple(dict.fromkeys(w.casefold() for w in words))


def _match_region(texts: Sequence[str], point: Point) -> tuple[str, str]:
    """The region a shapefile feature belongs to: by a name in its attributes or file name, else the nearest."""
    joined = " ".join(texts).casefold()
    for region in regions():
        if any(token in joined for token in _name_tokens(region)):
            return region.key, "name"
    distances = {r.key: point.distance(Point(r.approx_lon, r.approx_lat)) for r in regions()}
    return min(distances, key=distances.__getitem__), "nearest registry position"


def read_study_area_shapefiles(files: Sequence[Path]) -> gpd.GeoDataFrame:
    """All features of ``files`` in EPSG:4326, each with the region it outlines and how that was decided.

    Raises:
        PathProblemError: A shapefile has no coordinate reference system.
    """
    parts = []
    for path in files:
        frame = gpd.read_file(path)
        if frame.crs is None:
            raise PathProblemError(
                path, "the shapefile has no coordinate reference system (its .prj file is missing)",
                "unpack the study-areas archive again (`landslide-core download study-areas`) so the .prj comes along",
            )
        frame = frame.to_crs(WGS84)
        texts = frame.drop(columns="geometry").astype(str).agg(" ".join, axis=1)
        matches = [
            _match_region([text, path.stem], geometry.representative_point())
            for text, geometry in zip(texts, frame.geometry, strict=True)
        ]
        parts.append(gpd.GeoDataFrame(
            {"file": path.name, "region": [m[0] for m in matches], "matched by": [m[1] for m in matches]},
            geometry=frame.geometry.values, crs=WGS84,
        ))
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=WGS84)


def study_areas(root: str | Path | None = None, *, use_shapefile: bool = True) -> StudyAreas:
    """Map positions of the nine regions: from the official shapefile under ``root`` if there, else approximate.

    A region the shapefile does not cover keeps its approximate position, and its
    ``Position from`` says so.
    """
    files = tuple(study_area_shapefiles(root)) if root is not None and use_shapefile else ()
    frame = _region_frame()
    approx = [Point(r.approx_lon, r.approx_lat) for r in regions()]
    if not files:
        frame["Position from"] = "registry (approximate)"
        table = gpd.GeoDataFrame(frame, geometry=approx, crs=WGS84)
        outlines = gpd.GeoDataFrame({"file": [], "region": [], "matched by": []}, geometry=[], crs=WGS84)
        source: Source = "registry"
        note = APPROXIMATE_NOTE
    else:
        outlines = read_study_area_shapefiles(files)
        merged = outlines.dissolve(by="region").geometry
        points = [merged[key].representative_point() if key in merged.index else p for key, p in zip(frame.region, approx, strict=True)]
        frame["Position from"] = ["shapefile" if key in merged.index else "registry (approximate)" for key in frame.region]
        table = gpd.GeoDataFrame(frame, geometry=points, crs=WGS84)
        source = "shapefile"
        note = SHAPEFILE_NOTE.format(files=", ".join(p.name for p in files))
        missing = frame.loc[frame["Position from"] != "shapefile", "Location"].tolist()
        if missing:
            note += f"; not in the shapefile, so shown at approximate coordinates: {'; '.join(missing)}"
    table.insert(len(frame.columns) - 1, "lon", table.geometry.x.round(3))
    table.insert(len(frame.columns), "lat", table.geometry.y.round(3))
    return StudyAreas(regions=table, outlines=outlines, source=source, files=files, note=note)


# --- tables as published -------------------------------------------------------------------------------------


def table2_published() -> pd.DataFrame:
    """Paper Table 2 with its column names, from the registry; then two columns of ours, marked so: group and region."""
    region_names = {r.key: r.location for r in regions()}
    return pd.DataFrame(
        {
            "Subdataset": sd.name,
            "Amount": sd.paper_tiles,
            "Acquisition Time": sd.acquisition_time,
            "Source": sd.source,
            "Sensor": sd.sensor,
            "Ground Resolution (m)": sd.resolution_m,
            "Authorization": sd.licence,
            GROUP_COLUMN: sd.group,
            AREA_COLUMN: region_names[sd.region],
        }
        for sd in subdatasets()
    ).set_index("Subdataset")


TABLE2_PARTS = (
    ("Amount", "Acquisition Time", "Sensor", "Ground Resolution (m)", GROUP_COLUMN),
    ("Source", "Authorization", AREA_COLUMN),
)
"""The columns of :func:`table2_published` in two parts, each narrow enough for the book's text column: what
each sub-dataset is (tiles, dates, sensor, resolution, group), and where it comes from (source, licence, region)."""


def table2_parts() -> tuple[pd.DataFrame, ...]:
    """:func:`table2_published` split by :data:`TABLE2_PARTS`, each part indexed by the sub-dataset."""
    table = table2_published()
    return tuple(table[list(columns)] for columns in TABLE2_PARTS)


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def table2_resolution_note() -> str:
    """The footnote on Table 2's ground resolutions that are not their sensor's native one, in Markdown.

    The values stay as published; the footnote says which they are and what the sensor's native resolution is.
    """
    rows: dict[str, list[str]] = {}
    for sd in subdatasets():
        if resolution_footnote(sd.sensor) is not None:
            rows.setdefault(sd.sensor, []).append(f"{sd.name} at {sd.resolution_m:g} m")
    lines = [f"- {_and(names)}: {resolution_footnote(sensor)}." for sensor, names in rows.items()]
    return "**Ground resolution.** Not the sensor's native resolution:\n\n" + "\n".join(lines)


def inferred_areas() -> list[str]:
    """The sub-datasets whose name does not contain their Table 4 region's name: their region is inferred by us."""
    location = {r.key: r.location for r in regions()}
    return [sd.name for sd in subdatasets() if location[sd.region].split(",")[0].split()[0] not in sd.name]


def table2_ours_note() -> str:
    """What the two columns of ours beside Table 2 are, and which region links are inferred, in Markdown."""
    inferred = inferred_areas()
    location = {r.key: r.location for r in regions()}
    places = _and(sorted({location[sd.region] for sd in subdatasets() if sd.name in inferred}))
    return (
        f'**Columns of ours.** "{GROUP_COLUMN}" and "{AREA_COLUMN}" are not in paper Table 2. The group is UAV where '
        "Table 2's sensor is UAV and SAT otherwise, the two sensor groups of Table 5; the study area is the Table 4 "
        f"region the sub-dataset's name contains, except for {_and(inferred)}, whose names contain no Table 4 region. "
        f"That these {len(inferred)} lie in {places} is our inference from where Moxitaidi and Moxi town are; besides "
        f"Table 4, the paper names Luding once, for UAV images only: {quote('luding_uav').cited()}."
    )


def table4_published() -> pd.DataFrame:
    """Paper Table 4 with the paper's column names, from the registry."""
    return pd.DataFrame(
        {
            "Location": r.location,
            "Triggering Factors": r.trigger,
            "Landforms": r.landforms,
            "Lithology": r.lithology,
            "Climate": r.climate,
            "Vegetation": r.vegetation,
        }
        for r in regions()
    ).set_index("Location")


# --- the location map ----------------------------------------------------------------------------------------

_OFFSETS = [(dx, dy) for r in (7, 20, 34) for dx, dy in ((r, 0), (-r, 0), (0, r), (0, -r), (r, r), (-r, r), (r, -r), (-r, -r))]
"""Label offsets in points from the marker, tried in this order (near before far, right before left)."""


def _marker_style(group: str, size: float) -> dict[str, object]:
    """A region marker: filled with its group's colour, half and half for regions with both groups."""
    uav, sat = GROUP_COLOURS["UAV"], GROUP_COLOURS["SAT"]
    fill = {"UAV": (uav, uav), "SAT": (sat, sat), BOTH: (uav, sat)}[group]
    return {"marker": "o", "ls": "", "ms": size, "mfc": fill[0], "mfcalt": fill[1], "mec": "black", "mew": 0.6,
            "fillstyle": "left" if group == BOTH else "full"}


def _place_labels(
    ax: Axes, points: Sequence[tuple[float, float, str | None]], fontsize: float, marker: float, avoid: Sequence[Bbox] = ()
) -> None:
    """Label points greedily: the first offset whose text avoids the other labels, markers, ``avoid`` and the frame.

    Points whose text is None are markers to keep clear of, not to label.

    Far offsets get a leader line. This keeps labels apart without a layout
    library; where no offset is free, the one with the least overlap is used.
    """
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    side = marker * ax.figure.dpi / 72
    markers = [Bbox.from_bounds(*(ax.transData.transform((x, y)) - side / 2), side, side) for x, y, _ in points]
    taken = list(avoid)
    for i, (x, y, text) in enumerate(points):
        if text is None:
            continue
        others = taken + markers[:i] + markers[i + 1 :]
        best: tuple[int, Annotation, Bbox, tuple[float, float]] | None = None
        for dx, dy in _OFFSETS:
            label = ax.annotate(
                text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize, zorder=6,
                ha="left" if dx > 0 else "right" if dx < 0 else "center",
                va="bottom" if dy > 0 else "top" if dy < 0 else "center",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
            )
            box = label.get_window_extent(renderer).expanded(1.05, 1.1)
            clash = sum(box.overlaps(b) for b in others) + (not frame.contains(*box.p0) or not frame.contains(*box.p1))
            if best is None or clash < best[0]:
                if best is not None:
                    best[1].remove()
                best = (clash, label, box, (dx, dy))
            else:
                label.remove()
            if clash == 0:
                break
        assert best is not None
        _, _, box, (dx, dy) = best
        if max(abs(dx), abs(dy)) > _OFFSETS[0][0]:
            ax.annotate("", (x, y), xytext=(dx, dy), textcoords="offset points",
                        arrowprops={"arrowstyle": "-", "lw": 0.6, "color": "0.3", "shrinkA": 0, "shrinkB": side / 2})
        taken.append(box)


def _nudge(ax: Axes, lons: np.ndarray, lats: np.ndarray, size: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions pushed apart just enough that markers of ``size`` points do not hide each other, and which moved."""
    start = ax.transData.transform(np.column_stack([lons, lats]))
    px = start.copy()
    gap = size * ax.figure.dpi / 72 * 1.05
    for _ in range(20):
        for i in range(len(px)):
            for j in range(i + 1, len(px)):
                step = px[j] - px[i]
                dist = float(np.hypot(*step))
                if dist < gap:
                    direction = step / dist if dist > 0 else np.array([1.0, 0.0])
                    px[i] -= direction * (gap - dist) / 2
                    px[j] += direction * (gap - dist) / 2
    moved = ax.transData.inverted().transform(px)
    return moved[:, 0], moved[:, 1], np.hypot(*(px - start).T) > 0.5


def _extent(lons: np.ndarray, lats: np.ndarray, margin: float, aspect: float) -> tuple[float, float, float, float]:
    """A lon/lat box around the points, ``margin`` of their span on each side, widened to ``aspect`` (w/h)."""
    west, east, south, north = lons.min(), lons.max(), lats.min(), lats.max()
    width, height = max(east - west, 1.0), max(north - south, 1.0)
    width, height = width * (1 + 2 * margin), height * (1 + 2 * margin)
    width, height = max(width, height * aspect), max(height, width / aspect)
    cx, cy = (west + east) / 2, (south + north) / 2
    return cx - width / 2, cx + width / 2, cy - height / 2, cy + height / 2


def _draw_panel(ax: Axes, outline: gpd.GeoDataFrame, extent: tuple[float, float, float, float]) -> None:
    outline.plot(ax=ax, color="#ececec", edgecolor="#9a9a9a", linewidth=0.4)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7)
    ax.set_xlabel("longitude (°E)", fontsize=7)
    ax.set_ylabel("latitude (°N)", fontsize=7)


def region_map(areas: StudyAreas, outline: gpd.GeoDataFrame | None = None, *, width: float = 7.5) -> Figure:
    """Paper Fig. 1 redrawn: (a) the nine regions on the world, (b) the country with most regions, zoomed.

    Markers show the sensor group of the region's sub-datasets (half and half:
    both); the caption at the bottom says whether positions are official or approximate.
    """
    outline = world_outline() if outline is None else outline
    table = areas.regions
    lons, lats = table["lon"].to_numpy(float), table["lat"].to_numpy(float)
    labels = table["Location"].str.split(",").str[0].to_numpy()
    country = table["Country"].value_counts().index[0]
    in_detail = (table["Country"] == country).to_numpy()

    fig = plt.figure(figsize=(width, width * 0.95), layout="constrained")
    world_ax, detail_ax = fig.subplots(2, 1, height_ratios=(1, 1.25))
    world_extent = _extent(lons, lats, 0.12, 2.6)
    _draw_panel(world_ax, outline, world_extent)
    world_ax.set_title(f"(a) The {len(table)} study regions", fontsize=9, loc="left")
    detail_extent = _extent(lons[in_detail], lats[in_detail], 0.25, 1.6)
    _draw_panel(detail_ax, outline, detail_extent)
    detail_ax.set_title(f"(b) {country}: {in_detail.sum()} regions", fontsize=9, loc="left")
    world_ax.add_patch(Rectangle(
        (detail_extent[0], detail_extent[2]), detail_extent[1] - detail_extent[0], detail_extent[3] - detail_extent[2],
        fill=False, ec="0.25", lw=0.8, ls="--", zorder=4,
    ))
    panel_b = world_ax.annotate("(b)", (detail_extent[0], detail_extent[3]), xytext=(-2, 0), textcoords="offset points",
                                ha="right", va="top", fontsize=7)
    if len(areas.outlines):
        areas.outlines.boundary.plot(ax=detail_ax, color="#d95f02", linewidth=0.8, zorder=4)
    fig.canvas.draw()
    near_lons, near_lats, nudged = _nudge(detail_ax, lons[in_detail], lats[in_detail], DETAIL_MARKER)
    near = table[in_detail]
    for x, y, group, key in zip(lons, lats, table["Group"], table["region"], strict=True):
        world_ax.plot(x, y, **_marker_style(group, WORLD_MARKER), zorder=5, gid=f"region:{key}")
    for x, y, group, key in zip(near_lons, near_lats, near["Group"], near["region"], strict=True):
        detail_ax.plot(x, y, **_marker_style(group, DETAIL_MARKER), zorder=5, gid=f"region:{key}")
    world_labels = [(x, y, None if d else t) for x, y, t, d in zip(lons, lats, labels, in_detail, strict=True)]
    _place_labels(world_ax, world_labels, 7.5, WORLD_MARKER, [panel_b.get_window_extent()])
    _place_labels(detail_ax, list(zip(near_lons, near_lats, labels[in_detail], strict=True)), 8, DETAIL_MARKER)

    handles = [Line2D([], [], **_marker_style(g, 7)) for g in ("UAV", "SAT", BOTH)]
    detail_ax.legend(handles, ["UAV sub-datasets", "SAT sub-datasets", "both"], fontsize=7, loc="lower right",
                     title="sensor group", title_fontsize=7)
    kind = "Approximate positions" if areas.approximate else "Positions from the official study-areas shapefile"
    fig.suptitle(f"Study areas of the CAS Landslide Dataset (paper Fig. 1). {kind}", fontsize=10)
    moved = labels[in_detail][nudged]
    nudge_note = f" In (b), markers nudged apart so that each shows: {', '.join(moved)}." if len(moved) else ""
    fig.text(0.5, 0, f"Positions: {areas.note}.{nudge_note} World outline: Natural Earth 1:110m.", ha="center", va="top",
             fontsize=7, wrap=True)
    return fig


# --- tiles and resolution per sub-dataset --------------------------------------------------------------------


def subdataset_chart(counts: pd.DataFrame) -> Figure:
    """Tiles per sub-dataset (paper vs on disk, log scale) beside its ground resolution, coloured by group.

    ``counts`` is :func:`landslide_core.overview.table2` (its total rows are left out).
    """
    by_name = {sd.name: sd for sd in subdatasets()}
    rows = counts[counts.index.isin(list(by_name))]
    sds = [by_name[name] for name in rows.index]
    colours = [GROUP_COLOURS[sd.group] for sd in sds]
    y = np.arange(len(rows))
    paper = rows["Tiles (paper)"].to_numpy(int)
    disk = rows["Tiles on disk"].to_numpy(int)

    fig, (tiles_ax, res_ax) = plt.subplots(
        1, 2, figsize=(7.5, 0.3 * len(rows) + 1.4), sharey=True, width_ratios=(2.2, 1), layout="constrained"
    )
    tiles_ax.barh(y, paper, height=0.8, color=colours, alpha=0.3)
    tiles_ax.barh(y[disk > 0], disk[disk > 0], height=0.45, color=np.array(colours)[disk > 0])
    tiles_ax.set_xscale("log")
    tiles_ax.set_xlim(left=0.8, right=paper.max() * 6)
    for yi, p, d in zip(y, paper, disk, strict=True):
        tiles_ax.annotate(f"{p:,} / {d:,}", (p, yi), xytext=(3, 0), textcoords="offset points", va="center", fontsize=6.5)
    tiles_ax.set_yticks(y, rows.index, fontsize=7.5)
    tiles_ax.invert_yaxis()
    tiles_ax.set_xlabel("tiles, log scale (labels: paper / on disk)", fontsize=8)
    tiles_ax.tick_params(axis="x", labelsize=7)
    handles = [Rectangle((0, 0), 1, 1, color="0.5", alpha=0.3), Rectangle((0, 0), 1, 1, color="0.5")]
    handles += [Rectangle((0, 0), 1, 1, color=c) for c in GROUP_COLOURS.values()]
    fig.legend(handles, ["paper (Table 2)", "on disk (this run)", *GROUP_COLOURS], fontsize=7, ncols=4,
               loc="outside upper center", frameon=False)

    resolution = np.array([sd.resolution_m for sd in sds])
    low, high = resolution.min() / 1.5, resolution.max() * 1.5
    res_ax.hlines(y, low, resolution, color="0.8", lw=0.8)
    res_ax.scatter(resolution, y, c=colours, s=28, edgecolors="black", linewidths=0.5, zorder=3)
    res_ax.set_xscale("log")
    res_ax.set_xlim(low, high)
    ticks: list[float] = []
    for value in sorted(set(resolution)):
        if not ticks or value / ticks[-1] > 1.22:  # closer values would print on top of each other
            ticks.append(value)
    res_ax.set_xticks(ticks, [f"{t:g}" for t in ticks], fontsize=7)
    res_ax.minorticks_off()
    res_ax.set_xlabel("ground resolution (m), log scale", fontsize=8)
    res_ax.grid(axis="x", color="0.9", lw=0.6)
    return fig


def summary(areas: StudyAreas, counts: pd.DataFrame, *, synthetic: bool) -> str:
    """What the study-areas page shows, in one paragraph computed from its tables.

    Args:
        areas: The study areas the map was drawn from.
        counts: :func:`landslide_core.sections.dataset.table2` of the tiles found.
        synthetic: Whether the tiles counted are demo data (the paragraph then says so).
    """
    positions = areas.positions()
    published = table2_published()
    per_country = positions.groupby("Country").size().sort_values(ascending=False)
    uav_countries = sorted(positions.loc[positions["Group"] != "SAT", "Country"].unique())
    present = counts.loc[published.index, "Tiles on disk"].gt(0)
    return (
        f"The {len(published)} sub-datasets of paper Table 2 come from the {len(positions)} regions of Table 4, in "
        f"{len(per_country)} countries ({', '.join(f'{c}: {n}' for c, n in per_country.items())}); "
        f"{published[GROUP_COLUMN].eq('UAV').sum()} sub-datasets are UAV and "
        f"{published[GROUP_COLUMN].eq('SAT').sum()} satellite imagery, at ground resolutions from "
        f"{published['Ground Resolution (m)'].min():g} m to {published['Ground Resolution (m)'].max():g} m. "
        f"The UAV imagery comes from {' and '.join(uav_countries)} only. Map positions: "
        f"{'approximate' if areas.approximate else 'official shapefile'}. "
        f"This run found tiles of {present.sum()} of the {len(published)} sub-datasets "
        f"({counts.loc['UAV&SAT total', 'Tiles on disk']:,} tiles; the paper lists "
        f"{counts.loc['UAV&SAT total', 'Tiles (paper)']:,})"
        + (", all of them synthetic demo tiles." if synthetic else ".")
    )
