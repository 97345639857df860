"""Writing the full-size replica, in the reproducibility appendix: a narrow table and one sentence from its record.

``benchmarks/replica.py`` writes the synthetic replica of the CAS layout and of four public datasets' formats and
records, per part, what it wrote, its bytes and its busy seconds, and a ``total`` row with the wall time, the
targets and a scan of the result (``replica-<device>.{csv,json}``). The generic record view lays those byte counts
out wider than the book's text column, so the appendix shows them here in GB (:func:`replica_table`), with the
wall time and disk against the targets in a sentence (:func:`replica_summary`); both are computed from the record.
"""

from __future__ import annotations

import pandas as pd

from .reproducibility import ThroughputRecord

__all__ = ["RECORD_PREFIX", "TABLE_COLUMNS", "is_replica", "replica_summary", "replica_table"]

RECORD_PREFIX = "replica"
TABLE_COLUMNS = ("samples", "files", "GB on disk", "CPU s", "peak RSS MiB")
TOTAL = "total"


def is_replica(record: ThroughputRecord) -> bool:
    """Whether ``record`` is one of ``benchmarks/replica.py``'s (``replica-<device>``)."""
    return record.path.stem.startswith(f"{RECORD_PREFIX}-")


def _gb(value: object) -> str:
    return f"{float(value) / 1e9:.2f}"


def replica_table(record: ThroughputRecord) -> pd.DataFrame:
    """One row per part and the total: samples written, files, GB on disk (``du``), CPU seconds and peak RSS.

    A part's peak RSS is that of its largest process; the total's, the main process's.
    """
    lines = {}
    for _, row in record.rows.iterrows():
        total = row["part"] == TOTAL
        peak = row["peak_rss_mib_main"] if total else row["peak_rss_mib_job"]
        lines[row["part"]] = [f"{int(float(row['samples_written'])):,}", f"{int(float(row['files'])):,}",
                              _gb(row["bytes_on_disk"]), f"{float(row['cpu_seconds']):,.0f}",
                              f"{float(peak):,.0f}"]
    return pd.DataFrame.from_dict(lines, orient="index", columns=list(TABLE_COLUMNS)).rename_axis("part")


def replica_summary(record: ThroughputRecord) -> str:
    """Wall time and disk against the targets, the largest peak memory and the scan of the written CAS layout.

    The largest peak is the greatest the record holds: the main process's, the workers' and each part's.
    """
    total = record.rows.set_index("part").loc[TOTAL]
    extra = record.provenance.extra
    seconds, limit = float(total["wall_seconds"]), float(extra["target_seconds"])
    disk, disk_limit = float(total["bytes_on_disk"]), float(extra["target_bytes"])
    parts = record.rows[record.rows["part"] != TOTAL]
    largest = max(float(total["peak_rss_mib_main"]), float(total["peak_rss_mib_largest_worker"]),
                  *parts["peak_rss_mib_job"].astype(float))
    device = record.provenance.device.removeprefix("CPU: ")
    return (
        f"On the {device}, with {int(float(total['workers']))} worker processes, writing the replica took "
        f"{seconds:,.0f} s ({'within' if seconds <= limit else 'over'} the target of {limit / 60:g} minutes) and "
        f"{disk / 1e9:.1f} GB on disk ({'within' if disk <= disk_limit else 'over'} the target of "
        f"{disk_limit / 1e9:g} GB; {float(total['apparent_bytes']) / 1e9:.1f} GB of file sizes); no process "
        f"exceeded {largest:,.0f} MiB. Scanning the written CAS layout found {int(float(total['scan_tiles'])):,} "
        f"tiles in {int(float(total['scan_folders_recognised']))} sub-dataset folders with "
        f"{int(float(total['scan_problems']))} problems. The data is {record.provenance.data_kind}."
    )
