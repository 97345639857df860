"""What the reproducibility appendix shows: the build's environment and the saved throughput records.

The records are shown as they were written, laid out to fit the book's text column (:func:`record_view`); the
data pipeline's rate is also said in one sentence computed from its record (:func:`pipeline_rate_summary`), and so
is scene prediction at scale (:func:`scene_scale_summary`), which the appendix shows in its own subsection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..experiments.pipeline_rate import PIL_DECODE, RECORD_PREFIX, TRAINING_ITEM
from ..predict import scale
from ..provenance import Provenance, device_description, git_state, library_versions, read_record

__all__ = [
    "MAX_COLUMNS", "RecordView", "ThroughputRecord", "environment_table", "is_scene_scale", "pipeline_rate_summary",
    "record_view", "scene_scale_summary", "throughput_records",
]

MAX_COLUMNS = 6
"""A record table with more columns than this (after the columns with one value are taken out) is transposed,
where it can be: wider ones do not fit the book's text column."""
MISSING = "—"


def environment_table(profile: str) -> pd.DataFrame:
    """Library versions, git commit (with local changes or not), device and profile of this build."""
    commit, modified = git_state()
    return pd.DataFrame(
        [*library_versions().items(), ("git commit", commit + (" (with local changes)" if modified else "")),
         ("device", device_description()), ("profile", profile)],
        columns=["Component", "Version"],
    ).set_index("Component")


@dataclass(frozen=True)
class ThroughputRecord:
    """One saved throughput record, its columns that hold no value on its device left out."""

    path: Path
    """The record's ``.csv``."""
    rows: pd.DataFrame
    dropped: tuple[str, ...]
    """Columns with no value in any row (e.g. CUDA-only columns of a CPU run)."""
    provenance: Provenance


def throughput_records(folder: Path) -> list[ThroughputRecord]:
    """Every record in ``folder`` (``benchmarks/results``), in name order, read back with its provenance.

    Raises:
        PathProblemError: A ``.json`` there is not a landslide-core record.
    """
    records = []
    for path in sorted(folder.glob("*.json")):
        rows, provenance = read_record(path.with_suffix(""))
        empty = tuple(c for c in rows.columns if rows[c].replace("", None).isna().all())
        records.append(ThroughputRecord(path.with_suffix(".csv"), rows.drop(columns=list(empty)), empty, provenance))
    return records


@dataclass(frozen=True)
class RecordView:
    """A throughput record as the appendix shows it: a note naming it, and a table that fits the text column."""

    note: str
    """Markdown: the record's name and file, the columns left out for having no value, and the values that are
    the same in every row (said once here instead of in a column)."""
    table: pd.DataFrame
    """Every other value, as text (``—`` where there is none)."""


def _text(value: Any) -> str:
    """A cell as the page shows it: a whole float without ``.0``, a missing value as ``—``."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return MISSING
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def record_view(record: ThroughputRecord, root: Path, *, max_columns: int = MAX_COLUMNS) -> RecordView:
    """Lay a record out narrow enough for the book: every value it holds, fewer columns side by side.

    A one-row record is shown transposed (one line per column). A longer one loses its columns with one value
    in every row to the note, its first column becomes the row labels, and if it still has more than
    ``max_columns`` columns and its first column names each row once, it is transposed (one column per row).
    Column names are shown with spaces for underscores, so that long ones wrap.

    Args:
        record: The record, as :func:`throughput_records` read it.
        root: The repository root; the note names the record's file relative to it (if it is under it).
        max_columns: The most columns shown side by side before the table is transposed.
    """
    rows = record.rows.map(_text)
    shown = record.path.relative_to(root) if record.path.is_relative_to(root) else record.path
    note = f"**{record.path.stem}** (`{shown}`)"
    if record.dropped:
        note += f"; columns with no value on this device left out: {', '.join(record.dropped)}"
    if len(rows) == 1:
        table = rows.T.set_axis(["value"], axis=1).rename_axis("column")
        return RecordView(note + ".", table)
    same = [c for c in rows.columns if rows[c].nunique() == 1]
    if same:
        note += ". The same in every row: " + " · ".join(f"`{c}` {rows[c].iloc[0]}" for c in same)
    table = rows.drop(columns=same)
    table = table.set_index(table.columns[0])
    if len(table.columns) > max_columns and table.index.is_unique:
        table = table.T
    # Spaced, so that long headers such as tiles_per_s_per_core wrap within the page's column.
    table = table.rename(columns=lambda name: str(name).replace("_", " "))
    return RecordView(note + ".", table)


def pipeline_rate_summary(record: ThroughputRecord) -> str | None:
    """The data pipeline's rate in one sentence, from a ``pipeline-rate-*`` record; ``None`` for any other record.

    It names the data and tile count, the device, PIL's decode rate and the training item's (tiles/s on one
    core), their ratio and whether it reaches the target, all read from the record.
    """
    if not record.path.stem.startswith(f"{RECORD_PREFIX}-"):
        return None
    rates = record.rows.set_index("measurement")["tiles_per_s_per_core"]
    provenance = record.provenance
    ratio, target = provenance.extra["ratio"], provenance.extra["target_ratio"]
    verdict = "reached" if ratio >= target else "not reached"
    return (f"On one core of the {provenance.device.removeprefix('CPU: ')}, over the {provenance.extra['tiles']} "
            f"tiles of `{Path(provenance.data_root).name}` ({provenance.data_kind}): decoding image and mask with "
            f"PIL ran at {rates[PIL_DECODE]:.0f} tiles/s and making a training item at {rates[TRAINING_ITEM]:.0f} "
            f"tiles/s, {ratio:.0%} of the decode rate; the target of at least {target:.0%} is {verdict}.")


def is_scene_scale(record: ThroughputRecord) -> bool:
    """Whether ``record`` is one of ``benchmarks/scene_scale.py``'s (``scene-scale-<device>``)."""
    return record.path.stem.startswith(f"{scale.RECORD_PREFIX}-")


def scene_scale_summary(record: ThroughputRecord) -> str | None:
    """Scene prediction at scale in words, from a ``scene-scale-*`` record; ``None`` for any other record.

    It names the device and the torch threads the predicting processes used, then per model says the megapixels
    per second at each scene size, how far from linear the time per megapixel was, the peak resident memory, and
    the largest scene's peak against its size as one array (:func:`landslide_core.predict.scale.summary`), all
    read from the record.
    """
    if not is_scene_scale(record):
        return None
    threads = " or ".join(map(str, record.provenance.extra.get("torch_threads", [])))
    device = record.provenance.device.removeprefix("CPU: ").removeprefix("GPU: ")
    return (f"Measured on the {device} with {threads} torch threads; data: {record.provenance.data_kind}. "
            f"{scale.summary(record.rows)}")
