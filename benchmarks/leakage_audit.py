"""Leakage audit at scale: 20,000 generated 512×512 RGB tiles with planted overlaps, audited in a fresh process.

    .venv/bin/python benchmarks/leakage_audit.py              # → benchmarks/results/leakage-audit-<host>.{csv,json}
    .venv/bin/python benchmarks/leakage_audit.py --quick      # 200 tiles, prints only

Tiles are generated on the fly (never written to disk) and fed to
landslide_core.building.leakage.audit_arrays: random-noise scenes cut with a
stride of half a tile (each scene plants one group of overlapping tiles),
flipped/rotated copies, independent tiles, and blank or half-white tiles that
must link to nothing. The planted partition is then compared with the one the
audit found. Peak memory is the measuring process's VmHWM.
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
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from landslide_core.building.leakage import audit_arrays
from landslide_core.building.leakage_keys import orient
from landslide_core.runtime.memory import process_status_mib

REPOSITORY = Path(__file__).resolve().parents[1]
SUBDATASET = "planted"
KINDS = ("scene", "copies", "single", "blank")
KIND_P = (0.45, 0.15, 0.37, 0.03)


@dataclasses.dataclass
class Planted:
    """What the generator planted: each tile's group, the (original, copy) pairs, time spent generating."""

    group: dict[str, str] = dataclasses.field(default_factory=dict)
    copies: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    seconds: float = 0.0


def _noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    return np.frombuffer(rng.bytes(3 * height * width), np.uint8).reshape(3, height, width)


def planted_tiles(n_tiles: int, planted: Planted, *, seed: int = 0, size: int = 512
                  ) -> Iterator[tuple[str, str, np.ndarray]]:
    """Yield ``n_tiles`` tiles ``(uid, sub-dataset, image)``, recording the planted groups in ``planted``."""
    rng = np.random.default_rng(seed)
    half = size // 2
    count = 0
    unit = 0

    while count < n_tiles:
        start = time.perf_counter()
        left = n_tiles - count
        kind = rng.choice(KINDS, p=KIND_P)
        rows, cols = (int(v) for v in rng.integers(1, 4, 2))
        if kind == "scene" and rows * cols == 1:
            cols = 2
        extra_copy = bool(rng.random() < 0.3)
        if kind == "scene" and rows * cols + extra_copy > left or kind == "copies" and left < 2:
            kind = "single"
        group = f"g{unit:06d}"
        unit += 1
        out: list[tuple[np.ndarray, int | None]] = []  # (image, position in `out` of the tile it copies)
        if kind == "scene":
            scene = _noise(rng, (rows + 1) * half, (cols + 1) * half)
            out = [(scene[:, r * half:r * half + size, c * half:c * half + size], None)
                   for r in range(rows) for c in range(cols)]
            if extra_copy:
                pick = int(rng.integers(len(out)))
                out.append((np.ascontiguousarray(orient(out[pick][0], int(rng.integers(1, 8)))), pick))
        elif kind == "copies":
            original = _noise(rng, size, size)
            transforms = rng.choice(np.arange(1, 8), size=min(int(rng.integers(1, 4)), left - 1), replace=False)
            out = [(original, None), *((np.ascontiguousarray(orient(original, int(t))), 0) for t in transforms)]
        elif kind == "single":
            out = [(_noise(rng, size, size), None)]
        else:  # blank: all white, all grey, or white on top (two fill quadrants) over noise
            image = _noise(rng, size, size).copy()
            style = int(rng.integers(3))
            image[:, : size if style < 2 else half] = (255, 128, 255)[style]
            out = [(image, None)]
        planted.seconds += time.perf_counter() - start
        uids: list[str] = []
        for image, copies in out:
            uids.append(f"{SUBDATASET}/t{count:06d}")
            planted.group[uids[-1]] = group
            if copies is not None:
                planted.copies.append((uids[copies], uids[-1]))
            count += 1
            yield uids[-1], SUBDATASET, image


def compare(audit, planted: Planted) -> dict[str, object]:
    """Planted groups against found ones: all found (every planted group in one found group), false links."""
    found = audit.groups()
    members: dict[str, list[str]] = defaultdict(list)
    for uid, group in planted.group.items():
        members[group].append(uid)
    linked = [m for m in members.values() if len(m) > 1]
    all_found = all(len({found[u] for u in m}) == 1 for m in linked)
    pairs = {(a, b): (n, t) for a, b, n, t in
             audit.pairs[["uid_a", "uid_b", "quadrants_shared", "transformed"]].itertuples(index=False)}
    false_links = sum(planted.group[a] != planted.group[b] for a, b in pairs)
    copies_found = sum(pairs.get(tuple(sorted(p))) == (4, True) for p in planted.copies)
    found_linked = int((audit.tiles.drop_duplicates("group_id")["group_size"] > 1).sum())
    return {
        "planted_groups": len(linked),
        "groups_found": found_linked,
        "all_planted_groups_found": "yes" if all_found else "no",
        "false_links": int(false_links),
        "partitions_equal": "yes" if all_found and not false_links and found_linked == len(linked) else "no",
        "planted_copies": len(planted.copies),
        "copies_found_as_transformed": int(copies_found),
    }


def run_core(n_tiles: int, *, seed: int = 0, size: int = 512) -> dict[str, object]:
    """Generate, audit and compare; one row of measurements (peak RSS of this process)."""
    rss_before = process_status_mib("VmRSS")
    planted = Planted()
    audit = audit_arrays(planted_tiles(n_tiles, planted, seed=seed, size=size), progress=sys.stderr.isatty())
    audit_seconds = audit.seconds - planted.seconds
    return {
        "tiles": len(audit.tiles),
        "tile_size": size,
        **compare(audit, planted),
        "pairs": len(audit.pairs),
        "transformed_pairs": int(audit.pairs["transformed"].sum()),
        "skipped_quadrants": audit.skipped_quadrants,
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
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:  # a fresh process: its own peak RSS
        row = pool.submit(run_core, n_tiles, seed=args.seed, size=args.size).result()
    host = host_label()
    table = pd.DataFrame([{**row, "host": host}])
    print(table.T.to_string(header=False))
    if args.quick:
        return 0
    from landslide_core.provenance import collect_provenance, write_record

    provenance = dataclasses.replace(
        collect_provenance(parameters={"tiles": n_tiles, "size": args.size, "seed": args.seed},
                           data_root="(generated in memory)", started=started,
                           extra={"load_average_1_5_15_min_at_end": os.getloadavg(), "threads": 1}),
        data_kind="generated random-noise tiles with planted overlaps (not CAS imagery)",
    )
    paths = write_record(table, args.out / f"leakage-audit-{host}", provenance,
                         caption="Leakage audit of generated tiles with planted overlaps: found groups, speed, memory")
    print("written:", *(str(path) for path in paths), sep="\n  ")
    return 0 if row["partitions_equal"] == "yes" else 1


if __name__ == "__main__":
    sys.exit(main())
