"""What every section page does the same way: say which data it ran on, and show tables with provenance.

A notebook opens its run with one call, :func:`open_section`, after its
``parameters`` cell (resolve the data root, scan it, start the
:class:`SectionRun`, say which data it is), and shows every results table through
:meth:`SectionRun.show`: the table appears on the page with one provenance line
under it, and the same rows are written as a record
(``results/<profile>/<section>/<name>.csv`` and ``.json``) that other sections,
the book and users can read back. The provenance line links to both files, which
the runner copies into the built book.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from IPython.display import HTML, Markdown, display

from ..provenance import Provenance, collect_provenance, write_record
from ..sources import Scan, TileSource, get_source, raise_first
from ..sources.cas import is_replica, is_sample, synthetic_info
from ..sources.cas.demo_scenes import GENERATOR as SCENES_GENERATOR
from ..tiles import TileRecord
from .prune import write_reads
from .runner import (
    RECORD_SUFFIXES,
    RESULTS_DIR,
    record_href,
    repository_root,
    resolve_data_root,
    sample_root,
    shown_path,
)

__all__ = ["RESULTS_DIR", "SectionRun", "open_section", "record_links", "results_folder"]


def results_folder(profile: str | None, section: str) -> Path:
    """Where a section's records and work go: ``results/<profile>/<section>/`` in the repository."""
    return repository_root() / RESULTS_DIR / (profile or "adhoc") / section


def record_links(stem: str | Path) -> str:
    """HTML naming a record, with links to its CSV and JSON in the built book (see :func:`.runner.record_href`).

    A record the built book has no copy of (written outside ``results/<profile>/<section>/`` of the repository,
    e.g. with ``results_dir`` elsewhere) is named by its CSV's path, without a link.
    """
    stem = Path(stem).absolute()
    root = repository_root().absolute()
    shown = stem.relative_to(root) if stem.is_relative_to(root) else stem
    hrefs = [record_href(shown.with_suffix(suffix)) for suffix in RECORD_SUFFIXES]
    if None in hrefs:
        return f"record <code>{html.escape(str(shown.with_suffix('.csv')))}</code>"
    links = " · ".join(f'<a href="{html.escape(str(href))}" download>{suffix[1:].upper()}</a>'
                       for suffix, href in zip(RECORD_SUFFIXES, hrefs, strict=True))
    return f"record <code>{html.escape(shown.as_posix())}</code>: {links}"


@dataclass
class SectionRun:
    """One execution of one section: its settings, its data, and where its records go."""

    section: str
    profile: str
    parameters: dict[str, Any]
    data_root: Path
    records: list[TileRecord] | None
    manifest: Path | None
    device: str | None
    results_dir: Path
    source: TileSource = field(default_factory=lambda: get_source("cas"))
    found: Scan | None = None
    """What the scan of the data root found (set by :func:`open_section`)."""
    started: float = field(default_factory=time.time)
    part: bool = False
    """True for a part of a page on data other than the page's own (:meth:`on_sample`); its banner says "part"."""

    @classmethod
    def start(
        cls,
        section: str,
        *,
        profile: str,
        parameters: Mapping[str, Any],
        data_root: str | Path,
        records: Iterable[TileRecord] | None = None,
        manifest: str | Path | None = None,
        device: str | None = None,
        results_dir: str | Path | None = None,
        source: str | TileSource = "cas",
    ) -> SectionRun:
        """Begin a section run; records go under ``results/<profile>/<section>/`` unless told otherwise."""
        folder = Path(results_dir) if results_dir else results_folder(profile, section)
        return cls(section, profile, dict(parameters), Path(data_root), None if records is None else list(records),
                   None if manifest is None else Path(manifest), device, folder, get_source(source))

    @property
    def synthetic(self) -> bool:
        """True when the data root holds generated data (the demo tiles or a full-size replica)."""
        return self.source.is_synthetic(self.data_root)

    @property
    def data_label(self) -> str:
        """What the data is called on the page (:meth:`TileSource.data_label`), e.g. ``demo data, synthetic``."""
        return self.source.data_label(self.data_root)

    @property
    def run_label(self) -> str:
        """The column label for regenerated values beside the paper's values."""
        return f"this run ({self.data_label})"

    def banner(self) -> None:
        """Say in plain words, at the top of the page, which data every number below comes from."""
        if self.synthetic and is_replica(self.data_root):
            info = synthetic_info(self.data_root)
            display(Markdown(
                f"**Full-size replica, synthetic.** The tiles behind this {'part' if self.part else 'page'} were "
                "written by `landslide-core "
                f"replica` (seed {info['seed']}, fraction {info['fraction']} of Table 2's tile counts): the CAS "
                "Landslide Dataset's folders, file names and tile counts, filled with synthetic scenes, not CAS "
                "imagery. What is computed below measures what the code costs at the dataset's size and that it "
                "runs end to end; its scores describe the synthetic tiles and say nothing about real landslides. "
                "Values labelled \"paper\" are quoted from the paper."
            ))
        elif self.synthetic:
            info = synthetic_info(self.data_root)
            made = ("cut by `landslide-core tile` from the synthetic scenes of "
                    "`landslide_core.sources.cas.demo_scenes`" if info.get("generator") == SCENES_GENERATOR
                    else "generated by `landslide-core demo-data`")
            display(Markdown(
                f"**Demo data, synthetic.** The tiles behind this page were {made} "
                f"(seed {info['seed']}). They imitate the layout and look of the CAS Landslide Dataset but are not CAS "
                "imagery: every number and picture computed below describes the synthetic tiles, not the real "
                "dataset. Values labelled \"paper\" are quoted from the paper."
            ))
        elif is_sample(self.data_root):
            display(Markdown(
                f"**Real tiles.** This {'part' if self.part else 'page'} reads the {len(self.records or [])} real "
                f"CAS tiles shipped in "
                f"`{shown_path(self.data_root)}` (Hokkaido Iburi-Tobu, CC BY 4.0; Xu et al. 2024, Zenodo 10294997; "
                "see its `LICENCE.md`): they are imagery, not generated, but a small sample of one sub-dataset, so "
                "what is computed from them describes these tiles, not the dataset."
            ))
        else:
            display(Markdown(f"**{self.data_label}** read from `{self.data_root}` (profile `{self.profile}`)."))

    def on_sample(self) -> SectionRun:
        """This run's part on the shipped real sample (``data/sample``, checked against its manifest).

        Records written through it carry the sample's provenance (its data label, checksum and tiles), not the main
        data's, and go to the same records folder; its :meth:`banner` says in plain words that the tiles are real.

        Raises:
            DatasetNotFoundError: The checkout has no ``data/sample``.
            SampleError: A file of the sample differs from its checksum manifest.
        """
        return self.on_data(sample_root())

    def on_data(self, root: str | Path) -> SectionRun:
        """This run's part on another data root (the building page's published tiles beside its demo scenes).

        Records written through it carry that root's provenance (data label, checksum and tiles), and its
        :meth:`banner` names that data.

        Raises:
            PathProblemError: The first layout problem of ``root`` (a missing partner, an unreadable file, ...).
        """
        root = Path(root).resolve()
        found = self.source.scan(root)
        raise_first(found.problems)
        return SectionRun(self.section, self.profile, self.parameters, root, found.records, None, self.device,
                          self.results_dir, self.source, found, part=True)

    def note_runs_read(self, folders: Iterable[Path]) -> None:
        """Record which run folders this page read (``runs_read.json``), so ``results prune`` keeps them."""
        write_reads(self.results_dir, folders)

    def provenance(self, extra: Mapping[str, Any] | None = None) -> Provenance:
        """The provenance of this run now (its wall time runs from :meth:`start`)."""
        return collect_provenance(
            parameters=self.parameters, data_root=self.data_root, records=self.records, manifest=self.manifest,
            device=self.device, started=self.started, section=self.section, profile=self.profile, extra=extra,
            source=self.source,
        )

    def record(self, table: pd.DataFrame, name: str, *, caption: str = "",
               extra: Mapping[str, Any] | None = None) -> None:
        """Write a table as a record without showing it (e.g. raw per-run values); one small line links to it."""
        self._write(table, name, caption, extra)
        display(HTML(f'<p class="record"><small>{html.escape(caption or name)} · '
                     f"{record_links(self.results_dir / name)}</small></p>"))

    def _write(self, table: pd.DataFrame, name: str, caption: str, extra: Mapping[str, Any] | None) -> Provenance:
        provenance = self.provenance(extra)
        write_record(table, self.results_dir / name, provenance, caption=caption)
        return provenance

    def show(self, table: pd.DataFrame, name: str, *, caption: str = "", precision: int = 2,
             extra: Mapping[str, Any] | None = None) -> None:
        """Display a results table with its provenance line, and write it as a record."""
        provenance = self._write(table, name, caption, extra)
        styler = table.style.format(precision=precision, na_rep="—", thousands=",").set_table_attributes('class="dataframe"')
        if caption:
            styler = styler.set_caption(caption)
        display(styler)
        display(HTML(f'<p class="provenance"><small>{html.escape(provenance.line())} · '
                     f"{record_links(self.results_dir / name)}</small></p>"))


def open_section(
    section: str,
    *,
    profile: str,
    parameters: Mapping[str, Any],
    data_root: str | Path | None,
    subdatasets: Iterable[str] | None = None,
    scan: bool = True,
    device: str | None = None,
    source: str | TileSource = "cas",
    banner: bool = True,
) -> SectionRun:
    """The preamble of a section page in one call: find the data, start the run, say which data it is.

    Args:
        section: The section's short name (names its records folder).
        profile: The parameter profile the run belongs to.
        parameters: The notebook's parameters, recorded in every provenance line.
        data_root: The data root; ``None`` or empty: the embedded demo data (generated on first use).
        subdatasets: Only these sub-datasets; ``None`` takes all found.
        scan: Scan the data root for tiles (``run.found``, ``run.records``); sections that read no tiles
            themselves pass ``False``.
        device: The device the section computes on, for the provenance.
        source: The tile source the data root is read with.
        banner: Say which data the page describes (demo or CAS); a page given data of its own (a scene, a
            checkpoint) passes False and says so itself.

    Raises:
        PathProblemError: The first layout problem of the data root (the message says how to list them all).
    """
    source = get_source(source)
    root = resolve_data_root(data_root)
    found = None
    if scan:
        found = source.scan(root, subdatasets)
        raise_first(found.problems)
    run = SectionRun.start(section, profile=profile, parameters=parameters, data_root=root,
                           records=None if found is None else found.records, device=device, source=source)
    run.found = found
    if banner:
        run.banner()
    return run
