"""Check that every internal link of the built HTML book leads somewhere.

Sphinx with ``--warningiserror`` catches broken cross-references in the sources, but
not links written as raw HTML, links into notebook outputs, or assets a theme or
extension forgot to copy. This check reads the finished pages instead: every
relative ``href``/``src`` must name an existing file inside the book (of any kind:
the records a page links to, ``.csv`` and ``.json``, must have been copied in),
and every ``#fragment`` must be an ``id`` (or ``<a name>``) in the page it points at.
Links with a scheme (``https:``, ``mailto:``, ``data:`` ...) are not checked here.
Links *into* ``_static`` are checked like any other: the book must work offline, so
a missing theme file or MathJax component is a real problem. HTML files *inside*
``_static`` are not pages: the themes copy their Jinja macro templates there
verbatim (``{{ pathto(...) }}`` placeholders), so their links are not checked.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import PathProblemError

__all__ = ["LINK_ATTRIBUTES", "STATIC_DIR", "check_internal_links"]

LINK_ATTRIBUTES = frozenset({"href", "src"})
STATIC_DIR = "_static"


class _PageParser(HTMLParser):
    """Collects the ids a page defines and the link targets it uses."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value)
            elif name in LINK_ATTRIBUTES:
                self.links.append(value)


def _parse(page: Path) -> _PageParser:
    parser = _PageParser()
    parser.feed(page.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return parser


def _problem(page: Path, html_dir: Path, link: str, ids: dict[Path, set[str]]) -> str | None:
    """Why ``link`` on ``page`` is broken, or None when it resolves; ``ids`` maps each page to its ids."""
    parts = urlsplit(link)
    if parts.scheme or parts.netloc:
        return None  # external (or data:/javascript:): not ours to check
    if parts.path.startswith("/"):
        return "root-relative link: breaks unless the book is served at the site root"
    target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
    if not target.is_relative_to(html_dir):
        return "points outside the built book"
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return f"no such file {target.relative_to(html_dir).as_posix()}"
    fragment = unquote(parts.fragment)
    if fragment and target.suffix == ".html" and fragment not in ids[target]:
        return f"no id '{fragment}' in {target.relative_to(html_dir).as_posix()}"
    return None


def check_internal_links(html_dir: Path) -> list[str]:
    """One line ``page: href: why`` for each broken internal link or anchor under ``html_dir``.

    Raises:
        PathProblemError: ``html_dir`` holds no ``index.html`` (the book is not built).
    """
    html_dir = Path(html_dir).resolve()
    if not (html_dir / "index.html").is_file():
        raise PathProblemError(html_dir, "no built book here (index.html missing)", "build it with `make book` first")
    parsed = {page: _parse(page) for page in sorted(html_dir.rglob("*.html"))}
    ids = {page: parser.ids for page, parser in parsed.items()}
    problems = []
    for page, parser in parsed.items():
        if page.relative_to(html_dir).parts[0] == STATIC_DIR:
            continue
        for link in parser.links:
            why = _problem(page, html_dir, link, ids)
            if why:
                problems.append(f"{page.relative_to(html_dir).as_posix()}: {link}: {why}")
    return problems
