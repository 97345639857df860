"""Scoring a root, the numbering gaps, the review gallery, the decisions file and `landslide-core qc` end to end."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from landslide_core.building.qc import (
    DECISIONS_COLUMNS,
    flag,
    gallery_name,
    kept_records,
    read_decisions,
    removed_from_names,
    score_root,
    write_decisions_template,
    write_gallery,
)
from landslide_core.cli import main
from landslide_core.errors import DatasetNotFoundError, DecisionsError, ImageFormatError
from landslide_core.io.raster import write_raster
from landslide_core.sources import get_source
from landslide_core.sources.cas.demo import generate_tile
from tests.conftest import write_pair

FOLDER = "Hokkaido Iburi-Tobu"


def demo_pair(index: int) -> tuple[np.ndarray, np.ndarray]:
    tile = generate_tile(0, "hokkaido", index)
    return tile.image, tile.mask


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Four Hokkaido tiles numbered 1, 2, 5, 9: tile 2 has 40 % white fill, tile 5 an empty mask."""
    root = tmp_path / "root"
    for number, index in ((1, 0), (2, 1), (5, 4), (9, 5)):
        image, mask = demo_pair(index)
        if number == 2:
            image[:, :205] = 255
            mask[:205] = 0
        if number == 5:
            mask[:] = 0
        write_pair(root, FOLDER, f"Hokkaido{number:04d}", image, mask)
    return root


def test_score_root_on_a_data_root(root: Path) -> None:
    scores = score_root(root, progress=False)
    assert scores["name"].tolist() == ["Hokkaido0001", "Hokkaido0002", "Hokkaido0005", "Hokkaido0009"]
    assert list(scores.columns) == ["subdataset", "group", "name", "image", "mask", "fill_fraction", "label_share",
                                    "cloud_fraction", "seam_score"]
    assert scores["fill_fraction"].tolist()[1] == pytest.approx(205 / 512, abs=1e-3)
    assert scores["label_share"].iloc[2] == 0 and scores["label_share"].iloc[0] > 0.001
    flags = flag(scores)
    assert flags["flagged"].tolist() == [False, True, True, False]
    assert flags["reasons"].iloc[2] == "label 0 % < 0.1 %"
    only = score_root(root, subdatasets=["hokkaido"], progress=False)
    assert len(only) == 4


def test_nodata_declared_in_the_file_is_not_content(tmp_path: Path) -> None:
    image, _ = demo_pair(0)
    image[:, :, :180] = 7
    write_raster(tmp_path / "tiles" / "scene_0001.tif", image, nodata=7)
    write_raster(tmp_path / "tiles" / "scene_0002.tif", image)  # same pixels, no nodata: 7 is just a colour
    scores = score_root(tmp_path / "tiles", progress=False)
    assert scores["fill_fraction"].tolist() == pytest.approx([180 / 512, 180 / 512], abs=1e-3)
    assert scores["subdataset"].tolist() == ["tiles", "tiles"] and scores["mask"].tolist() == ["", ""]


def test_score_root_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        score_root(tmp_path / "missing", progress=False)
    write_raster(tmp_path / "two_bands.tif", np.zeros((2, 64, 64), np.uint8))
    with pytest.raises(ImageFormatError, match="2 band"):
        score_root(tmp_path, progress=False)


def test_removed_from_names_on_known_gaps(root: Path, tmp_path: Path) -> None:
    removed = removed_from_names(root)
    assert removed.to_dict("records") == [{"subdataset": "hokkaido", "present": 4, "highest number": 9, "missing": 5,
                                           "missing share": 5 / 9}]
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("Palu0000.tiff", "Palu0001.tiff", "Palu0003.tiff", "Lombok010.tiff", "overview.tif"):
        (plain / name).write_bytes(b"")  # names only: no pixel is read
    table = removed_from_names(plain).set_index("subdataset")
    assert table.loc["palu", ["present", "highest number", "missing", "missing share"]].tolist() == [3, 3, 1, 0.25]
    assert table.loc["lombok", ["missing", "missing share"]].tolist() == [9, 0.9]
    assert table.loc["plain", "present"] == 1 and table.loc["plain", "missing"] == 0  # no number to read


def test_gallery_pictures_and_index(root: Path, tmp_path: Path) -> None:
    flags = flag(score_root(root, progress=False))
    out = tmp_path / "gallery"
    (out).mkdir()
    (out / "hokkaido__Hokkaido0009.png").write_bytes(b"stale")  # a picture from an earlier run
    index = write_gallery(flags, out, progress=False)
    pictures = sorted(p.name for p in out.glob("*.png"))
    assert pictures == [gallery_name("hokkaido", "Hokkaido0002"), gallery_name("hokkaido", "Hokkaido0005")]
    html = index.read_text(encoding="utf-8")
    assert sorted(set(re.findall(r'src="([^"]+)"', html))) == pictures  # relative links to existing files
    assert "fill 40 % &gt; 30 %" in html and "label 0 % &lt; 0.1 %" in html
    assert (out / pictures[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert gallery_name("moxi-town-0.2m", "a b/c") == "moxi-town-0.2m__a_b_c.png"


def test_decisions_template_is_never_overwritten(root: Path, tmp_path: Path) -> None:
    flags = flag(score_root(root, progress=False))
    path = tmp_path / "decisions.csv"
    assert write_decisions_template(flags, path)
    table = pd.read_csv(path, keep_default_na=False)
    assert tuple(table.columns) == DECISIONS_COLUMNS
    assert table["decision"].tolist() == ["keep", "reject", "reject", "keep"]
    path.write_text(path.read_text().replace("reject", "keep", 1))
    edited = path.read_text()
    assert not write_decisions_template(flags, path)
    assert path.read_text() == edited
    assert read_decisions(path, flags).tolist() == ["keep", "keep", "reject", "keep"]


def write_decisions(path: Path, rows: list[tuple[str, str, str]], header: str = "subdataset,name,decision") -> Path:
    path.write_text(header + "\n" + "".join(f"{s},{n},{d}\n" for s, n, d in rows), encoding="utf-8")
    return path


@pytest.fixture
def flags(root: Path) -> pd.DataFrame:
    return flag(score_root(root, progress=False))


GOOD = [("hokkaido", "Hokkaido0001", "keep"), ("hokkaido", "Hokkaido0002", " Reject "),
        ("hokkaido", "Hokkaido0005", "reject"), ("hokkaido", "Hokkaido0009", "KEEP")]


def test_read_decisions_matches_rows_by_tile_in_any_order(flags: pd.DataFrame, tmp_path: Path) -> None:
    decisions = read_decisions(write_decisions(tmp_path / "d.csv", GOOD[::-1]), flags)
    assert decisions.index.equals(flags.index)
    assert decisions.tolist() == ["keep", "reject", "reject", "keep"]


@pytest.mark.parametrize(("rows", "header", "message"), [
    (GOOD, "subdataset,name,verdict", r"has no column\(s\) decision"),
    ([*GOOD, ("hokkaido", "Hokkaido0003", "keep")], None, r"line 6 names tile hokkaido/Hokkaido0003, which is not"),
    ([*GOOD[:3], ("hokkaido", "Hokkaido0009", "maybe")], None, r"line 5 \(hokkaido/Hokkaido0009\): decision 'maybe'"),
    ([*GOOD, GOOD[0]], None, r"line 6 names tile hokkaido/Hokkaido0001 a second time"),
    (GOOD[:3], None, r"1 scored tile\(s\) have no row \(first: hokkaido/Hokkaido0009\)"),
])
def test_bad_decisions_name_the_file_the_line_and_the_fix(flags: pd.DataFrame, tmp_path: Path, rows, header,
                                                          message) -> None:
    path = write_decisions(tmp_path / "d.csv", rows, *([header] if header else []))
    with pytest.raises(DecisionsError, match=message) as error:
        read_decisions(path, flags)
    assert error.value.path == path and error.value.fix


def test_missing_or_empty_decisions_file(flags: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(DecisionsError, match="does not exist"):
        read_decisions(tmp_path / "none.csv", flags)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DecisionsError, match="cannot be read as CSV"):
        read_decisions(tmp_path / "empty.csv", flags)


def test_kept_records_from_kept_csv_and_from_decisions(root: Path, tmp_path: Path) -> None:
    records = get_source("cas").list_tiles(root)
    decisions = write_decisions(tmp_path / "d.csv", GOOD)
    assert [r.name for r in kept_records(records, decisions)] == ["Hokkaido0001", "Hokkaido0009"]
    kept = pd.DataFrame({"subdataset": ["hokkaido"], "name": ["Hokkaido0005"]})
    assert [r.name for r in kept_records(records, kept)] == ["Hokkaido0005"]
    with pytest.raises(DecisionsError, match=r"1 kept tile\(s\) are not in the data root"):
        kept_records(records[1:], decisions)


# --------------------------------------------------------------------------- the command


def test_qc_command_end_to_end(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "qc"
    assert main(["qc", str(root), "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "4 tiles scored, 2 flagged" in printed and "decisions template" in printed
    summary = printed.splitlines()[2]  # after the header lines: the hokkaido row
    assert summary.split() == ["hokkaido", "4", "1", "1", "0", "0", "2", "4", "9", "5", "0.556"]
    scores = pd.read_csv(out / "qc-scores.csv", keep_default_na=False)
    assert scores["flagged"].tolist() == [False, True, True, False]
    assert {"flag_fill", "flag_label", "flag_cloud", "flag_seam", "reasons"} <= set(scores.columns)
    assert (out / "gallery" / "index.html").is_file() and len(list((out / "gallery").glob("*.png"))) == 2
    assert not (out / "kept.csv").exists()  # the template just written decides nothing

    decisions = out / "decisions.csv"
    decisions.write_text(decisions.read_text().replace("Hokkaido0002,True,fill 40 % > 30 %,reject",
                                                       "Hokkaido0002,True,fill 40 % > 30 %,keep"))
    edited = decisions.read_text()
    assert main(["qc", str(root), "--out", str(out), "-q", "--seam", "100"]) == 0
    assert decisions.read_text() == edited
    assert "3 of 4 tiles kept" in capsys.readouterr().out
    kept = pd.read_csv(out / "kept.csv")
    assert kept["name"].tolist() == ["Hokkaido0001", "Hokkaido0002", "Hokkaido0009"]
    assert [r.name for r in kept_records(get_source("cas").list_tiles(root), out / "kept.csv")] == kept["name"].tolist()


def test_qc_command_with_a_bad_decisions_file(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_decisions(tmp_path / "bad.csv", [*GOOD[:3], ("hokkaido", "Hokkaido0009", "later")])
    assert main(["qc", str(root), "--out", str(tmp_path / "qc"), "-q", "--decisions", str(bad)]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: {bad}: line 5 (hokkaido/Hokkaido0009): decision 'later'")
    assert "Fix: write keep or reject" in error
    assert not (tmp_path / "qc" / "kept.csv").exists()
