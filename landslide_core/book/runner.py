"""Build the book: jupytext source → papermill execution → Jupyter Book 1 HTML.

Each section in ``_toc.yml`` under ``book/sections/`` has its source in
``notebooks/<name>.py`` (py:percent). The runner pairs it to a notebook, runs it
with papermill on an explicit kernel with the parameters of the chosen profile
(:mod:`.profiles`), skips it when nothing it depends on changed
(:mod:`.fingerprint`), and writes the executed notebook where Jupyter Book
renders it (the book itself executes nothing: ``execute_notebooks: off``),
with papermill's injected-parameters cell folded like the ``parameters`` cell.
Before the HTML build it writes the status board of the first page (:mod:`.status`),
read from the records; Sphinx then builds HTML with warnings as errors, the records
are copied into the built book (so the links under each table download them) and
every internal link is checked.
"""

from __future__ import annotations

import contextlib
import os
import pprint
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jupytext
import nbformat
import papermill
import yaml
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from papermill.exceptions import PapermillExecutionError
from papermill.iorw import papermill_io

from ..errors import LandslideCoreError, PathProblemError, SectionFailedError
from ..io.atomic import write_text_atomic
from ..io.lock import exclusive_lock
from ..provenance import library_versions
from ..runtime.workers import available_cores
from .fingerprint import METADATA_KEY, data_digest, section_fingerprint
from .profiles import DEFAULT_PROFILE, get_profile, section_key, section_parameters
from .status import section_statuses, status_markdown

__all__ = [
    "CODE_WIDTH", "DEMO_ROOT", "KERNEL_NAME", "LONGEST_UNRECORDED", "RECORD_SUFFIXES", "RESULTS_DIR", "ROOT_VARIABLE", "SAMPLE_PARAMETER", "SAMPLE_ROOT",
    "SECTIONS_DIR", "SOURCES_DIR", "STATUS_FILE",
    "build_book", "build_html", "copy_records", "declared_parameters", "ensure_kernel", "execute_section",
    "executed_fingerprint", "fold_injected_parameters", "record_href", "remove_stale_notebooks", "repository_root",
    "resolve_data_root", "sample_root", "section_source", "sections", "select_sections", "shown_path", "stage_notebook", "start_order", "toc_pages",
    "write_status",
]

KERNEL_NAME = "landslide-core"
ROOT_VARIABLE = "LANDSLIDE_CORE_BOOK_ROOT"
"""Environment variable naming the repository root a section's kernel works in (see :func:`repository_root`)."""
THREADS_VARIABLE = "OMP_NUM_THREADS"
WAIT_POLICY_VARIABLE = "OMP_WAIT_POLICY"
CPU_THREADS = 2
"""CPU threads of every section kernel where no section runs on a GPU, however many cores the machine has and however
many sections run at once: a section's numbers are then the same built alone or beside others, on any machine of
the same CPU type (torch sums in another order on another thread count, and the demo's Table 5 moved with it). Two: the cores of the
machines this book's CI runs on, where one thread each made the training page twice as slow."""
CODE_WIDTH = 75
"""Characters of a code line that fit the book's text column at 1280 px inside a folded cell."""
SECTIONS_DIR = Path("book") / "sections"
SOURCES_DIR = Path("notebooks")
DEMO_ROOT = Path("data") / "demo"
SAMPLE_ROOT = Path("data") / "sample"
"""The real sample shipped in the repository (24 CAS Hokkaido Iburi-Tobu tiles, CC BY 4.0; see its LICENCE.md)."""
SAMPLE_PARAMETER = "real_sample"
"""The parameter by which a section shows a part on the real sample beside its main data (``True``/``False``)."""
RESULTS_DIR = Path("results")
"""Records go to ``results/<profile>/<section>/<name>.{csv,json}`` in the repository; the built book has a copy."""
RECORD_SUFFIXES = (".csv", ".json")
STATUS_FILE = Path("_build") / "status" / "status.md"
"""The status board, written at each HTML build; ``book/intro.md`` includes it."""
INJECTED_TAG = "injected-parameters"
"""The tag papermill gives the cell it inserts with the parameters of a run."""
HIDE_INPUT = "hide-input"
"""The tag on which Jupyter Book folds a cell's code behind a toggle (its output stays shown)."""


def repository_root() -> Path:
    """The folder holding ``_toc.yml``: :data:`ROOT_VARIABLE`'s, else the working directory's, else this checkout.

    The runner sets :data:`ROOT_VARIABLE` for the kernels it starts (they run in ``book/sections``), so that a book
    built in one checkout with a package installed from another writes its results in the checkout it builds.

    Raises:
        PathProblemError: Neither the working directory nor this checkout holds ``_toc.yml``.
    """
    chosen = os.environ.get(ROOT_VARIABLE)
    for candidate in (*([Path(chosen)] if chosen else []), Path.cwd(), Path(__file__).resolve().parents[2]):
        if (candidate / "_toc.yml").is_file():
            return candidate
    raise PathProblemError(
        Path.cwd() / "_toc.yml", "no book found here", "run the command from the repository root (where _toc.yml is)"
    )


def shown_path(path: str | Path) -> str:
    """``path`` relative to the repository where it lies inside it, else as given.

    So pages never show the builder's own folders (results, runs and the demo data all lie inside).
    """
    path, root = Path(path), repository_root().resolve()
    return (path.resolve().relative_to(root) if path.resolve().is_relative_to(root) else path).as_posix()


def resolve_data_root(data_root: str | Path | None, *, seed: int = 0) -> Path:
    """The data a section runs on: ``data_root`` as given, or the embedded demo data.

    A relative ``data_root`` (e.g. ``data/sample``) is read from the repository root, where ``landslide-core book``
    is run, not from ``book/sections``, where the section's kernel runs. The demo data are generated on first use
    (seconds) under ``data/demo`` in the repository and reused afterwards.
    """
    if data_root not in (None, ""):
        path = Path(data_root).expanduser()
        return (path if path.is_absolute() else repository_root() / path).resolve()
    from ..sources.cas.demo import ensure_demo_data

    return ensure_demo_data(repository_root() / DEMO_ROOT, seed=seed).resolve()


def sample_root() -> Path:
    """The shipped real sample (``data/sample`` of the repository), once its files match its checksum manifest.

    Raises:
        DatasetNotFoundError: The checkout has no sample (e.g. a copy without ``data/sample``).
        SampleError: A tile is missing, changed or not listed in ``SHA256SUMS``.
    """
    from ..sources.cas.sample import verify_sample

    return verify_sample(repository_root() / SAMPLE_ROOT).resolve()


def _toc_files(entries: list[dict[str, Any]] | None) -> Iterator[str]:
    for entry in entries or []:
        if "file" in entry:
            yield entry["file"]
        for key in ("chapters", "sections", "parts"):
            yield from _toc_files(entry.get(key))


def toc_pages(root: Path) -> list[str]:
    """Every page of ``_toc.yml`` in reading order (the root first), as paths without suffix."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    return [toc["root"], *_toc_files(toc.get("chapters")), *_toc_files(toc.get("parts"))]


def sections(root: Path) -> list[str]:
    """Section names (notebook stems) listed in ``_toc.yml``, in book order."""
    prefix = SECTIONS_DIR.as_posix() + "/"
    return [Path(f).name for f in toc_pages(root) if f.startswith(prefix)]


def ensure_kernel() -> str:
    """Register this interpreter as the ``landslide-core`` Jupyter kernel, once.

    Papermill then runs every section on exactly the environment the book was
    built with, whatever other kernels the machine has.

    Raises:
        PathProblemError: A ``landslide-core`` kernel exists but runs another Python interpreter.
    """
    manager = KernelSpecManager()
    # A book build and tests beside it may register it at once: one at a time, so none reads a half-copied spec.
    with exclusive_lock(Path(sys.prefix) / ".landslide-core-kernel.lock", "registering the Jupyter kernel", wait=True):
        try:
            spec = manager.get_kernel_spec(KERNEL_NAME)
        except NoSuchKernel:
            from ipykernel.kernelspec import install

            install(kernel_name=KERNEL_NAME, display_name="landslide-core (Python 3)", prefix=sys.prefix)
            spec = manager.get_kernel_spec(KERNEL_NAME)
    if Path(spec.argv[0]).resolve() != Path(sys.executable).resolve():
        raise PathProblemError(
            spec.resource_dir,
            f"the '{KERNEL_NAME}' kernel runs {spec.argv[0]}, not this environment's {sys.executable}",
            f"remove that kernel (`jupyter kernelspec remove {KERNEL_NAME}`) and run again",
        )
    return KERNEL_NAME


def section_source(root: Path, name: str) -> Path:
    """The jupytext source of a section, ``notebooks/<name>.py`` under ``root``.

    Raises:
        PathProblemError: The section has no source file.
    """
    source = root / SOURCES_DIR / f"{name}.py"
    if not source.is_file():
        raise PathProblemError(source, f"section '{name}' in _toc.yml has no source notebook", "add it or remove the entry")
    return source


def stage_notebook(root: Path, name: str) -> Path:
    """Pair the jupytext source to a notebook (under ``_build/notebooks``) on the ``landslide-core`` kernel."""
    staged = root / "_build" / "notebooks" / f"{name}.ipynb"
    staged.parent.mkdir(parents=True, exist_ok=True)
    notebook = jupytext.read(section_source(root, name))
    notebook.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "landslide-core (Python 3)", "language": "python"}
    jupytext.write(notebook, staged)
    return staged


def declared_parameters(staged: Path) -> dict[str, Any]:
    """The parameters a notebook's ``parameters`` cell declares, with their defaults as written."""
    return {name: spec["default"] for name, spec in papermill.inspect_notebook(str(staged)).items()}


def executed_fingerprint(output: Path) -> str | None:
    """The fingerprint stored in an executed notebook by a successful run, if any."""
    try:
        return nbformat.read(output, as_version=4).metadata.get(METADATA_KEY, {}).get("fingerprint")
    except (OSError, ValueError):
        return None


def fold_injected_parameters(notebook: nbformat.NotebookNode, parameters: Mapping[str, Any] | None = None) -> None:
    """Tag papermill's injected-parameters cell :data:`HIDE_INPUT`, as the sources tag their ``parameters`` cell.

    Its lines hold the run's values (absolute paths, dicts of data roots), which would make the page's code
    block scroll sideways; folded, they are one click away. With ``parameters`` (the values papermill injected)
    the cell is also rewritten with each value as a Python literal wrapped at :data:`CODE_WIDTH` characters,
    which assigns the same values (nbval executes it again).
    """
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if INJECTED_TAG not in tags:
            continue
        if HIDE_INPUT not in tags:
            cell.metadata["tags"] = [*tags, HIDE_INPUT]
        if parameters is not None:
            cell.source = "# Parameters\n" + "\n".join(
                f"{name} = " + pprint.pformat(value, width=max(CODE_WIDTH - len(name) - 3, 20), sort_dicts=False)
                for name, value in parameters.items())


@contextlib.contextmanager
def _kernel_environment(name: str, value: str | None) -> Iterator[None]:
    """``name`` set to ``value`` for the kernels started in the block (they inherit it), then as it was (None: as is)."""
    before = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if value is not None and before is None:
            del os.environ[name]
        elif value is not None:
            os.environ[name] = before


def _kernel_root(root: Path) -> contextlib.AbstractContextManager[None]:
    """:data:`ROOT_VARIABLE` set to ``root`` while a kernel starts."""
    return _kernel_environment(ROOT_VARIABLE, str(root.resolve()))


def execute_section(root: Path, name: str, parameters: Mapping[str, Any], *, fingerprint: str = "",
                    profile: str = "", staged: Path | None = None, kernel: str | None = None) -> Path:
    """Execute one section with papermill; return the executed notebook's path.

    ``staged`` is the notebook :func:`stage_notebook` paired already, if any. On
    success the notebook's metadata records the fingerprint, profile, parameters
    and wall time, so an unchanged section can be skipped next time, and its
    injected-parameters cell is folded (:func:`fold_injected_parameters`).

    Args:
        root: The repository root (holding ``_toc.yml``).
        name: The section's name (notebook stem).
        parameters: The values papermill injects into the notebook.
        fingerprint: Recorded in the executed notebook's metadata.
        profile: Name of the profile, recorded in the executed notebook's metadata.
        staged: The notebook :func:`stage_notebook` paired already, if any.
        kernel: The kernel :func:`ensure_kernel` registered already, if it did.

    Raises:
        SectionFailedError: A cell of the notebook raised; the partly executed notebook is kept.
    """
    source = section_source(root, name)
    output = root / SECTIONS_DIR / f"{name}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    staged = staged or stage_notebook(root, name)
    started = time.perf_counter()
    try:
        with _kernel_root(root):
            papermill.execute_notebook(
                str(staged), str(output), parameters=dict(parameters), kernel_name=kernel or ensure_kernel(),
                # The kernel's working folder, given to the kernel alone: papermill's cwd= changes this whole
                # process's, which sections executed side by side (threads) would change under each other.
                resources={"metadata": {"path": str(output.parent)}}, progress_bar=False,
            )
    except PapermillExecutionError as exc:
        first_line = next(iter(exc.source.strip().splitlines()), "")
        raise SectionFailedError(
            f"section '{name}' ({source}) failed in cell {exc.cell_index} (`{first_line}`): {exc.ename}: {exc.evalue}\n"
            f"The partly executed notebook is kept at {output} for inspection."
        ) from None
    notebook = nbformat.read(output, as_version=4)
    fold_injected_parameters(notebook, parameters)
    notebook.metadata[METADATA_KEY] = {
        "fingerprint": fingerprint, "profile": profile, "parameters": dict(parameters),
        "wall_time_s": round(time.perf_counter() - started, 1),
        "executed_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    nbformat.write(notebook, output)
    return output


@dataclass(frozen=True)
class PlannedSection:
    """A section to execute: its staged notebook, the parameters it runs with, and what its metadata records."""

    name: str
    staged: Path
    values: dict[str, Any]
    fingerprint: str
    data_root: str | None


LONGEST_UNRECORDED = ("05_benchmarks", "06_cross_dataset", "10_new_event", "04_validation", "03_building")
"""Ours: the sections that start first, in this order, where none recorded a wall time (a fresh clone): the pages
that train, and the building page's QC, were the longest in every profile measured (demo: benchmarks, cross-dataset,
new event, validation; rehearsal on the full-size replica: benchmarks, building, validation, before the new-event
page existed). The longest starting first ends the build soonest when sections run side by side."""


def start_order(root: Path, todo: Sequence[PlannedSection]) -> list[PlannedSection]:
    """Longest first: by the wall time each last recorded, then those with none, :data:`LONGEST_UNRECORDED` first."""
    def key(section: PlannedSection) -> tuple[float, int]:
        hint = LONGEST_UNRECORDED.index(section.name) if section.name in LONGEST_UNRECORDED else len(LONGEST_UNRECORDED)
        return -_last_wall_time(root, section.name), hint

    return sorted(todo, key=key)


def _last_wall_time(root: Path, name: str) -> float:
    """The wall time the section's last execution recorded (0 where none did)."""
    output = root / SECTIONS_DIR / f"{name}.ipynb"
    if not output.is_file():
        return 0.0
    return float(nbformat.read(output, as_version=4).metadata.get(METADATA_KEY, {}).get("wall_time_s") or 0.0)


@contextlib.contextmanager
def _kernel_threads(threads: int | None) -> Iterator[None]:
    """``OMP_NUM_THREADS``, torch's and numpy's CPU threads, for the kernels started in the block (None: as it is).

    With it :data:`WAIT_POLICY_VARIABLE` is set to ``PASSIVE``: an OpenMP thread waiting for its siblings then sleeps
    instead of spinning, which on cores shared with other kernels or tests (more threads than cores) otherwise
    burns the time the thread it waits for needs, and made training steps many times slower on 2 cores. It does
    not change how the work is split, so not the numbers.
    """
    value = None if threads is None else str(threads)
    with _kernel_environment(THREADS_VARIABLE, value), \
            _kernel_environment(WAIT_POLICY_VARIABLE, None if threads is None else "PASSIVE"):
        yield


@contextlib.contextmanager
def _papermill_write_folder_cleared() -> Iterator[None]:
    """Papermill's folder for its file writes cleared (None: it changes no folder) before and after the block.

    Papermill keeps that folder in one process-wide handler, which each execution sets to the working folder and
    restores when it ends. Executions side by side in threads restore each other's values out of order and can leave
    an earlier build's folder there; where that folder is gone (a test's temporary one), papermill's next write
    fails. The notebooks' paths are absolute, so no write needs it.
    """
    handler = papermill_io.get_handler("local")
    handler.cwd(None)
    try:
        yield
    finally:
        handler.cwd(None)


def execute_sections(root: Path, todo: list[PlannedSection], *, profile: str, jobs: int = 1,
                     threads: int | None = None, echo: Callable[[str], None] = print) -> None:
    """Execute sections, ``jobs`` at once (0: one per usable core), each kernel on ``threads`` CPU threads.

    No section reads another's results (the demo scenes two of them use are written by whichever comes first while
    the other waits on their lock), so they may run side by side; the longest first (:func:`start_order`), so that
    the last to finish starts early. ``threads`` None leaves the kernels their default (every
    core) when one runs at a time, and gives each ``cores // jobs`` when several do. Once one fails no other
    starts; those running are finished, and the first failure is raised.

    Raises:
        SectionFailedError: A section failed.
    """
    jobs = min(jobs or available_cores(), len(todo)) or 1
    kernel = ensure_kernel()  # registered once, before kernels start side by side
    failed = threading.Event()

    def run(section: PlannedSection) -> None:
        if failed.is_set():
            echo(f"section {section.name}: not executed, as another section failed")
            return
        started = time.perf_counter()
        echo(f"section {section.name}: executing with profile '{profile}' on {section.data_root or '(no data)'} ...")
        try:
            execute_section(root, section.name, section.values, fingerprint=section.fingerprint, profile=profile,
                            staged=section.staged, kernel=kernel)
        except Exception:
            failed.set()
            raise
        echo(f"section {section.name}: done in {time.perf_counter() - started:.1f} s")

    if threads is None and jobs > 1:
        threads = max(available_cores() // jobs, 1)
    with _kernel_threads(threads):
        if jobs == 1:
            for section in todo:
                run(section)
            return
        longest_first = start_order(root, todo)
        echo(f"executing {len(todo)} sections, {jobs} at a time, {threads} CPU thread(s) each")
        # The kernels' root is set once for all: each execute_section then sets and restores the same value.
        with _kernel_root(root), _papermill_write_folder_cleared(), ThreadPoolExecutor(jobs) as pool:
            futures = [pool.submit(run, section) for section in longest_first]
    failures = [f.exception() for f in futures if f.exception() is not None]
    if failures:
        raise failures[0]


def record_href(relative: Path) -> str | None:
    """The link from a section page to the built book's copy of a record file, or None where the book has none.

    ``relative`` is the file's path from the repository root. :func:`copy_records` copies
    ``results/<profile>/<section>/<name>.{csv,json}`` to the same path in the built book, and section pages
    are written to ``book/sections/``, so the link climbs to the book's root and follows that path.
    """
    if relative.is_absolute() or relative.parent.parent.parent != RESULTS_DIR or relative.suffix not in RECORD_SUFFIXES:
        return None
    return "../" * len(SECTIONS_DIR.parts) + quote(relative.as_posix())


def copy_records(root: Path, html: Path) -> list[Path]:
    """Copy the records of every profile and section into the built book, where the pages link to them.

    Only the files directly in ``results/<profile>/<section>/`` are copied (``.csv`` and ``.json``): the
    sub-folders hold the sections' work (runs, checkpoints, tiles), gigabytes that are no record. The copy
    is made afresh, so a record deleted since the last build is not served. Returns the copies, sorted.
    """
    target = html / RESULTS_DIR
    shutil.rmtree(target, ignore_errors=True)
    copies = []
    for record in sorted((root / RESULTS_DIR).glob("*/*/*")):
        if record.suffix in RECORD_SUFFIXES and record.is_file():
            copy = target / record.relative_to(root / RESULTS_DIR)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(record, copy)
            copies.append(copy)
    return copies


def write_status(root: Path, profile: str) -> Path:
    """Write the status board of every section in ``_toc.yml`` (see :mod:`.status`) to :data:`STATUS_FILE`."""
    statuses = section_statuses(root, sections(root), profile=profile, results_dir=RESULTS_DIR,
                                sections_dir=SECTIONS_DIR)
    return write_text_atomic(root / STATUS_FILE, status_markdown(statuses))


def build_html(root: Path, *, profile: str = DEFAULT_PROFILE) -> Path:
    """Build the HTML book with Jupyter Book 1, warnings as errors; return the index page.

    First the status board of the first page is written from the records of ``profile`` (a section whose
    executed notebook names another profile is read from that profile's records). After the build the
    records are copied into the book (:func:`copy_records`) and every internal link is checked, the links to
    the records included. ``--all`` rewrites every page: an incremental build would leave the old sidebar on
    pages whose source did not change when the table of contents did.

    Args:
        root: The repository root (holding ``_toc.yml``).
        profile: The profile the book was built with.

    Raises:
        LandslideCoreError: Jupyter Book exited with an error, or the built book has broken internal links.
    """
    write_status(root, profile)
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(root), "--all", "--warningiserror", "--keep-going"]
    result = subprocess.run(command, cwd=root)
    if result.returncode != 0:
        raise LandslideCoreError(f"`{' '.join(command)}` failed (exit {result.returncode}); its output above names the page")
    from .links import check_internal_links

    html = root / "_build" / "html"
    copy_records(root, html)
    problems = check_internal_links(html)
    if problems:
        raise LandslideCoreError(f"{len(problems)} broken internal link(s) in {html}:\n" + "\n".join(problems))
    return html / "index.html"


def select_sections(names: list[str], only: list[str] | None) -> list[str]:
    """The sections to run, in book order; ``only`` may use short names (``study-areas``).

    Raises:
        LandslideCoreError: A name in ``only`` matches no section in ``names``.
    """
    if not only:
        return names
    by_key = {section_key(n): n for n in names} | {n: n for n in names}
    unknown = [o for o in only if section_key(o) not in by_key and o not in by_key]
    if unknown:
        listing = ", ".join(section_key(n) for n in names)
        raise LandslideCoreError(f"unknown section(s) {', '.join(unknown)}; sections in _toc.yml: {listing}")
    chosen = {by_key.get(o, by_key.get(section_key(o))) for o in only}
    return [n for n in names if n in chosen]


def remove_stale_notebooks(root: Path, names: list[str], echo: Callable[[str], None]) -> None:
    """Delete executed notebooks of sections no longer in ``_toc.yml``, so nbval and the book see only current ones."""
    for stale in sorted((root / SECTIONS_DIR).glob("*.ipynb")):
        if stale.stem not in names:
            stale.unlink()
            echo(f"removed {stale.relative_to(root)}: its section is no longer in _toc.yml")


def build_book(
    *, profile: str = DEFAULT_PROFILE, parameters: Mapping[str, Any] | None = None, only: list[str] | None = None,
    execute_only: bool = False, force: bool = False, jobs: int | None = None, echo: Callable[[str], None] = print,
) -> Path | None:
    """Execute the sections (all, or ``only`` those) with a profile's parameters and build the HTML book.

    A section whose source, parameters, code and data are unchanged since its last
    successful run is not executed again unless ``force``.

    Args:
        profile: Name of the profile in ``profiles.yaml`` whose parameters the sections run with.
        parameters: Parameters that win over the profile's; each must be declared by a section that runs.
        only: Run only these sections (short names allowed); executed notebooks of sections no longer
            in ``_toc.yml`` are removed only when this is not given.
        execute_only: Execute the sections but build no HTML (and return None).
        force: Execute every chosen section even when nothing it depends on changed.
        jobs: Sections executed at once (:func:`execute_sections`); 0: one per usable core; None: one per usable
            core where no section runs on a GPU (its ``device`` parameter other than ``cpu``), else one at a time,
            as trainings side by side would share the GPU's memory. Where none runs on a GPU every kernel gets
            :data:`CPU_THREADS` CPU threads, whatever ``jobs`` is.
        echo: Where progress lines go.

    Raises:
        LandslideCoreError: No section run declares a parameter in ``parameters``, ``only`` names an unknown
            section, or the HTML build fails.
        SectionFailedError: A section failed (the sections already running are finished first).
    """
    root = repository_root()
    chosen = get_profile(profile)
    overrides = dict(parameters or {})
    names = select_sections(sections(root), only)
    versions = library_versions()
    plans = []
    for name in names:
        staged = stage_notebook(root, name)
        declared = declared_parameters(staged)
        values = section_parameters(chosen, name, declared, overrides)
        # The section gets data_root as given (None: the demo data, which it resolves itself), so its page shows no
        # folder of the builder's; the fingerprint hashes the files of the resolved root either way.
        data = str(resolve_data_root(values.get("data_root"))) if "data_root" in declared else None
        sample = str(root / SAMPLE_ROOT) if values.get(SAMPLE_PARAMETER) else None
        plans.append((name, staged, declared, values, data, sample))
    declared_anywhere = {k for _, _, declared, *_ in plans for k in declared}
    unused = sorted(set(overrides) - declared_anywhere)
    if unused:
        raise LandslideCoreError(
            f"parameter(s) {', '.join(unused)} are not declared by any section run "
            f"({', '.join(names)}); declared: {', '.join(sorted(declared_anywhere))}"
        )
    if not only:
        remove_stale_notebooks(root, names, echo)
    # Each data root is walked once per build, however many sections read it.
    roots = {r for *_, data, sample in plans for r in (data, sample) if r}
    data_digests = {r: data_digest(r) for r in roots}
    todo = []
    for name, staged, _, values, data_root, sample in plans:
        # A section showing the real sample beside its data depends on the sample's files too.
        data = data_digests.get(data_root, "") + (f"+{data_digests[sample]}" if sample else "")
        fingerprint = section_fingerprint(section_source(root, name), values, versions, data)
        output = root / SECTIONS_DIR / f"{name}.ipynb"
        if not force and executed_fingerprint(output) == fingerprint:
            echo(f"section {name}: unchanged (source, parameters, code and data); not executed again (--force reruns)")
            continue
        todo.append(PlannedSection(name, staged, values, fingerprint, data_root))
    on_gpu = any(str(section.values.get("device", "cpu")) != "cpu" for section in todo)
    jobs = (1 if on_gpu else 0) if jobs is None else jobs
    threads = CPU_THREADS if not on_gpu else None
    execute_sections(root, todo, profile=profile, jobs=jobs, threads=threads, echo=echo)
    if execute_only:
        return None
    index = build_html(root, profile=profile)
    echo(f"book written to {index}")
    return index
