"""One quality-control run over a root: scores, flags, review gallery, decisions template, and the tiles kept."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ...io.atomic import write_text_atomic
from ...sources import TileSource
from .decisions import kept_table, read_decisions, write_decisions_template
from .flags import QCThresholds, flag
from .gallery import write_gallery
from .scan import removed_from_names, score_root, summarise

__all__ = ["DECISIONS_FILE", "GALLERY_FOLDER", "KEPT_FILE", "SCORES_FILE", "QCRun", "run_qc"]

SCORES_FILE = "qc-scores.csv"
GALLERY_FOLDER = "gallery"
DECISIONS_FILE = "decisions.csv"
KEPT_FILE = "kept.csv"


@dataclass(frozen=True)
class QCRun:
    """What :func:`run_qc` scored, decided and wrote."""

    flags: pd.DataFrame
    """One row per tile: scores, flags, ``flagged`` and ``reasons``."""
    summary: pd.DataFrame
    """Per sub-dataset: tiles, flags per rule and any, and the numbering gaps (:func:`.scan.summarise`)."""
    scores_csv: Path
    gallery_index: Path
    decisions: Path
    """The decisions file read, or the template to edit."""
    template_written: bool
    """True when this run wrote the decisions template (nothing was decided yet)."""
    kept_csv: Path | None
    """``kept.csv``, written when decisions were read; None otherwise."""
    kept: int | None
    """Tiles kept by the decisions; None when none were read."""


def run_qc(root: str | Path, out: str | Path, *, source: str | TileSource = "cas",
           subdatasets: Iterable[str] | None = None, thresholds: QCThresholds | None = None,
           decisions: str | Path | None = None, progress: bool = True) -> QCRun:
    """Score and flag every tile under ``root`` and write the review material into ``out``.

    Writes ``out/qc-scores.csv`` (scores, one flag column per rule, ``flagged``, ``reasons``),
    ``out/gallery/`` (a picture of each flagged tile and ``index.html``) and, when it does not exist,
    the template ``out/decisions.csv``. Decisions are read from ``decisions`` or else from an
    ``out/decisions.csv`` that existed before this run (a template written just now decides nothing);
    then ``out/kept.csv`` lists the tiles kept, so the filtered dataset can be rebuilt.

    Args:
        root: A data root in the source's layout, or a folder of images
            (:func:`~landslide_core.building.qc.scan.list_images`).
        out: The output folder (created when missing).
        source: The tile source whose layout ``root`` follows.
        subdatasets: Only these sub-datasets; ``None`` takes all.
        thresholds: Where each rule flags; None: :class:`~landslide_core.building.qc.flags.QCThresholds` defaults.
        decisions: A decisions file to read instead of ``out/decisions.csv``.
        progress: Show progress bars.

    Raises:
        DatasetNotFoundError: ``root`` is not a folder.
        PathProblemError: A layout problem of a data root.
        TileError: A tile cannot be read or is not 3-band uint8 RGB.
        DecisionsError: The decisions file cannot be read back (see
            :func:`~landslide_core.building.qc.decisions.read_decisions`).
    """
    out = Path(out)
    flags = flag(score_root(root, source=source, subdatasets=subdatasets, progress=progress),
                 thresholds or QCThresholds())
    scores_csv = write_text_atomic(out / SCORES_FILE, flags.to_csv(index=False, lineterminator="\n"))
    gallery_index = write_gallery(flags, out / GALLERY_FOLDER, progress=progress)
    template = out / DECISIONS_FILE
    written = write_decisions_template(flags, template)
    chosen = Path(decisions) if decisions is not None else None if written else template
    kept_csv, kept = None, None
    if chosen is not None:
        table = kept_table(flags, read_decisions(chosen, flags))
        kept_csv, kept = write_text_atomic(out / KEPT_FILE, table.to_csv(index=False, lineterminator="\n")), len(table)
    summary = summarise(flags, removed_from_names(root, source=source))
    return QCRun(flags, summary, scores_csv, gallery_index, chosen or template, written, kept_csv, kept)
