"""What the built book says the paper says is the paper's text, and the false statements of issue 22 are gone.

Reads what a reader reads: the Markdown cells and Markdown outputs of every executed section, the plain pages and
the README. Runs after `make book`.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from landslide_core.book.runner import SECTIONS_DIR, repository_root
from landslide_core.eval.paper import paper_values
from landslide_core.paper import inferences, quotes, silences
from tests.attribution import unquoted_attributions

ROOT = repository_root()
FALSE_STATEMENTS = (
    "the paper found all four below",
    "states neither its epochs, batch size nor split",
    "mostly CC BY-NC",
    "registry in `landslide_core/data`",
    "Tables 2, 5, 6 and 7",
    "as the paper did",
    "rules of paper Table 3",
    "four rules (Table 3)",
)


def _prose(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    parts = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    parts += [str(output.get("data", {}).get("text/markdown", "")) for cell in notebook.cells
              for output in cell.get("outputs", [])]
    return "\n\n".join(parts)


def _pages() -> dict[str, str]:
    executed = sorted((ROOT / SECTIONS_DIR).glob("*.ipynb"))
    if not executed:
        pytest.fail(f"no executed sections in {ROOT / SECTIONS_DIR}: build the book first (make book)")
    pages = {path.name: _prose(path) for path in executed}
    pages.update({path.name: path.read_text(encoding="utf-8") for path in sorted((ROOT / "book").glob("*.md"))})
    pages["README.md"] = (ROOT / "README.md").read_text(encoding="utf-8")
    return pages


def test_every_sentence_attributing_something_to_the_paper_quotes_the_registry():
    held, unsaid = [q.text for q in quotes().values()], [s.what for s in silences().values()]
    found = {name: unquoted_attributions(text, held, unsaid) for name, text in _pages().items()}
    found = {name: sentences for name, sentences in found.items() if sentences}
    assert not found, "sentences that attribute to the paper without a quote from quotes.yaml:\n" + "\n".join(
        f"{name}: {s}" for name, sentences in found.items() for s in sentences)


@pytest.mark.parametrize("statement", FALSE_STATEMENTS)
def test_no_false_statement_of_issue_22_is_shown(statement):
    shown = [name for name, text in _pages().items() if statement.lower() in " ".join(text.split()).lower()]
    assert not shown, f"{statement!r} is on {shown}"


def test_the_table7_sentence_counts_the_public_datasets_below_cas_sat_from_the_papers_values():
    table7 = paper_values(7).set_index("dataset")["iou"]
    public = ["Bijie", "Sichuan and Surrounding Areas Landslide Dataset", "HR-GLDD", "Landslide4Sense"]
    below = sum(table7[name] < table7["SAT"] for name in public)
    assert below == 3  # Sichuan's 30.280 is above CAS SAT's 24.449
    page = " ".join(_pages()["06_cross_dataset.ipynb"].split())
    assert f"{below} of {len(public)}" in page


def test_the_appendix_is_in_the_toc_and_lists_each_interpretation_with_its_quote_and_parameter():
    assert "book/sections/09_inferred" in (ROOT / "_toc.yml").read_text(encoding="utf-8")
    page = _pages()["09_inferred.ipynb"]
    for item in inferences():
        assert item.title in page and item.parameter in page, item.key
        assert all(" ".join(q.text.split()) in page for q in item.quotes), item.key
