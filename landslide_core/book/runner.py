"""Build the book: jupytext source → papermill execution → Jupyter Book 1 HTML.

Each section in ``_toc.yml`` under ``book/sections/`` has its source in
``notebooks/<name>.py`` (py:percent). The runner pairs it to a notebook, runs it
with papermill on an explicit kernel with the chosen parameters, and writes the
executed notebook where Jupyter Book renders it (the book itself executes
nothing: ``execute_notebooks: off``). Sphinx then builds HTML with warnings as errors.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jupytext
import papermill
import yaml
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from papermill.exceptions import PapermillExecutionError

from ..errors import LandslideCoreError, PathProblemError

KERNEL_NAME = "landslide-core"
SECTIONS_DIR = Path("book") / "sections"
SOURCES_DIR = Path("notebooks")
DEMO_ROOT = Path("data") / "demo"


class SectionFailedError(LandslideCoreError):
    """A section's notebook raised; the message names the notebook, the cell and the error."""


def repository_root() -> Path:
    """The folder holding ``_toc.yml``: the working directory if it has one, else this checkout."""
    for candidate in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (candidate / "_toc.yml").is_file():
            return candidate
    raise PathProblemError(
        Path.cwd() / "_toc.yml", "no book found here", "run the command from the repository root (where _toc.yml is)"
    )


def resolve_data_root(data_root: str | Path | None, *, seed: int = 0) -> Path:
    """The data a section runs on: ``data_root`` as given, or the embedded demo data.

    The demo data are generated on first use (seconds) under ``data/demo`` in the
    repository and reused afterwards.
    """
    if data_root not in (None, ""):
        return Path(data_root).expanduser().resolve()
    from ..demo import ensure_demo_data

    return ensure_demo_data(repository_root() / DEMO_ROOT, seed=seed).resolve()


def _toc_files(entries: list[dict[str, Any]] | None) -> Iterator[str]:
    for entry in entries or []:
        if "file" in entry:
            yield entry["file"]
        for key in ("chapters", "sections", "parts"):
            yield from _toc_files(entry.get(key))


def sections(root: Path) -> list[str]:
    """Section names (notebook stems) listed in ``_toc.yml``, in book order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"], *_toc_files(toc.get("chapters")), *_toc_files(toc.get("parts"))]
    prefix = SECTIONS_DIR.as_posix() + "/"
    return [Path(f).name for f in files if f.startswith(prefix)]


def ensure_kernel() -> str:
    """Register this interpreter as the ``landslide-core`` Jupyter kernel, once.

    Papermill then runs every section on exactly the environment the book was
    built with, whatever other kernels the machine has.
    """
    manager = KernelSpecManager()
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


def execute_section(root: Path, name: str, parameters: Mapping[str, Any]) -> Path:
    """Execute one section with papermill; return the executed notebook's path."""
    source = root / SOURCES_DIR / f"{name}.py"
    if not source.is_file():
        raise PathProblemError(source, f"section '{name}' in _toc.yml has no source notebook", "add it or remove the entry")
    output = root / SECTIONS_DIR / f"{name}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    staged = root / "_build" / "notebooks" / f"{name}.ipynb"
    staged.parent.mkdir(parents=True, exist_ok=True)
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "landslide-core (Python 3)", "language": "python"}
    jupytext.write(notebook, staged)
    try:
        papermill.execute_notebook(
            str(staged), str(output), parameters=dict(parameters), kernel_name=ensure_kernel(),
            cwd=str(output.parent), progress_bar=False,
        )
    except PapermillExecutionError as exc:
        first_line = next(iter(exc.source.strip().splitlines()), "")
        raise SectionFailedError(
            f"section '{name}' ({source}) failed in cell {exc.cell_index} (`{first_line}`): {exc.ename}: {exc.evalue}\n"
            f"The partly executed notebook is kept at {output} for inspection."
        ) from None
    return output


def build_html(root: Path) -> Path:
    """Run Jupyter Book 1 with warnings as errors; return the index page."""
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(root), "--warningiserror", "--keep-going"]
    result = subprocess.run(command, cwd=root)
    if result.returncode != 0:
        raise LandslideCoreError(f"`{' '.join(command)}` failed (exit {result.returncode}); its output above names the page")
    return root / "_build" / "html" / "index.html"


def build_book(
    *, parameters: Mapping[str, Any] | None = None, only: list[str] | None = None, execute_only: bool = False,
    echo=print,
) -> Path | None:
    """Execute every section (or ``only`` those) and build the HTML book."""
    root = repository_root()
    params = dict(parameters or {})
    params["data_root"] = str(resolve_data_root(params.get("data_root")))
    names = sections(root)
    unknown = sorted(set(only or []) - set(names))
    if unknown:
        raise LandslideCoreError(f"unknown section(s) {', '.join(unknown)}; sections in _toc.yml: {', '.join(names)}")
    for name in only or names:
        started = time.perf_counter()
        echo(f"executing section {name} on {params['data_root']} ...")
        execute_section(root, name, params)
        echo(f"  done in {time.perf_counter() - started:.1f} s")
    if execute_only:
        return None
    index = build_html(root)
    echo(f"book written to {index}")
    return index
