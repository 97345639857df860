"""How fast a training item is made, beside how fast its two files decode: tiles/s on one core, in one run.

Four measurements over the same tiles, all in this process on one core
(``torch.set_num_threads(1)``, no ``DataLoader`` workers):

- ``PIL decode``: ``PIL.Image.open`` + ``np.asarray`` of image and mask, the
  yardstick the issue states (PIL is only the yardstick: our rasters are read
  through rasterio);
- ``rasterio decode``: the same files through our reader, as
  :meth:`~landslide_core.sources.base.TileSource.read_tile` reads them (one open
  and one whole read per file, inside :func:`~landslide_core.io.raster.pixel_reads`);
- ``training item``: ``TileDataset(records, augment=True)[i]`` on full tiles (CAS:
  512×512, which the source checks): read, checks, flips and 90° turns, tensors
  (the image stays uint8);
- ``normalised batch``: :meth:`~landslide_core.sources.base.Normalisation.batch` of
  a collated batch of training items, per tile: the float conversion the item no
  longer does, here on the CPU (training does it on its device).

One untimed pass of each first (page cache, lazy initialisation), then ``rounds``
rounds; a round times each measurement over at least ``min_tiles`` tiles (passes
repeated on a small sample), in an order that rotates from round to round, so a
change in the load of a shared machine hits them all alike.
Each measurement's rate is the median of its rounds; the ratio is the training
item's median over PIL's, against the issue's target of at least 0.5. All four
are timed after the process has made its first item, so under the allocator
setting :class:`~landslide_core.data.TileDataset` makes (freed memory kept for
reuse), which a data-loader worker has too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from tqdm import tqdm

from ..data.torch_dataset import TileDataset
from ..errors import ThroughputError
from ..io.raster import pixel_reads, read_raster
from ..provenance import collect_provenance, write_record
from ..tiles import TileRecord
from .throughput import device_slug

__all__ = [
    "MEASUREMENTS", "NORMALISED_BATCH", "PIL_DECODE", "RASTERIO_DECODE", "RECORD_PREFIX", "TARGET_RATIO",
    "TRAINING_ITEM", "PipelineRate", "measure_rounds", "pipeline_passes", "rate_table", "run_pipeline_rate",
]

PIL_DECODE, RASTERIO_DECODE, TRAINING_ITEM, NORMALISED_BATCH = (
    "PIL decode", "rasterio decode", "training item", "normalised batch")
MEASUREMENTS = {
    PIL_DECODE: "PIL Image.open + np.asarray of image and mask (the yardstick)",
    RASTERIO_DECODE: "image and mask read whole through rasterio, as read_tile reads them",
    TRAINING_ITEM: "TileDataset(augment=True)[i]: read, checks, flips and turns, uint8 tensor",
    NORMALISED_BATCH: "Normalisation.batch of a collated batch on the CPU, per tile",
}
"""The measurements, in the order of the table, and what each does."""
TARGET_RATIO = 0.5
"""The issue's target: a training item at least half as fast as decoding its files with PIL."""
RECORD_PREFIX = "pipeline-rate"
"""Records are ``<RECORD_PREFIX>-<device slug>.{csv,json}``."""

Pass = Callable[[int], int]
"""One pass over the tiles; takes the round (the training item's epoch) and returns the tiles it made."""


def pipeline_passes(records: Sequence[TileRecord], *, batch_size: int = 16) -> dict[str, Pass]:
    """One pass of each measurement over ``records``, keyed as :data:`MEASUREMENTS`.

    The normalised batch is collated once from the first ``batch_size`` training items (repeated when there are
    fewer tiles) and normalised as many times as a pass over the tiles has batches.

    Raises:
        ThroughputError: ``records`` is empty, or a tile has no mask.
    """
    if not records:
        raise ThroughputError("no tiles to measure the pipeline on; point --data-root at a folder in the CAS layout")
    if any(record.mask is None for record in records):
        raise ThroughputError("the pipeline rate needs every tile's mask; give a data root with img/ and mask/")
    files = [(record.image, record.mask) for record in records]
    dataset = TileDataset(records, augment=True)
    batch = torch.stack([dataset[i % len(records)]["image"] for i in range(batch_size)])
    batches = -(-len(records) // batch_size)

    def pil(_: int) -> int:
        for pair in files:
            for path in pair:
                with Image.open(path) as image:
                    np.asarray(image)
        return len(files)

    def rasterio(_: int) -> int:
        for image, mask in files:
            with pixel_reads():
                read_raster(image)
                read_raster(mask)
        return len(files)

    def items(round_: int) -> int:
        dataset.set_epoch(round_)
        for index in range(len(dataset)):
            dataset[index]
        return len(records)

    def normalised(_: int) -> int:
        for _ in range(batches):
            dataset.normalisation.batch(batch)
        return batches * batch_size

    return {PIL_DECODE: pil, RASTERIO_DECODE: rasterio, TRAINING_ITEM: items, NORMALISED_BATCH: normalised}


def measure_rounds(passes: dict[str, Pass], rounds: int, *, min_tiles: int = 200,
                   progress: bool = False) -> pd.DataFrame:
    """Tiles/s of every measurement in every round, after one untimed pass of each; one row per round and measurement.

    Args:
        passes: The passes (from :func:`pipeline_passes`).
        rounds: Timed rounds.
        min_tiles: In a round, a measurement repeats its pass until it has made at least this many tiles, so that a
            small sample is timed over more than a few milliseconds.
        progress: Show a progress bar over the rounds.

    Raises:
        ThroughputError: ``rounds`` is below 1.
    """
    if rounds < 1:
        raise ThroughputError(f"rounds must be at least 1, got {rounds}; use --rounds 1 or more")
    names = list(passes)
    for name in names:
        passes[name](0)
    rows = []
    for round_ in tqdm(range(1, rounds + 1), desc="pipeline rate", unit="round", disable=not progress):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            tiles, start = 0, time.perf_counter()
            while tiles < min_tiles or not tiles:
                tiles += passes[name](round_)
            seconds = time.perf_counter() - start
            rows.append({"round": round_, "measurement": name, "tiles": tiles, "seconds": seconds,
                         "tiles_per_s": tiles / seconds})
    return pd.DataFrame(rows)


def rate_table(rounds: pd.DataFrame) -> pd.DataFrame:
    """Per measurement: what it does, the median, slowest and fastest round's tiles/s, and the ratio to PIL's median.

    Args:
        rounds: :func:`measure_rounds`' rows.
    """
    rates = rounds.groupby("measurement", sort=False)["tiles_per_s"]
    median = rates.median()
    rows = []
    for name, what in MEASUREMENTS.items():
        if name not in median:
            continue
        rows.append({"measurement": name, "what": what, "tiles_per_s_per_core": round(median[name], 1),
                     "slowest_round": round(rates.min()[name], 1), "fastest_round": round(rates.max()[name], 1),
                     "ratio_to_pil_decode": round(median[name] / median[PIL_DECODE], 3),
                     "rounds": int(rates.size()[name])})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class PipelineRate:
    """What :func:`run_pipeline_rate` measured and wrote.

    Attributes:
        table: :func:`rate_table` of the run.
        ratio: The training item's tiles/s over PIL's (medians over rounds), to three decimals.
        reached: Whether ``ratio`` is at least :data:`TARGET_RATIO`.
        paths: The record's ``.csv`` and ``.json``.
    """

    table: pd.DataFrame
    ratio: float
    reached: bool
    paths: tuple[Path, Path]


def run_pipeline_rate(data_root: Path, records: Sequence[TileRecord], *, rounds: int = 7, batch_size: int = 16,
                      min_tiles: int = 200, out: Path = Path("benchmarks/results"),
                      progress: bool = False) -> PipelineRate:
    """Measure the four rates over ``records`` on one core and write ``<out>/pipeline-rate-<device>.{csv,json}``.

    Torch runs on one thread while measuring (restored afterwards); the provenance names the data and its tile
    count, the rounds, the ratio and target, and the machine's load average at start and end.

    Args:
        data_root: The folder ``records`` come from (named in the record).
        records: The tiles, with masks.
        rounds: Timed rounds (each one pass of every measurement).
        batch_size: Tiles per normalised batch.
        min_tiles: Tiles each measurement makes at least per round (see :func:`measure_rounds`).
        out: Folder of the record.
        progress: Show a progress bar over the rounds.

    Raises:
        ThroughputError: No tiles, a tile without a mask, or ``rounds`` below 1.
    """
    started = time.time()
    threads = torch.get_num_threads()
    load_before = os.getloadavg()[0]
    torch.set_num_threads(1)
    try:
        table = rate_table(measure_rounds(pipeline_passes(records, batch_size=batch_size), rounds,
                                          min_tiles=min_tiles, progress=progress))
    finally:
        torch.set_num_threads(threads)
    ratio = float(table.set_index("measurement").loc[TRAINING_ITEM, "ratio_to_pil_decode"])
    reached = ratio >= TARGET_RATIO
    parameters = {"rounds": rounds, "min_tiles": min_tiles, "batch_size": batch_size, "threads": 1,
                  "num_workers": 0, "data_root": data_root}
    extra = {"ratio": ratio, "target_ratio": TARGET_RATIO, "reached": reached, "tiles": len(records),
             "cpu_count": os.cpu_count(),
             "load_average_1min": {"start": load_before, "end": os.getloadavg()[0]}}
    provenance = collect_provenance(parameters=parameters, data_root=data_root, records=records, device="cpu",
                                    started=started, section=RECORD_PREFIX, extra=extra)
    paths = write_record(table, out / f"{RECORD_PREFIX}-{device_slug(torch.device('cpu'))}", provenance,
                         caption="Tiles/s on one core: decoding image and mask, and making a training item")
    return PipelineRate(table, ratio, reached, paths)
