"""The built book in a real browser: every toc page loads cleanly, shows its tables, figures and math,
and the next/sidebar navigation leads where it should. For a reader at 1280 px, no table or code block is
wider than the text column (with all hidden code shown), the results pages have figures, hidden code opens
on a click, and the record links under the tables download their records. A full-page screenshot of each
page is saved to ``_build/browser/<page>.png`` for a person to look at.

Run ``make book`` first; ``make test`` does both.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from .conftest import HTML, SCREENSHOTS, WINDOW_HEIGHT, WINDOW_WIDTH, page_path, toc_pages

PAGES = toc_pages()
MAIN = "article.bd-article"
RESULTS_PAGES = [f"book/sections/{name}" for name in ("04_validation", "05_benchmarks", "06_cross_dataset",
                                                     "08_inventory")]
"""Pages whose results are shown as figures too, and whose tables link to their records."""
HIDDEN_INPUT_PAGES = [f"book/sections/{name}" for name in (
    "03_building", "04_validation", "05_benchmarks", "06_cross_dataset", "07_reproducibility", "08_inventory",
    "09_inferred")]
"""Pages whose plumbing cells (imports, settings) are tagged ``hide-input``."""
REAL_SAMPLE_PARTS = {
    "book/sections/02_dataset": "The real sample beside the demo",
    "book/sections/03_building": "The real sample: quality control and leakage on real tiles",
    "book/sections/05_benchmarks": "The real sample: one model against the baselines",
}
"""Pages with a part on the real sample shipped in data/sample, and the heading of that part."""
HIDDEN_INPUT = "details.hide.above-input"
"""How MyST-NB renders the input of a ``hide-input`` cell: a closed ``<details>`` whose ``<summary>`` opens it."""

KNOWN_CONSOLE_MESSAGES = (
    # pydata-sphinx-theme 0.17 logs this with console.error on a visitor's first page, before it has
    # stored a light/dark choice; the page then renders in "auto" mode, as intended.
    "Got invalid theme mode: . Resetting to auto.",
)

# Each `.math` node MathJax should have typeset, without a TeX error (mjx-merror) in it.
UNRENDERED_MATH_JS = f"""
return [...document.querySelectorAll('{MAIN} .math')]
  .filter(m => !m.querySelector('mjx-container') || m.querySelector('mjx-merror'))
  .map(m => m.textContent.trim().slice(0, 60));
"""
# Main-content text outside code blocks, where a raw `$$` would be unparsed math.
PROSE_TEXT_JS = f"""
const main = document.querySelector('{MAIN}').cloneNode(true);
main.querySelectorAll('pre, code').forEach(n => n.remove());
return main.textContent;
"""
# Per table: its body rows (rows with data cells), and how many of them, and of its data columns, are all
# blank. Single blank cells are allowed: a subtotal row leaves a sub-dataset's sensor and folder empty.
TABLES_JS = f"""
return [...document.querySelectorAll('{MAIN} table')].map(t => {{
  const rows = [...t.querySelectorAll('tr')].filter(r => r.querySelector('td'))
    .map(r => [...r.querySelectorAll('td')].map(c => c.textContent.trim() !== ''));
  const width = Math.max(0, ...rows.map(r => r.length));
  const blankRows = rows.filter(r => !r.some(Boolean)).length;
  const blankColumns = [...Array(width).keys()].filter(i => !rows.some(r => r[i])).length;
  return [rows.length, blankRows, blankColumns];
}});
"""
# Open every hidden cell input or output (MyST-NB's <details>) and every sphinx-togglebutton toggle.
EXPAND_ALL_JS = f"""
document.querySelectorAll('{MAIN} details').forEach(d => d.open = true);
document.querySelectorAll('{MAIN} button.toggle-button[aria-expanded="false"]').forEach(b => b.click());
"""
# The width of the article's text column, and every table wider than it or code block that scrolls sideways
# (its clipped part is out of sight): [kind, first 60 characters, its width, the width it has to fit in].
TOO_WIDE_JS = f"""
const article = document.querySelector('{MAIN}');
const style = getComputedStyle(article);
const column = article.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
const text = e => e.textContent.replace(/\\s+/g, ' ').trim().slice(0, 60);
const tables = [...article.querySelectorAll('table')]
  .map(t => ['table', text(t), t.getBoundingClientRect().width, column]).filter(([, , w]) => w > column + 0.5);
const pres = [...article.querySelectorAll('pre')]
  .map(p => ['pre', text(p), p.scrollWidth, p.clientWidth]).filter(([, , w, c]) => w > c + 1);
return [column, [...tables, ...pres]];
"""
# The part (the <section>) under the heading named arguments[0]: null where the page has no such heading; else
# whether the heading shows, the width of the text column, the part's text, how many tables it holds, and those
# wider than the column: [first 60 characters, width].
REAL_SAMPLE_PART_JS = f"""
const article = document.querySelector('{MAIN}');
const style = getComputedStyle(article);
const column = article.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
const text = e => e.textContent.replace(/\\s+/g, ' ').trim();
const title = h => {{ const c = h.cloneNode(true); c.querySelectorAll('.headerlink').forEach(a => a.remove());
                      return text(c); }};
const heading = [...article.querySelectorAll('h1, h2, h3, h4')].find(h => title(h) === arguments[0]);
if (!heading) return null;
const part = heading.closest('section');
const tables = [...part.querySelectorAll('table')];
return [heading.getClientRects().length > 0, column, text(part), tables.length,
        tables.map(t => [text(t).slice(0, 60), t.getBoundingClientRect().width]).filter(([, w]) => w > column + 0.5)];
"""
IMAGES_JS = f"""
return [...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0,
                                      i.closest('{MAIN}') !== null]);
"""
# Provenance lines under tables (and lines naming a record not shown) without a link to the record's CSV.
UNLINKED_PROVENANCE_JS = f"""
return [...document.querySelectorAll('{MAIN} p.provenance, {MAIN} p.record')]
  .filter(p => !p.querySelector('a[href$=".csv"]'))
  .map(p => p.textContent.trim().slice(0, 80));
"""
EXTERNAL_ASSETS_JS = """
return [...document.querySelectorAll('script[src], link[rel=stylesheet][href]')]
  .map(e => e.src || e.href).filter(u => /^https?:/.test(u));
"""


def load(browser: Any, page: str) -> list[str]:
    """Open a page and give its images and math time to finish; return its console errors (SEVERE)."""
    browser.get_log("browser")  # drain what earlier pages logged
    browser.get(page_path(page).as_uri())
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    try:  # a page that never gets there fails below with a precise message, not a timeout
        WebDriverWait(browser, 30).until(
            lambda d: d.execute_script("return [...document.images].every(i => i.complete)")
            and not d.execute_script(UNRENDERED_MATH_JS)
        )
    except TimeoutException:
        pass
    return [
        entry["message"] for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and not any(known in entry["message"] for known in KNOWN_CONSOLE_MESSAGES)
    ]


def screenshot(browser: Any, page: str) -> Path:
    """Save the whole page: the window is made as tall as the document first."""
    browser.set_window_size(WINDOW_WIDTH, WINDOW_HEIGHT)  # a window left tall by the last page would pad this one
    chrome = browser.execute_script("return window.outerHeight - window.innerHeight")
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(WINDOW_WIDTH, height + chrome)
    path = SCREENSHOTS / f"{Path(page).name}.png"
    browser.save_screenshot(str(path))
    return path


def file_of(url: str) -> Path:
    """The file a ``file://`` URL opens (fragment and query dropped)."""
    return Path(unquote(urlsplit(url).path))


def test_index_opens_the_root_page(browser: Any) -> None:
    browser.get((HTML / "index.html").as_uri())
    WebDriverWait(browser, 30).until(lambda d: file_of(d.current_url) != HTML / "index.html")
    assert file_of(browser.current_url) == page_path(PAGES[0])


@pytest.mark.parametrize("page", PAGES)
def test_page_renders(browser: Any, page: str) -> None:
    assert page_path(page).is_file(), f"{page} is in _toc.yml but {page_path(page)} was not built"
    errors = load(browser, page)
    screenshot(browser, page)
    assert not errors, f"console errors on {page}:\n" + "\n".join(errors)
    assert not browser.execute_script(EXTERNAL_ASSETS_JS), "the page loads scripts or styles from the internet"

    broken = browser.execute_script(
        "return [...document.images].filter(i => !(i.naturalWidth > 0)).map(i => i.getAttribute('src'))"
    )
    assert not broken, f"images that did not load on {page}: {broken}"

    for number, (rows, blank_rows, blank_columns) in enumerate(browser.execute_script(TABLES_JS), start=1):
        assert rows >= 1, f"table {number} on {page} has no body rows"
        assert not blank_rows, f"table {number} on {page} has {blank_rows} rows with only empty cells"
        assert not blank_columns, f"table {number} on {page} has {blank_columns} columns with only empty cells"

    assert not browser.execute_script(UNRENDERED_MATH_JS), f"math MathJax did not render on {page}"
    assert "$$" not in browser.execute_script(PROSE_TEXT_JS), f"raw $$ (unparsed math) on {page}"


@pytest.mark.parametrize("page, following", [*zip(PAGES, PAGES[1:], strict=False), (PAGES[-1], None)])
def test_next_link_leads_to_next_page(browser: Any, page: str, following: str | None) -> None:
    load(browser, page)
    links = browser.find_elements(By.CSS_SELECTOR, "a.right-next")
    if following is None:
        assert not links, f"{page} is the last page but has a 'next' link"
        return
    assert links, f"{page} has no 'next' link"
    links[0].click()
    WebDriverWait(browser, 30).until(lambda d: file_of(d.current_url) != page_path(page))
    assert file_of(browser.current_url) == page_path(following)


@pytest.mark.parametrize("page", PAGES)
def test_sidebar_links_resolve(browser: Any, page: str) -> None:
    load(browser, page)
    targets = {file_of(a.get_attribute("href")) for a in browser.find_elements(By.CSS_SELECTOR, "nav.bd-docs-nav a")}
    missing = sorted(str(t) for t in targets if not t.is_file())
    assert not missing, f"sidebar links on {page} to files that do not exist: {missing}"
    unlisted = [p for p in PAGES if page_path(p) not in targets]
    assert not unlisted, f"sidebar on {page} does not list {unlisted}"


@pytest.mark.parametrize("page", PAGES)
def test_tables_and_code_fit_the_text_column(browser: Any, page: str) -> None:
    load(browser, page)
    browser.execute_script(EXPAND_ALL_JS)
    column, too_wide = browser.execute_script(TOO_WIDE_JS)
    assert column > 0, f"no text column ({MAIN}) on {page}"
    assert not too_wide, f"on {page} at {WINDOW_WIDTH} px (text column {column:.0f} px):\n" + "\n".join(
        f"  {kind} {text!r}: {width:.0f} px wide, " + (f"fits {fits:.0f} px" if kind == "table" else
                                                       f"shows {fits:.0f} px (scrolls sideways)")
        for kind, text, width, fits in too_wide
    )


@pytest.mark.parametrize("page, heading", REAL_SAMPLE_PARTS.items())
def test_real_sample_parts_show_their_heading_banner_and_tables_that_fit(browser: Any, page: str,
                                                                          heading: str) -> None:
    assert page in PAGES, f"{page} is no longer in _toc.yml: update REAL_SAMPLE_PARTS"
    browser.set_window_size(WINDOW_WIDTH, WINDOW_HEIGHT)  # the reader's width, whatever the last page left
    load(browser, page)
    browser.execute_script(EXPAND_ALL_JS)
    part = browser.execute_script(REAL_SAMPLE_PART_JS, heading)
    assert part is not None, f"{page} has no heading {heading!r} in {MAIN}"
    shown, column, text, tables, too_wide = part
    assert shown, f"the heading {heading!r} on {page} does not show"
    assert "Real tiles. This part reads the 24 real CAS tiles" in text, (
        f"the part {heading!r} on {page} does not open with the real-tiles banner: {text[:200]!r}")
    assert tables, f"the part {heading!r} on {page} shows no table"
    assert not too_wide, f"in {heading!r} on {page} at {WINDOW_WIDTH} px (text column {column:.0f} px):\n" + "\n".join(
        f"  table {start!r}: {width:.0f} px wide" for start, width in too_wide)


@pytest.mark.parametrize("page", PAGES)
def test_figures_load_and_results_pages_have_one(browser: Any, page: str) -> None:
    load(browser, page)
    images = browser.execute_script(IMAGES_JS)
    broken = [src for src, loaded, _ in images if not loaded]
    assert not broken, f"images that did not load on {page}: {broken}"
    if page in RESULTS_PAGES:
        assert page in PAGES, f"{page} is no longer in _toc.yml: update RESULTS_PAGES"
        assert any(inside for _, _, inside in images), f"{page} shows no figure in {MAIN}"


@pytest.mark.parametrize("page", HIDDEN_INPUT_PAGES)
def test_hidden_code_is_shown_on_a_click(browser: Any, page: str) -> None:
    assert page in PAGES, f"{page} is no longer in _toc.yml: update HIDDEN_INPUT_PAGES"
    load(browser, page)
    hidden = browser.find_elements(By.CSS_SELECTOR, f"{MAIN} {HIDDEN_INPUT}")
    assert hidden, f"no code cell is hidden on {page}: tag its plumbing cells hide-input (no {HIDDEN_INPUT})"
    cell = hidden[0]
    code = cell.find_elements(By.CSS_SELECTOR, "pre")
    assert code, f"the first hidden cell on {page} holds no code"
    assert cell.get_attribute("open") is None and not code[0].is_displayed(), f"the hidden code on {page} shows at load"
    summary = cell.find_element(By.CSS_SELECTOR, "summary")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", summary)
    summary.click()
    WebDriverWait(browser, 10).until(lambda _: code[0].is_displayed())
    assert code[0].text.strip(), f"the code shown on {page} after a click is empty"


@pytest.mark.parametrize("page", PAGES)
def test_record_links_download_their_records(browser: Any, page: str) -> None:
    load(browser, page)
    hrefs = browser.execute_script(f"return [...document.querySelectorAll('{MAIN} a[href]')].map(a => a.href)")
    records = [file_of(h) for h in hrefs if urlsplit(h).path.endswith(".csv") and "results" in file_of(h).parts]
    for record in records:
        assert record.is_relative_to(HTML) and record.is_file(), f"{page} links to {record}, not in the built book"
        with record.open(encoding="utf-8", newline="") as f:
            header = next(csv.reader(f), [])
        document = record.with_suffix(".json")
        assert document.is_file(), f"{page} links to {record.name} but the book has no {document.name} beside it"
        columns = json.loads(document.read_text(encoding="utf-8"))["columns"]
        assert header == columns, f"{record} starts with {header}, not the record's columns {columns}"
    unlinked = browser.execute_script(UNLINKED_PROVENANCE_JS)
    assert not unlinked, f"provenance lines on {page} without a link to their record: {unlinked}"
    if page in RESULTS_PAGES:
        assert records, f"{page} links to no record (.csv under results/)"
