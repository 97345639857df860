"""What the reproducibility appendix shows: the build's environment and the saved throughput records."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..provenance import Provenance, device_description, git_state, library_versions, read_record

__all__ = ["ThroughputRecord", "environment_table", "throughput_records"]


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
