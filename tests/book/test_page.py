"""The one-call preamble of a section page: data root, scan, run, banner."""

from __future__ import annotations

import pytest

from landslide_core.book.page import open_section
from landslide_core.errors import MissingPartnerError


def test_open_section_scans_starts_the_run_and_says_which_data(make_root, monkeypatch):
    shown: list[object] = []
    monkeypatch.setattr("landslide_core.book.page.display", shown.append)
    root = make_root({"palu": 2, "Lombok": 1}, size=64)
    run = open_section("dataset", profile="demo", parameters={"data_root": str(root)}, data_root=root,
                       subdatasets=["palu"])
    assert [r.name for r in run.records] == ["tile0000", "tile0001"] and run.found.root == root
    assert run.data_root == root.resolve() and run.data_label == "CAS data" and not run.synthetic
    assert len(shown) == 1 and shown[0].data.startswith("**CAS data** read from")
    assert open_section("benchmarks", profile="demo", parameters={}, data_root=root, scan=False).records is None


def test_open_section_raises_the_first_layout_problem(make_root, monkeypatch):
    monkeypatch.setattr("landslide_core.book.page.display", lambda *_: None)
    root = make_root({"palu": 2}, size=64)
    next((root / "palu" / "mask").iterdir()).unlink()
    with pytest.raises(MissingPartnerError, match="image has no mask"):
        open_section("dataset", profile="demo", parameters={}, data_root=root)
