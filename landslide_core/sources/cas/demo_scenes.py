"""Synthetic georeferenced satellite scenes with planted defects, for the dataset-building pages and tests.

The published CAS tiles passed quality control, so they cannot show what quality
control removes. These scenes can: each is a SYNTHETIC satellite image of a few
kilometres at one of the study regions (UTM, the sub-dataset's ground resolution),
drawn with the demo tile renderer, with a vector landslide inventory and one defect
for each of the four challenges the paper's Table 3 names, whose truth is written beside it:

- **image boundary**: a corner of the scene outside the image footprint, filled
  with white, black nodata or a fixed grey (truth: a fill mask);
- **label pixel proportion**: landslides occur only in the event zone; elsewhere
  the ground is stable except for one tiny scar far below 0.1 % of a tile;
- **cloud**: a dense cloud bank (truth: pixels under cloud of opacity > 0.5);
- **seam**: part of the scene comes from a second acquisition, with another
  exposure, tint and blur and misregistered by 20-40 px, meeting the rest along a
  straight line (truth: its orientation and position).

Every scene draws from ``np.random.default_rng([seed, 7, scene index])``, so a seed
always gives the same pixels. The folder is marked synthetic like the demo tiles.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
from pyproj import CRS, Transformer
from rasterio.features import shapes
from rasterio.transform import from_origin
from scipy import ndimage
from shapely.geometry import shape
from tqdm import tqdm

from ...io.atomic import write_text_atomic
from ...io.lock import LOCK_FILE, exclusive_lock
from ...io.raster import write_raster
from .demo import (
    NOTE,
    Terrain,
    _blend,
    add_fields,
    add_outcrop,
    add_river,
    add_road,
    add_scar,
    add_scars,
    fractal_noise,
    grade,
    satellite_look,
    soil_noise,
    style_for,
    terrain,
    to_uint8,
    vegetation,
)
from .registry import get_subdataset, region
from .synthetic import SYNTHETIC_MARKER

__all__ = [
    "DEFAULT_SCENE_SIZE", "DEFAULT_SCENE_SUBDATASETS", "GENERATOR", "SCENES_FILE", "DemoScene", "read_demo_scenes", "render_scene",
    "utm_crs", "write_demo_scenes",
]

DEFAULT_SCENE_SUBDATASETS = ("hokkaido", "palu", "moxitaidi-sat", "longxi-sat")
DEFAULT_SCENE_SIZE = 1536
SCENES_FILE = "scenes.json"
GENERATOR = "landslide_core.demo_scenes"
GENERATOR_VERSION = 3
FILL_STYLES = ("white", "nodata", "grey")
FILL_VALUES = {"white": 255, "nodata": 0, "grey": 128}


@dataclass(frozen=True)
class DemoScene:
    """One written scene and the truth about its planted defects."""

    name: str
    subdataset: str
    scene: Path
    labels: Path
    truth: Path
    """Two-band uint8 GeoTIFF on the scene's grid: band 1 = fill (1 outside the image footprint), band 2 = cloud."""
    crs: str
    fill_style: str
    """How the fill corner is filled: ``white`` (255), ``nodata`` (0, the scene's nodata value) or ``grey`` (128)."""
    fill_value: int
    seam_axis: str
    """``vertical``: the seam is the column ``seam_position``; ``horizontal``: the row."""
    seam_position: int
    event_zone: tuple[int, int, int, int]
    """``(row, col, height, width)`` of the area where landslides occur, in scene pixels."""
    tiny_scar_pixels: int
    """Pixels of the single tiny scar planted outside the event zone."""


def utm_crs(lat: float, lon: float) -> CRS:
    """The WGS 84 / UTM zone of a point (EPSG 326xx north of the equator, 327xx south)."""
    zone = int((lon + 180) // 6) + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _scene_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, 7, index])


def _fill_mask(rng: np.random.Generator, size: int, corner: int) -> np.ndarray:
    """A corner outside the footprint: the triangle ``u + v < c`` from ``corner`` (0 NW, 1 NE, 2 SW, 3 SE).

    ``c`` is drawn so the triangle covers 45-60 % of a 512-px corner tile: that tile fails the 30 % rule and
    its neighbours (under a fifth filled) pass.
    """
    c = int(512 * np.sqrt(2 * rng.uniform(0.45, 0.6)))
    y, x = np.mgrid[0:size, 0:size]
    u = x if corner in (0, 2) else size - 1 - x
    v = y if corner in (0, 1) else size - 1 - y
    return (u + v) < c


def _cloud_bank(rng: np.random.Generator, size: int) -> np.ndarray:
    """Opacity (0-1) of a dense cloud bank about 800 px across, centred away from the fill corner's diagonal."""
    centre = rng.uniform(0.3, 0.7, 2) * size
    radius = rng.uniform(380, 460)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    edge = fractal_noise(rng, (size, size), 120, octaves=3) * 90
    distance = np.hypot(y - np.float32(centre[0]), x - np.float32(centre[1])) + edge
    return np.clip((np.float32(radius) - distance) / 60, 0, 1).astype(np.float32)


def _in_zone(corner: int, size: int, zone: tuple[int, int, int, int]) -> bool:
    """Whether the 140-px square at a scene corner overlaps the event zone."""
    r0 = size - 140 if corner >= 2 else 0
    c0 = size - 140 if corner % 2 else 0
    zr, zc, zh, zw = zone
    return r0 < zr + zh and zr < r0 + 140 and c0 < zc + zw and zc < c0 + 140


def render_scene(seed: int, index: int, subdataset: str, size: int = DEFAULT_SCENE_SIZE) -> dict[str, object]:
    """Draw one scene: its uint8 image, mask, fill and cloud truth, and the defects' parameters."""
    rng = _scene_rng(seed, index)
    style = style_for(get_subdataset(subdataset))
    res = style.resolution_m
    ground = terrain(rng, size, res)
    image = vegetation(rng, style, size)
    for add in (add_fields, add_outcrop, add_river, add_road):
        if rng.random() < 0.5:
            add(rng, image, res)
    zone_h = zone_w = int(size * rng.uniform(0.6, 0.75))  # square: the scar drawer works on square tiles
    zone_r, zone_c = int(rng.integers(0, size - zone_h)), int(rng.integers(0, size - zone_w))
    rows, cols = slice(zone_r, zone_r + zone_h), slice(zone_c, zone_c + zone_w)
    zone_ground = Terrain(ground.shade[rows, cols], ground.down_y[rows, cols], ground.down_x[rows, cols],
                          ground.slope[rows, cols])
    mask = np.zeros((size, size), bool)
    zone_view = image[rows, cols]
    mask[rows, cols] = add_scars(rng, zone_view, zone_ground, res)
    # one tiny scar on stable ground, in a corner that is neither filled nor in the event zone
    fill_corner = int(rng.integers(4))
    free = [c for c in range(4) if c != fill_corner and not _in_zone(c, size, (zone_r, zone_c, zone_h, zone_w))]
    tiny_corner = free[0] if free else (fill_corner + 3) % 4
    far = np.array([size - 140 if tiny_corner >= 2 else 0, size - 140 if tiny_corner % 2 else 0], float)
    far += rng.uniform(60, 80, 2)
    tiny = add_scar(rng, image, mask, soil_noise(rng, size, res), far, float(rng.uniform(0, 2 * np.pi)), 14.0, 6.0)
    image *= (0.4 + 0.85 * ground.shade)[..., None]
    cloud = _cloud_bank(rng, size)
    _blend(image, np.array([1.2, 1.2, 1.22], np.float32) * (0.95 + 0.05 * cloud)[..., None], 0.97 * cloud)
    image = satellite_look(rng, image, style)
    # the second acquisition: another exposure, tint and blur beyond a straight line
    axis = "vertical" if rng.random() < 0.5 else "horizontal"
    position = int(rng.integers(int(0.55 * size), int(0.8 * size)))
    # (misregistered by 20-40 px along the line, as mosaics of two dates are)
    shift = int(rng.integers(20, 41))
    other = np.roll(image, shift, axis=0 if axis == "vertical" else 1)
    other = ndimage.gaussian_filter(other, (1.5, 1.5, 0), mode="nearest") * rng.uniform(0.68, 0.75)
    other *= np.array([rng.uniform(1.08, 1.2), 1.0, rng.uniform(0.8, 0.9)], np.float32)
    beyond = (slice(None), slice(position, None)) if axis == "vertical" else (slice(position, None), slice(None))
    image[beyond] = other[beyond]
    # 0 and 255 are left to fill: overexposed cloud stops at 254, as an orthomosaic keeps its nodata value free
    pixels = np.clip(to_uint8(grade(rng, image, style)), 1, 254)
    fill = _fill_mask(rng, size, fill_corner)
    fill_style = FILL_STYLES[index % len(FILL_STYLES)]
    pixels[:, fill] = FILL_VALUES[fill_style]
    mask &= ~fill
    tiny_pixels = int(mask[far[0].astype(int) - 40:far[0].astype(int) + 40, far[1].astype(int) - 40:far[1].astype(int) + 40].sum()) if tiny else 0
    return {"image": pixels, "mask": mask.astype(np.uint8), "fill": fill, "cloud": cloud > 0.5 / 0.97,
            "fill_style": fill_style, "seam_axis": axis, "seam_position": position,
            "event_zone": (zone_r, zone_c, zone_h, zone_w), "tiny_scar_pixels": tiny_pixels}


def _inventory(mask: np.ndarray, transform: object, crs: CRS) -> gpd.GeoDataFrame:
    """The mask as landslide polygons (pixel-exact outlines, so rasterizing them gives the mask back)."""
    polygons = [shape(geometry) for geometry, value in shapes(mask, mask=mask > 0, transform=transform) if value]
    frame = gpd.GeoDataFrame({"landslide_id": np.arange(1, len(polygons) + 1)}, geometry=polygons, crs=crs)
    frame["area_m2"] = frame.geometry.area.round(1)
    return frame


def write_demo_scenes(
    out: str | Path,
    *,
    seed: int = 0,
    subdatasets: tuple[str, ...] = DEFAULT_SCENE_SUBDATASETS,
    size: int = DEFAULT_SCENE_SIZE,
    progress: bool = True,
) -> list[DemoScene]:
    """Write one scene per sub-dataset (GeoTIFF, GeoPackage inventory, truth raster) and ``scenes.json``.

    A folder that already holds scenes written with the same settings is read back
    instead (the marker file records them), so pages can call this every time. Two
    processes asking at once (book sections executed side by side) take turns on a
    lock in ``out``: the second waits and reads back what the first wrote.
    """
    out = Path(out)
    settings = {"synthetic": True, "generator": GENERATOR, "generator_version": GENERATOR_VERSION,
                "seed": seed, "subdatasets": [get_subdataset(s).key for s in subdatasets], "size": size, "note": NOTE}
    out.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(out / LOCK_FILE, "writing the demo scenes", wait=True):
        return _write_scenes(out, settings, seed, size, progress)


def _write_scenes(out: Path, settings: dict[str, object], seed: int, size: int, progress: bool) -> list[DemoScene]:
    marker = out / SYNTHETIC_MARKER
    if marker.is_file() and (out / SCENES_FILE).is_file() and json.loads(marker.read_text("utf-8")) == settings:
        return read_demo_scenes(out)
    scenes = []
    for index, key in enumerate(tqdm(settings["subdatasets"], desc="demo scenes", unit="scene", disable=not progress)):
        sd = get_subdataset(key)
        drawn = render_scene(seed, index, key, size)
        place = region(sd.region)
        crs = utm_crs(place.approx_lat, place.approx_lon)
        x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(place.approx_lon, place.approx_lat)
        res = sd.resolution_m
        transform = from_origin(round(x - size * res / 2), round(y + size * res / 2), res, res)
        name = f"{key}-scene"
        geo = {"crs": crs, "transform": transform}
        nodata = {"nodata": 0} if drawn["fill_style"] == "nodata" else {}
        write_raster(out / f"{name}.tif", drawn["image"], compress="deflate", tiled=True, blockxsize=256,
                     blockysize=256, **geo, **nodata)
        truth = np.stack([drawn["fill"], drawn["cloud"]]).astype(np.uint8)
        write_raster(out / f"{name}.truth.tif", truth, compress="deflate", **geo)
        labels = out / f"{name}.landslides.gpkg"
        labels.unlink(missing_ok=True)
        _inventory(drawn["mask"], transform, crs).to_file(labels, layer="landslides", driver="GPKG")
        scenes.append(DemoScene(
            name=name, subdataset=key, scene=out / f"{name}.tif", labels=labels, truth=out / f"{name}.truth.tif",
            crs=crs.to_string(), fill_style=str(drawn["fill_style"]), fill_value=FILL_VALUES[drawn["fill_style"]],
            seam_axis=str(drawn["seam_axis"]), seam_position=int(drawn["seam_position"]),
            event_zone=tuple(drawn["event_zone"]), tiny_scar_pixels=int(drawn["tiny_scar_pixels"]),
        ))
    listing = [{**asdict(s), **{k: Path(getattr(s, k)).name for k in ("scene", "labels", "truth")}} for s in scenes]
    write_text_atomic(out / SCENES_FILE, json.dumps(listing, indent=2) + "\n")
    write_text_atomic(marker, json.dumps(settings, indent=2) + "\n")
    return scenes


def read_demo_scenes(folder: str | Path) -> list[DemoScene]:
    """The scenes a :func:`write_demo_scenes` folder holds, with their truth."""
    folder = Path(folder)
    listing = json.loads((folder / SCENES_FILE).read_text("utf-8"))
    return [DemoScene(**{**item, "event_zone": tuple(item["event_zone"]),
                         **{k: folder / item[k] for k in ("scene", "labels", "truth")}}) for item in listing]
