"""The internal link check, on tiny hand-written HTML trees (tests/built/test_internal_links.py checks the real build)."""

from __future__ import annotations

from pathlib import Path

import pytest

from landslide_core.book.links import check_internal_links
from landslide_core.errors import PathProblemError


def write_book(root: Path, pages: dict[str, str]) -> Path:
    """A built-book stand-in: ``pages`` maps a path under ``root`` to its HTML body."""
    for name, body in {"index.html": "<p>home</p>", **pages}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<!DOCTYPE html><html><body>{body}</body></html>", encoding="utf-8")
    return root


def test_good_links_pass(tmp_path: Path) -> None:
    root = write_book(tmp_path, {
        "book/a.html": '<h1 id="top">A</h1><a href="b.html#part">B</a><a href="#top">up</a><a href="#">menu</a>'
                       '<img src="../_images/fig%201.png"><a href="../">home</a>'
                       '<a href="https://example.org/x.html#nowhere">ext</a><a href="mailto:a@b.c">mail</a>'
                       '<script src="../_static/app.js?v=1"></script>',
        "book/b.html": '<section id="part">B</section><a name="old-anchor"></a><a href="b.html#old-anchor">self</a>',
        "_images/fig 1.png": "",
        "_static/app.js": "",
    })
    assert check_internal_links(root) == []


def test_broken_page_link_is_named(tmp_path: Path) -> None:
    root = write_book(tmp_path, {"book/a.html": '<a href="missing.html">gone</a>'})
    assert check_internal_links(root) == ["book/a.html: missing.html: no such file book/missing.html"]


def test_broken_anchor_is_named(tmp_path: Path) -> None:
    root = write_book(tmp_path, {
        "book/a.html": '<a href="b.html#nowhere">B</a><a href="#also-nowhere">here</a>',
        "book/b.html": '<p id="somewhere">B</p>',
    })
    assert check_internal_links(root) == [
        "book/a.html: b.html#nowhere: no id 'nowhere' in book/b.html",
        "book/a.html: #also-nowhere: no id 'also-nowhere' in book/a.html",
    ]


def test_missing_asset_and_escaping_links_are_named(tmp_path: Path) -> None:
    root = write_book(tmp_path, {
        "book/a.html": '<img src="../_images/none.png"><a href="../../outside.html">out</a><a href="/abs.html">abs</a>',
    })
    problems = check_internal_links(root)
    assert [p.split(": ")[1] for p in problems] == ["../_images/none.png", "../../outside.html", "/abs.html"]
    assert "points outside the built book" in problems[1]
    assert "root-relative" in problems[2]


def test_links_to_records_are_checked_like_pages(tmp_path: Path) -> None:
    root = write_book(tmp_path, {
        "book/sections/a.html": '<a href="../../results/demo/x/t.csv" download>CSV</a>'
                                '<a href="../../results/demo/x/t.json" download>JSON</a>',
        "results/demo/x/t.csv": "a,b",
    })
    assert check_internal_links(root) == [
        "book/sections/a.html: ../../results/demo/x/t.json: no such file results/demo/x/t.json"
    ]


def test_theme_templates_in_static_are_not_pages(tmp_path: Path) -> None:
    root = write_book(tmp_path, {"_static/macros.html": "<link href=\"{{ pathto('_static/x.css', 1) }}\">"})
    assert check_internal_links(root) == []


def test_no_book_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PathProblemError, match="make book"):
        check_internal_links(tmp_path)
