"""The status board on the book's first page: which section ran, on which data, with which code, when.

Nothing on the board is typed in. Each row is read, when the book is built, from
the records the section wrote (``results/<profile>/<section>/*.json``, see
:mod:`landslide_core.provenance`) and from its executed notebook's metadata (the
profile it ran with, when, and its wall time), so the first page cannot claim a
run the records do not show. The runner writes the table to a file that
``book/intro.md`` includes. The table has three columns (section, data, run) so it
reads at the width of the book's text column; the sub-datasets a section read are
listed once under it, each list named by a letter in the data cells that share it.
A page may read two data (its main data and, beside it, the real sample shipped in
``data/sample``): the data cell names each that its latest run's records were made on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from string import ascii_uppercase
from typing import Any

from ..errors import LandslideCoreError
from ..provenance import Provenance, read_record
from ..sources import TileSource, available_sources, get_source
from ..sources.cas import SAMPLE_DATA
from .fingerprint import METADATA_KEY
from .profiles import section_key

__all__ = ["NOT_RUN", "DataPart", "SectionStatus", "section_statuses", "status_markdown"]

NOT_RUN = "not run"
ALL_FOUND = ", all found under the root"
"""Said where a record does not list the sub-datasets it read, so the board lists those under its data root."""
NONE = "—"
DATE_FORMAT = "%Y-%m-%d %H:%M UTC"
"""How records and executed notebooks give their time (to the minute), so that its text sorts as the time does."""


@dataclass(frozen=True)
class DataPart:
    """One data a section's latest run read, as the board shows it."""

    data: str
    """The data label and how many sub-datasets, e.g. ``demo data, synthetic; 8 sub-datasets``."""
    subdatasets: str = ""
    """The sub-datasets read, named, where ``data`` does not say (all of the source's); else empty."""


@dataclass(frozen=True)
class SectionStatus:
    """One section on the board, each field as the board shows it (``—`` where there is no value)."""

    section: str
    ran: str
    data: tuple[DataPart, ...]
    """Each data the latest run's records were made on, its main data first (none: no records)."""
    profile: str
    commit: str
    date: str
    wall_time: str


def _records(folder: Path) -> list[Provenance]:
    """The provenance of every record directly in ``folder``, newest first (JSON files that are no record are left out)."""
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            found.append(read_record(path)[1])
        except LandslideCoreError:
            continue
    return sorted(found, key=lambda p: p.created_utc, reverse=True)


def _notebook_metadata(notebook: Path) -> dict[str, Any] | None:
    """What the runner stored in an executed notebook; ``{}`` for one without a successful run, None if absent."""
    try:
        document = json.loads(notebook.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return dict(document.get("metadata", {}).get(METADATA_KEY) or {})


def _short_commit(provenance: Provenance) -> str:
    commit = provenance.git_commit
    shown = commit[:10] if all(c in "0123456789abcdef" for c in commit) else commit
    return shown + (" + local changes" if provenance.git_modified else "")


def _wall_time(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _source_of(provenance: Provenance) -> TileSource:
    """The source a record names; older records, which do not, by the source whose label for the root is theirs.

    Raises:
        LandslideCoreError: No registered source gives the record's data label for its root.
    """
    if provenance.source:
        return get_source(provenance.source)
    for name in available_sources():
        try:
            source = get_source(name)
            if source.data_label(provenance.data_root) == provenance.data_kind:
                return source
        except LandslideCoreError:
            continue
    raise LandslideCoreError(f"no tile source calls {provenance.data_root} '{provenance.data_kind}'")


def _named(keys: list[str], source: TileSource | None) -> tuple[str, str]:
    """The count (``all 16 sub-datasets`` where they are all of the source's) and the names, where not all."""
    if source is not None and len(keys) > 1 and set(keys) == set(source.subdataset_order()):
        return f"all {len(keys)} sub-datasets", ""
    return f"{len(keys)} sub-dataset{'s' if len(keys) != 1 else ''}", ", ".join(keys)


def _data(records: list[Provenance], scans: dict[tuple[str, str], tuple[str, str]]) -> DataPart:
    """The data label of records on one data, with the sub-datasets they read, counted and named.

    Where none of them lists its sub-datasets, those found under the newest one's root now are named, and the count
    says so.
    """
    provenance = records[0]
    listed = sorted({key for record in records for key in record.subdatasets})
    if listed:
        try:
            source = get_source(provenance.source) if provenance.source else None
        except LandslideCoreError:
            source = None
        count, names = _named(listed, source)
        return DataPart(f"{provenance.data_kind}; {count}", names)
    key = (json.dumps(provenance.source, sort_keys=True), provenance.data_root)
    if key not in scans:
        try:
            source = _source_of(provenance)
            keys = sorted({record.subdataset for record in source.scan(provenance.data_root).records})
            count, names = _named(keys, source)
            scans[key] = (count + ALL_FOUND, names) if keys else ("no tiles found under the root now", "")
        except (LandslideCoreError, OSError) as error:
            scans[key] = (f"sub-datasets unknown ({str(error).splitlines()[0]})", "")
    count, names = scans[key]
    return DataPart(f"{provenance.data_kind}; {count}", names)


def _latest_run(records: list[Provenance], metadata: Mapping[str, Any] | None) -> list[Provenance]:
    """The records of the section's latest successful run: those written since it started (its notebook says when).

    Records are dated to the minute, so one written in the minute the run started counts too. All records count
    where the notebook does not say when it ran (no notebook, or a failed run), or where that run wrote none.
    """
    executed, wall = (metadata or {}).get("executed_utc"), (metadata or {}).get("wall_time_s")
    if executed is None or wall is None:
        return records
    try:
        started = (datetime.strptime(executed, DATE_FORMAT) - timedelta(seconds=float(wall))).strftime(DATE_FORMAT)
    except (TypeError, ValueError):
        return records
    return [p for p in records if p.created_utc >= started] or records


def _parts(records: list[Provenance], scans: dict[tuple[str, str], tuple[str, str]]) -> tuple[DataPart, ...]:
    """One part per data label among ``records`` (newest first), the main data first.

    The real sample shipped in ``data/sample``, which pages show beside their main data, comes last; other data in
    the order they were first written.
    """
    by_kind: dict[str, list[Provenance]] = {}
    for record in records:
        by_kind.setdefault(record.data_kind, []).append(record)
    order = sorted(by_kind, key=lambda kind: (kind == SAMPLE_DATA, min(p.created_utc for p in by_kind[kind]), kind))
    return tuple(_data(by_kind[kind], scans) for kind in order)


def _status(name: str, *, root: Path, profile: str, results_dir: Path, sections_dir: Path,
            scans: dict[tuple[str, str], tuple[str, str]]) -> SectionStatus:
    notebook = root / sections_dir / f"{name}.ipynb"
    metadata = _notebook_metadata(notebook)
    ran_with = (metadata or {}).get("profile") or profile
    records = _records(root / results_dir / ran_with / section_key(name))
    section = f"{{doc}}`/{(sections_dir / name).as_posix()}`" if metadata is not None else name
    if metadata is None and not records:
        return SectionStatus(section, NOT_RUN, (), profile, NONE, NONE, NONE)
    if metadata == {}:
        ran = "failed or interrupted"  # its notebook records no successful run
    elif metadata is None:
        ran = "no executed notebook"
    else:
        ran = "yes"
    if records:
        newest = records[0]
        other = sum(p.git_commit != newest.git_commit for p in records)
        ran += f": {len(records)} record{'s' if len(records) != 1 else ''}"
        ran += f" ({other} of them from another commit)" if other else ""
        parts, commit, date = _parts(_latest_run(records, metadata), scans), _short_commit(newest), newest.created_utc
    else:
        ran += " (no records)"
        parts, commit, date = (), NONE, (metadata or {}).get("executed_utc", NONE)
    wall = (metadata or {}).get("wall_time_s")
    return SectionStatus(section, ran, parts, ran_with, commit, date,
                         NONE if wall is None else _wall_time(wall))


def section_statuses(root: Path, names: Iterable[str], *, profile: str, results_dir: Path,
                     sections_dir: Path) -> list[SectionStatus]:
    """The board's rows, one per section, in the order of ``names``.

    A section is read from the records of the profile its executed notebook ran with (the page shows that run),
    or of ``profile`` when it has no notebook. Its data names each data label among the records of its latest run
    (those written since its notebook's run started), with the sub-datasets those records read; its commit and date
    are those of its newest record; its wall time is the notebook's. Where no record on a data lists its
    sub-datasets (records written before they did, or sections given no tile records), the sub-datasets found under
    its data root now are listed, and the data cell says so.

    Args:
        root: The repository root.
        names: Section names (notebook stems), e.g. ``01_study_areas``.
        profile: The profile the book is built with.
        results_dir: Where records are, relative to ``root`` (``results``).
        sections_dir: Where executed notebooks are, relative to ``root`` (``book/sections``); also their page path.
    """
    scans: dict[tuple[str, str], tuple[str, str]] = {}
    return [_status(name, root=root, profile=profile, results_dir=results_dir, sections_dir=sections_dir, scans=scans)
            for name in names]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _run(status: SectionStatus) -> str:
    """The run cell: whether it ran and the profile, then commit, date and wall time where they have a value."""
    parts = [status.ran, f"profile {status.profile}"]
    if status.commit != NONE:
        parts.append(f"commit {status.commit}")
    if status.date != NONE:
        parts.append(status.date)
    if status.wall_time != NONE:
        parts.append(f"wall time {status.wall_time}")
    return " · ".join(parts)


def _letter(index: int) -> str:
    """``A`` … ``Z``, then ``AA`` … ``ZZ`` and so on: the name of the ``index``-th list of sub-datasets."""
    return ascii_uppercase[index % 26] * (index // 26 + 1)


def status_markdown(statuses: Iterable[SectionStatus]) -> str:
    """The board as a MyST Markdown table (section, data, run; sections with a page link to it with ``{doc}``).

    Each distinct list of sub-datasets is written once, under the table, as ``(A) …``; the data of the sections
    that read it end with its letter. A section's data are joined by `` + ``, e.g.
    ``demo data, synthetic; 8 sub-datasets (A) + CAS sample, real; 1 sub-dataset (B)``.
    """
    statuses = list(statuses)
    lists = list(dict.fromkeys(p.subdatasets for s in statuses for p in s.data if p.subdatasets))
    letters = {names: _letter(i) for i, names in enumerate(lists)}
    lines = ["| section | data | run |", "|---|---|---|"]
    for status in statuses:
        data = " + ".join(p.data + (f" ({letters[p.subdatasets]})" if p.subdatasets else "") for p in status.data)
        data = data or NONE
        lines.append("| " + " | ".join(_cell(c) for c in (status.section, data, _run(status))) + " |")
    if lists:
        lines += ["", "Sub-datasets read:", ""]
        lines += [f"- ({letters[names]}) {names}" for names in lists]
    return "\n".join(lines) + "\n"
