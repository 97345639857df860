"""Peak memory and speed of `tile_scene` on a scene larger than GDAL's block cache.

    .venv/bin/python benchmarks/tiling_memory.py                   # 8192×8192×3 scene (192 MiB), GDAL_CACHEMAX 32 MB
    .venv/bin/python benchmarks/tiling_memory.py --side 4096 --cache-mb 8

Writes a seeded random RGB scene (tiled, deflate-compressed GeoTIFF, written one strip at a time so writing it needs
little memory) and a seeded landslide inventory (discs, GeoPackage), then cuts it in a fresh process with
GDAL_CACHEMAX set small through rasterio.Env, and reads that process's peak resident set (VmHWM from
/proc/self/status) at the end. Two baselines run the same way: a process that only imports the same modules, and one
that cuts a one-tile scene (the same imports, GDAL drivers and index writing, no scene to speak of). The record
benchmarks/results/tiling-memory-<host>.csv/.json holds one row per process; memory bounded by the window size shows
as a growth over the one-tile baseline far below the scene's size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
SCENE_CRS = "EPSG:32650"
PIXEL_M = 2.0


def peak_rss_mib() -> float:
    status = Path("/proc/self/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("VmHWM:")).split()[1]) / 1024


def child(mode: str, scene: str, labels: str, out: str, cache_mb: int) -> None:
    """Run in the measured process: import, optionally tile, print the peak RSS as JSON."""
    import rasterio

    from landslide_core.building.tiling import tile_scene

    result = None
    if mode != "imports":
        with rasterio.Env(GDAL_CACHEMAX=cache_mb):  # MB
            result = tile_scene(scene, out, labels=labels, progress=False)
    print(json.dumps({"peak_rss_mib": peak_rss_mib(), "tiles": result.written if result else 0,
                      "seconds": result.seconds if result else 0.0}))


def write_scene(path: Path, side: int, seed: int) -> None:
    """A tiled, compressed random RGB scene written one 256-row strip at a time."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    rng = np.random.default_rng(seed)
    profile = {"driver": "GTiff", "width": side, "height": side, "count": 3, "dtype": "uint8", "crs": SCENE_CRS,
               "transform": from_origin(500_000, 3_000_000, PIXEL_M, PIXEL_M), "tiled": True, "blockxsize": 256,
               "blockysize": 256, "compress": "deflate"}
    with rasterio.Env(GDAL_CACHEMAX=16), rasterio.open(path, "w", **profile) as dst:
        for y in range(0, side, 256):
            rows = min(256, side - y)
            dst.write(rng.integers(0, 256, (3, rows, side), dtype=np.uint8), window=Window(0, y, side, rows))


def write_inventory(path: Path, side: int, polygons: int, seed: int) -> None:
    """Seeded landslide-sized discs over the scene (20 to 150 m across), in the scene's CRS."""
    import geopandas as gpd
    from shapely.geometry import Point

    rng = np.random.default_rng(seed)
    extent = side * PIXEL_M
    discs = [Point(500_000 + rng.uniform(0, extent), 3_000_000 - rng.uniform(0, extent)).buffer(rng.uniform(10, 75))
             for _ in range(polygons)]
    gpd.GeoDataFrame({"id": range(polygons)}, geometry=discs, crs=SCENE_CRS).to_file(path)


def measure(mode: str, scene: Path, labels: Path, out: Path, cache_mb: int) -> dict:
    command = [sys.executable, __file__, "--child", mode, str(scene), str(labels), str(out), str(cache_mb)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {mode} process failed:\n{done.stderr}")
    return json.loads(done.stdout)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--side", type=int, default=8192, help="scene side in pixels (default 8192: 192 MiB of RGB)")
    p.add_argument("--cache-mb", type=int, default=32, help="GDAL_CACHEMAX of the measured process in MB (default 32)")
    p.add_argument("--polygons", type=int, default=500, help="landslide discs in the inventory (default 500)")
    p.add_argument("--seed", type=int, default=0, help="seed of the scene's pixels and the discs (default 0)")
    p.add_argument("--work", type=Path, help="folder for the scene and the tiles (default: a temporary one, removed)")
    p.add_argument("--out", type=Path, default=REPOSITORY / "benchmarks" / "results",
                   help="folder for the record (default: benchmarks/results)")
    return p.parse_args(argv)


def run(args: argparse.Namespace, work: Path) -> None:
    import pandas as pd
    import torch

    from landslide_core.experiments.throughput import device_slug
    from landslide_core.io.checksums import file_sha256
    from landslide_core.provenance import collect_provenance, write_record

    started = time.time()
    load_before = os.getloadavg()[0]
    scene, one_tile, labels = work / "scene.tif", work / "one-tile.tif", work / "inventory.gpkg"
    write_scene(scene, args.side, args.seed)
    write_scene(one_tile, 512, args.seed)
    write_inventory(labels, args.side, args.polygons, args.seed)
    scene_mib = 3 * args.side**2 / 2**20
    runs = [("imports only", "imports", one_tile, None), ("one-tile scene", "tile", one_tile, 512),
            ("scene", "tile", scene, args.side)]
    rows = []
    for name, mode, path, side in runs:
        measured = measure(mode, path, labels, work / f"out-{mode}-{side}", args.cache_mb)
        rows.append({"process": name, "scene_side_px": side, "scene_mib": 3 * side**2 / 2**20 if side else None,
                     "gdal_cachemax_mb": args.cache_mb if mode == "tile" else None, "tiles": measured["tiles"],
                     "seconds": round(measured["seconds"], 2),
                     "tiles_per_s": round(measured["tiles"] / measured["seconds"], 1) if measured["tiles"] else None,
                     "peak_rss_mib": round(measured["peak_rss_mib"], 1)})
        print(f"{name}: peak RSS {measured['peak_rss_mib']:.1f} MiB, {measured['tiles']} tiles in "
              f"{measured['seconds']:.1f} s")
    table = pd.DataFrame(rows).astype({"scene_side_px": "Int64", "gdal_cachemax_mb": "Int64"})
    table["growth_over_imports_mib"] = (table["peak_rss_mib"] - table["peak_rss_mib"].iloc[0]).round(1)
    table["growth_over_one_tile_mib"] = (table["peak_rss_mib"] - table["peak_rss_mib"].iloc[1]).round(1)
    parameters = {"side": args.side, "cache_mb": args.cache_mb, "polygons": args.polygons, "seed": args.seed,
                  "tile_size": 512, "stride": 256, "edge": "shift", "labels": "vector inventory (GeoPackage)"}
    extra = {"cpu_count": os.cpu_count(), "load_average_1min": {"start": load_before, "end": os.getloadavg()[0]},
             "scene_mib": scene_mib, "scene_file_mib": scene.stat().st_size / 2**20,
             "peak_rss": "VmHWM of the measuring process, read by itself at its end"}
    provenance = replace(
        collect_provenance(parameters=parameters, data_root=work, device="cpu", started=started,
                           section="tiling-memory", extra=extra),
        data_kind="synthetic scene: seeded random pixels and discs, not CAS imagery", data_checksum=file_sha256(scene))
    stem = args.out / f"tiling-memory-{device_slug(torch.device('cpu'))}"
    write_record(table, stem, provenance,
                 caption=f"Peak RSS and tiles/s of tile_scene on a {args.side}×{args.side}×3 scene "
                         f"({scene_mib:.0f} MiB) with GDAL_CACHEMAX {args.cache_mb} MB")
    print(table.to_string(index=False))
    print(f"record written: {stem}.csv and {stem}.json")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        mode, scene, labels, out, cache_mb = argv[1:6]
        child(mode, scene, labels, out, int(cache_mb))
        return 0
    args = parse_args(argv)
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
        run(args, args.work)
    else:
        with tempfile.TemporaryDirectory(prefix="tiling-memory-") as work:
            run(args, Path(work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
