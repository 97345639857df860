"""Sphinx extension: write each of a page's scripts once.

Under Sphinx 7.4 an inline script that an extension registers once the HTML builder
exists (``app.add_js_file(None, body=...)``, as sphinx-thebe and sphinx-togglebutton
do) lands in the page twice, once with filename ``None`` and once with ``''``.
sphinx-thebe's script declares a ``const``, so its second copy throws
"Identifier 'THEBE_JS_URL' has already been declared" in every page's console.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx

__all__ = ["setup"]


def _drop_duplicate_scripts(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree) -> None:
    scripts = context.get("script_files") or []
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = (script.filename or "", script.priority, tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # in place: the builder restores this list after each page


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the extension: drop duplicate scripts from the context of each HTML page before it is rendered."""
    app.connect("html-page-context", _drop_duplicate_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
