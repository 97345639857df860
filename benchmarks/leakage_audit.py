"""Leakage audit at scale: 20,000 generated 512×512 RGB tiles with planted overlaps, audited in a fresh process.

    .venv/bin/python benchmarks/leakage_audit.py              # → benchmarks/results/leakage-audit-<host>.{csv,json}
    .venv/bin/python benchmarks/leakage_audit.py --quick      # 200 tiles, prints only

Tiles are generated on the fly (never written to disk) and fed to
landslide_core.building.leakage.audit_arrays, which draws them twice (anchors,
then the pixel check of candidate pairs; the generator repeats itself exactly):
random-noise scenes of 512 to 1100 px a side cut by the project's tiler at a
stride of 128, 256, 384 or 512 with the last row and column flush with the edge
(each scene plants one group of overlapping tiles, some with a flipped or turned
copy of one of its tiles), flipped/rotated copies of single tiles, independent
tiles, and blank or half-white tiles that must link to nothing. The pairs the
audit finds are compared with the planted ones (every two tiles whose windows on
one scene overlap), and the groups with the planted groups. Peak memory is the
measuring process's VmHWM.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from itertools import combinations
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from landslide_core.building.leakage import audit_arrays
from landslide_core.building.leakage_groups import group_ids
from landslide_core.building.leakage_keys import GUARANTEED_SIDE, orient
from landslide_core.building.tiling import TilingOptions, tile_windows
from landslide_core.runtime.memory import process_status_mib

REPOSITORY = Path(__file__).resolve().parents[1]
SUBDATASET = "planted"
KINDS = ("scene", "copies", "single", "blank")
KIND_P = (0.30, 0.15, 0.52, 0.03)
STRIDES = (128, 256, 384, 512)


@dataclasses.dataclass
class Planted:
    """What the generator planted: each tile's group and place (scene window, or the tile it copies), the copies,
    and the time spent generating (both passes)."""

    group: dict[str, str] = dataclasses.field(default_factory=dict)
    window: dict[str, tuple[int, int, int]] = dataclasses.field(default_factory=dict)  # group number, row, col
    copies: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    seconds: float = 0.0


def _noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    return np.frombuffer(rng.bytes(3 * height * width), np.uint8).reshape(3, height, width)


class PlantedTiles:
    """``n_tiles`` tiles ``(uid, sub-dataset, image)``, the same ones each time they are iterated."""

    def __init__(self, n_tiles: int, planted: Planted, *, seed: int = 0, size: int = 512) -> None:
        self.n_tiles, self.planted, self.seed, self.size = n_tiles, planted, seed, size
        self.passes = 0

    def __iter__(self) -> Iterator[tuple[str, str, np.ndarray]]:
        rng = np.random.default_rng(self.seed)
        size, planted = self.size, self.planted
        record = self.passes == 0  # what was planted is written down on the first pass
        self.passes += 1
        count = unit = 0
        while count < self.n_tiles:
            start = time.perf_counter()
            left = self.n_tiles - count
            kind = rng.choice(KINDS, p=KIND_P)
            rows, cols = (int(v) for v in rng.integers(size, 2 * size + 77, 2))
            stride = int(rng.choice(STRIDES))
            extra_copy = bool(rng.random() < 0.3)
            windows = [(int(w.row_off), int(w.col_off)) for _, _, w in
                       tile_windows(cols, rows, TilingOptions(size=size, stride=stride))]
            if kind == "scene" and len(windows) + extra_copy > left or kind == "copies" and left < 2:
                kind = "single"
            out: list[tuple[np.ndarray, tuple[int, int], int | None]] = []  # image, window, index of the original
            if kind == "scene":
                scene = _noise(rng, rows, cols)
                out = [(scene[:, y:y + size, x:x + size], (y, x), None) for y, x in windows]
                if extra_copy:
                    pick = int(rng.integers(len(out)))
                    out.append((np.ascontiguousarray(orient(out[pick][0], int(rng.integers(1, 8)))), out[pick][1],
                                pick))
            elif kind == "copies":
                original = _noise(rng, size, size)
                transforms = rng.choice(np.arange(1, 8), size=min(int(rng.integers(1, 4)), left - 1), replace=False)
                out = [(original, (0, 0), None),
                       *((np.ascontiguousarray(orient(original, int(t))), (0, 0), 0) for t in transforms)]
            elif kind == "single":
                out = [(_noise(rng, size, size), (0, 0), None)]
            else:  # blank: all white, all grey, or white on top over noise
                image = _noise(rng, size, size).copy()
                style = int(rng.integers(3))
                image[:, : size if style < 2 else size // 2] = (255, 128, 255)[style]
                out = [(image, (0, 0), None)]
            planted.seconds += time.perf_counter() - start
            uids: list[str] = []
            for image, window, copies in out:
                uids.append(f"{SUBDATASET}/t{count:06d}")
                if record and kind != "blank":
                    planted.group[uids[-1]] = f"g{unit:06d}"
                    planted.window[uids[-1]] = (unit, *window)
                if record and copies is not None:
                    planted.copies.append((uids[copies], uids[-1]))
                count += 1
                yield uids[-1], SUBDATASET, image
            unit += 1


def planted_pairs(planted: Planted, size: int) -> dict[tuple[str, str], tuple[int, int]]:
    """Every two planted tiles that share pixels: their windows on one scene overlap; → (rows, cols) of the overlap."""
    by_unit: dict[int, list[str]] = defaultdict(list)
    for uid, (unit, _, _) in planted.window.items():
        by_unit[unit].append(uid)
    pairs = {}
    for members in by_unit.values():
        for a, b in combinations(sorted(members), 2):
            (_, ya, xa), (_, yb, xb) = planted.window[a], planted.window[b]
            rows, cols = size - abs(ya - yb), size - abs(xa - xb)
            if rows > 0 and cols > 0:
                pairs[(a, b)] = (rows, cols)
    return pairs


def compare(audit, planted: Planted, size: int) -> dict[str, object]:
    """Planted pairs and groups against found ones; a planted group is a set of tiles linked by planted pairs (the
    tiles of one scene cut at stride 512 that only touch are in different groups)."""
    truth = planted_pairs(planted, size)
    found = set(zip(audit.pairs["uid_a"], audit.pairs["uid_b"], strict=True))
    missed = [truth[p] for p in truth if p not in found]
    groups = audit.groups()
    position = {uid: i for i, uid in enumerate(sorted(planted.group))}
    planted_groups = group_ids(sorted(planted.group), [(position[a], position[b]) for a, b in truth])
    members: dict[str, list[str]] = defaultdict(list)
    for uid, group in zip(sorted(planted.group), planted_groups, strict=True):
        members[group].append(uid)
    linked = [m for m in members.values() if len(m) > 1]
    all_found = all(len({groups[u] for u in m}) == 1 for m in linked)
    copies = set(zip(audit.pairs.loc[audit.pairs["transformed"] & (audit.pairs["shared_pixels"] == size * size),
                                     "uid_a"],
                     audit.pairs.loc[audit.pairs["transformed"] & (audit.pairs["shared_pixels"] == size * size),
                                     "uid_b"], strict=True))
    found_linked = int((audit.tiles.drop_duplicates("group_id")["group_size"] > 1).sum())
    false_pairs = len(found - set(truth))
    return {
        "planted_groups": len(linked),
        "groups_found": found_linked,
        "all_planted_groups_found": "yes" if all_found else "no",
        "planted_pairs": len(truth),
        "pairs_found": len(found & set(truth)),
        "false_pairs": false_pairs,
        "missed_pairs": len(missed),
        "missed_narrowest_max_px": max((min(shape) for shape in missed), default=0),
        "partitions_equal": "yes" if all_found and not false_pairs and found_linked == len(linked) else "no",
        "planted_copies": len(planted.copies),
        "copies_found_as_transformed": sum(tuple(sorted(p)) in copies for p in planted.copies),
    }


def run_core(n_tiles: int, *, seed: int = 0, size: int = 512) -> dict[str, object]:
    """Generate, audit and compare; one row of measurements (peak RSS of this process)."""
    rss_before = process_status_mib("VmRSS")
    planted = Planted()
    audit = audit_arrays(PlantedTiles(n_tiles, planted, seed=seed, size=size), progress=sys.stderr.isatty())
    audit_seconds = audit.seconds - planted.seconds
    return {
        "tiles": len(audit.tiles),
        "tile_size": size,
        **compare(audit, planted, size),
        "guaranteed_side_px": GUARANTEED_SIDE,
        "pairs_by_placement": int((audit.pairs["found_by"] == "placement").sum()),
        "transformed_pairs": int(audit.pairs["transformed"].sum()),
        "blank_tiles": audit.blank_tiles,
        "generation_seconds": round(planted.seconds, 2),
        "audit_seconds": round(audit_seconds, 2),
        "tiles_per_s": round(len(audit.tiles) / audit_seconds, 1),
        "rss_before_mib": round(rss_before, 1),
        "peak_rss_mib": round(process_status_mib("VmHWM"), 1),
    }


def host_label() -> str:
    """E.g. ``cpu-amd-epyc-2cores``, as the throughput records are named."""
    from landslide_core.provenance import device_description

    name = "cpu " + re.sub(r"\((\d+) cores\)", r"\1cores", device_description("cpu").removeprefix("CPU: "))
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiles", type=int, default=20_000, help="tiles to generate and audit (default 20,000)")
    p.add_argument("--size", type=int, default=512, help="tile side in pixels (default 512)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated tiles (default 0)")
    p.add_argument("--quick", action="store_true", help="200 tiles, print the row, write nothing")
    p.add_argument("--out", type=Path, default=REPOSITORY / "benchmarks" / "results", help="folder for the record")
    args = p.parse_args(argv)
    n_tiles = 200 if args.quick else args.tiles
    started = time.time()
    load_before = os.getloadavg()
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:  # a fresh process: its own peak RSS
        row = pool.submit(run_core, n_tiles, seed=args.seed, size=args.size).result()
    host = host_label()
    table = pd.DataFrame([{**row, "host": host}])
    print(table.T.to_string(header=False))
    print("load average (1, 5, 15 min) before:", load_before, "after:", os.getloadavg())
    if args.quick:
        return 0
    from landslide_core.provenance import collect_provenance, write_record

    provenance = dataclasses.replace(
        collect_provenance(parameters={"tiles": n_tiles, "size": args.size, "seed": args.seed},
                           data_root="(generated in memory)", started=started,
                           extra={"load_average_1_5_15_min_before": load_before,
                                  "load_average_1_5_15_min_at_end": os.getloadavg(), "threads": 1}),
        data_kind="generated random-noise tiles with planted overlaps (not CAS imagery)",
    )
    paths = write_record(table, args.out / f"leakage-audit-{host}", provenance,
                         caption="Leakage audit of generated tiles with planted overlaps: pairs and groups found, "
                                 "speed, memory")
    print("written:", *(str(path) for path in paths), sep="\n  ")
    return 0 if row["false_pairs"] == 0 and row["missed_narrowest_max_px"] < GUARANTEED_SIDE else 1


if __name__ == "__main__":
    sys.exit(main())
