"""A headless Chromium (Debian's ``chromium`` + ``chromium-driver``) on the built book.

The driver is given explicitly, so Selenium Manager never tries to download one
(this machine and CI have no internet beyond the package registries). The tests
skip, with the reason, where Chromium, its driver or the built book is missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from landslide_core.book import runner

REPO = Path(__file__).resolve().parents[2]
HTML = REPO / "_build" / "html"
SCREENSHOTS = REPO / "_build" / "browser"
WINDOW_WIDTH, WINDOW_HEIGHT = 1280, 900

BROWSERS = ("chromium", "chromium-browser")
DRIVERS = ("chromedriver",)


def toc_pages() -> list[str]:
    """The book's pages in reading order (``_toc.yml`` root first), as paths without suffix."""
    return runner.toc_pages(REPO)


def page_path(page: str) -> Path:
    """Where Jupyter Book writes the HTML of a toc entry."""
    return HTML / f"{page}.html"


def _first_found(names: tuple[str, ...]) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session, logging the console (``goog:loggingPrefs``)."""
    if not (HTML / "index.html").is_file():
        pytest.skip(f"no built book at {HTML}: run `make book` first")
    chromium, chromedriver = _first_found(BROWSERS), _first_found(DRIVERS)
    if not (chromium and chromedriver):
        pytest.skip(
            f"headless browser test needs Debian's chromium and chromium-driver (found chromium: {chromium}, "
            f"chromedriver: {chromedriver}); install them with `apt-get install chromium chromium-driver`"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars",
                     f"--window-size={WINDOW_WIDTH},{WINDOW_HEIGHT}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(60)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
