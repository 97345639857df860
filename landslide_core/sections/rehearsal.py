"""The per-stage rehearsal at paper scale in the reproducibility appendix: its table and one sentence from its record.

``benchmarks/rehearsal.py`` runs every stage a user's run makes before training (scan and validate, statistics,
QC scores, the leakage audit and grouped split, the baselines, data loading, Table 7's public datasets, intervals,
the status board, results pack and unpack) on a synthetic full-size replica of the CAS layout and on a quarter of
its tiles, each in a fresh process, and writes one row per stage and size (``rehearsal-<device>.{csv,json}``).
Here those rows become the appendix's table (:func:`rehearsal_table`) and sentence (:func:`rehearsal_summary`);
both are computed from the record, never typed.
"""

from __future__ import annotations

import math

import pandas as pd

from .reproducibility import ThroughputRecord

__all__ = [
    "FIXED", "FULL", "QUARTER", "RECORD_PREFIX", "TABLE_COLUMNS", "TARGET_RATIO", "TARGET_RSS_MIB", "is_rehearsal",
    "judged_rows", "rehearsal_summary", "rehearsal_table",
]

RECORD_PREFIX = "rehearsal"
QUARTER, FULL, FIXED = "quarter", "full", "fixed"
"""A row's ``size``: a quarter of each sub-dataset's tiles, all of them, or a fixed number of tiles (the model,
timed on the CPU only)."""
TARGET_RATIO = 4.4
"""The issue's target: a stage's seconds at full size at most this many times its seconds at a quarter of the tiles
(4× the tiles, 10 % allowed for what does not scale), so that no stage is superlinear. Where a stage's tiles are not
exactly four times the quarter's (a split's sides: the grouped split's buffer differs), the ratio is taken per tile
(:func:`judged_rows`)."""
TARGET_RSS_MIB = 4096.0
"""The issue's target: no stage's peak resident memory above 4 GiB (its process and the processes it starts)."""
TABLE_COLUMNS = ("tiles quarter", "tiles full", "seconds quarter", "seconds full", "ratio", "peak RSS MiB",
                 "targets met")
MISSING = "—"


def is_rehearsal(record: ThroughputRecord) -> bool:
    """Whether ``record`` is one of ``benchmarks/rehearsal.py``'s (``rehearsal-<device>``)."""
    return record.path.stem.startswith(f"{RECORD_PREFIX}-")


def judged_rows(rows: pd.DataFrame, *, target_ratio: float = TARGET_RATIO,
                target_rss_mib: float = TARGET_RSS_MIB) -> pd.DataFrame:
    """``rows`` (one per stage and size) with each full row's ratios to its stage's quarter and the verdicts.

    On full rows whose stage has a quarter row, adds ``seconds_ratio`` (full seconds / quarter seconds) and
    ``ratio``: that for exactly four times the quarter's tiles, ``seconds_ratio × 4 × quarter tiles / full tiles``
    (the same where the tiles are four times as many; per tile where a split decides them). Then ``ratio_ok``
    (``ratio`` at most ``target_ratio``; empty where there is none) and ``rss_ok`` (``rss_bound_mib`` at most
    ``target_rss_mib``). ``rows`` needs the columns ``stage``, ``size``, ``tiles``, ``seconds`` and
    ``rss_bound_mib``.
    """
    quarter = rows[rows["size"] == QUARTER].set_index("stage")
    seconds_ratios, ratios = [], []
    for _, row in rows.iterrows():
        base = quarter.loc[row["stage"]] if row["size"] == FULL and row["stage"] in quarter.index else None
        if base is None or float(base["seconds"]) <= 0 or float(row["tiles"]) <= 0:
            seconds_ratios.append(None)
            ratios.append(None)
            continue
        seconds_ratios.append(float(row["seconds"]) / float(base["seconds"]))
        ratios.append(seconds_ratios[-1] * 4 * float(base["tiles"]) / float(row["tiles"]))
    judged = rows.copy()
    judged["seconds_ratio"] = [None if r is None else round(r, 2) for r in seconds_ratios]
    judged["ratio"] = [None if r is None else round(r, 2) for r in ratios]
    judged["ratio_ok"] = [None if r is None else bool(r <= target_ratio) for r in ratios]
    judged["rss_ok"] = [bool(float(v) <= target_rss_mib) for v in rows["rss_bound_mib"]]
    return judged


def _targets(record: ThroughputRecord) -> tuple[float, float]:
    extra = record.provenance.extra
    return float(extra.get("target_ratio", TARGET_RATIO)), float(extra.get("target_rss_mib", TARGET_RSS_MIB))


def _number(value: object, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return f"{float(value):,.{digits}f}" if digits else f"{int(round(float(value))):,}"


def _stages(record: ThroughputRecord) -> dict[str, pd.DataFrame]:
    """Each stage's judged rows, in the record's order."""
    target_ratio, target_rss = _targets(record)
    judged = judged_rows(record.rows, target_ratio=target_ratio, target_rss_mib=target_rss)
    return {stage: judged[judged["stage"] == stage] for stage in dict.fromkeys(judged["stage"])}


def _verdict(rows: pd.DataFrame) -> tuple[bool, bool | None]:
    """Whether a stage met the memory target at every size, and the time target (None: not measured at two sizes)."""
    ratio = rows["ratio_ok"].dropna()
    return bool(rows["rss_ok"].all()), (bool(ratio.iloc[0]) if len(ratio) else None)


def rehearsal_table(record: ThroughputRecord) -> pd.DataFrame:
    """One row per stage: tiles and seconds at a quarter and at full size, their ratio, peak RSS and the verdict.

    The ratio is :func:`judged_rows`' ``ratio``: full over quarter seconds, for four times the quarter's tiles.

    Peak RSS is the larger of the two sizes' ``rss_bound_mib`` (the stage's process and, where it started some,
    its processes counted at the largest one's peak each). ``targets met`` says ``yes``, or which target was
    missed; a stage timed at one size only (the model) is judged on memory alone.
    """
    target_ratio, target_rss = _targets(record)
    lines = {}
    for stage, rows in _stages(record).items():
        by_size = rows.set_index("size")
        memory, time = _verdict(rows)
        missed = ([] if memory else [f"RSS above {target_rss / 1024:g} GiB"]) + (
            [f"ratio above {target_ratio:g}"] if time is False else [])
        verdict = "no: " + ", ".join(missed) if missed else ("yes" if time is not None else "yes (memory only)")
        full = by_size.loc[FULL] if FULL in by_size.index else by_size.loc[FIXED]
        quarter = by_size.loc[QUARTER] if QUARTER in by_size.index else None
        lines[stage] = [
            MISSING if quarter is None else _number(quarter["tiles"], 0), _number(full["tiles"], 0),
            MISSING if quarter is None else _number(quarter["seconds"], 1), _number(full["seconds"], 1),
            _number(full.get("ratio"), 2), _number(rows["rss_bound_mib"].astype(float).max(), 0), verdict,
        ]
    return pd.DataFrame.from_dict(lines, orient="index", columns=list(TABLE_COLUMNS)).rename_axis("stage")


def rehearsal_summary(record: ThroughputRecord) -> str | None:
    """The rehearsal in one sentence, from a ``rehearsal-*`` record; ``None`` for any other record.

    It counts the stages timed at both sizes that meet both targets and names those that miss one, names the
    slowest stage at full size and its share of all stages' full-size seconds, gives the model's tiles/s where it
    was timed, the device, and says that the replica is synthetic, all read from the record.
    """
    if not is_rehearsal(record):
        return None
    target_ratio, target_rss = _targets(record)
    stages = _stages(record)
    verdicts = {stage: _verdict(rows) for stage, rows in stages.items()}
    both = [stage for stage, (_, time) in verdicts.items() if time is not None]
    met = [stage for stage in both if all(verdicts[stage])]
    missed = [stage for stage in both if stage not in met]
    memory_missed = [stage for stage, (memory, time) in verdicts.items() if time is None and not memory]
    full = record.rows[record.rows["size"] == FULL]
    seconds = full.set_index("stage")["seconds"].astype(float)
    slowest = seconds.idxmax()
    device = record.provenance.device.removeprefix("CPU: ").removeprefix("GPU: ")
    sentence = (f"On the {device}, {len(met)} of the {len(both)} stages timed at a quarter and at full size "
                f"{'meets' if len(met) == 1 else 'meet'} both targets (peak resident memory at most "
                f"{target_rss / 1024:g} GiB, full size at most {target_ratio:g}× the quarter's seconds)")
    if missed or memory_missed:
        sentence += "; " + ", ".join(missed + memory_missed) + (" misses" if len(missed + memory_missed) == 1
                                                                 else " miss") + " a target"
    sentence += (f". The slowest at full size is {slowest}: {seconds[slowest]:,.0f} s, "
                 f"{seconds[slowest] / seconds.sum():.0%} of the {seconds.sum():,.0f} s all stages took there.")
    fixed = record.rows[record.rows["size"] == FIXED]
    model = record.provenance.parameters.get("model")
    for _, row in fixed.iterrows():
        sentence += (f" Model evaluation{f' ({model})' if model else ''}, timed at one size on the CPU only: "
                     f"{int(row['tiles'])} validation tiles at {float(row['tiles_per_s']):.2f} tiles/s; on every "
                     "validation tile it is GPU work.")
    return (sentence + f" The data is {record.provenance.data_kind}: the times and memory are real measurements of "
            "this code at the dataset's size, the pixels are not data and no score from them means anything.")
