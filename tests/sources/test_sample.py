"""The real sample shipped in data/sample: its manifest, its pixels, its labels, its licence and its checks.

The checksums are recomputed here with hashlib, independently of landslide_core's own check, and the pixels are
compared with the uncompressed copy the sample was written from where that copy is present (beside the team's
checkout), so a re-compression that changed a pixel cannot pass unnoticed.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from landslide_core.cli import main
from landslide_core.errors import DatasetNotFoundError
from landslide_core.io.raster import read_raster
from landslide_core.sources import get_source
from landslide_core.sources.cas.sample import SampleError, verify_sample
from tests.conftest import HOKKAIDO, REPO, SAMPLE, SHARED_SAMPLE, requires_shared_sample

pytestmark = pytest.mark.real_data

PARTS = ("img", "label", "mask")
TILES = 24
SIZE_BUDGET_MB = 20
"""The sample ships in every clone: it must stay small."""


def listed() -> dict[str, str]:
    """Relative path → SHA-256, read from SHA256SUMS as ``sha256sum -c`` reads it."""
    lines = (SAMPLE / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in lines if line.strip())}


def names() -> list[str]:
    """The 24 tile names (the same in img/, label/ and mask/)."""
    return sorted(p.name for p in (HOKKAIDO / "img").glob("*.tif"))


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped sample (manifest and licence included)."""
    return Path(shutil.copytree(SAMPLE, tmp_path / "sample", ignore=shutil.ignore_patterns("splits")))


def test_the_manifest_lists_exactly_the_72_tile_files_and_every_checksum_matches() -> None:
    manifest = listed()
    assert len(names()) == TILES
    expected = {f"{HOKKAIDO.name}/{part}/{name}" for part in PARTS for name in names()}
    assert len(manifest) == 3 * TILES and set(manifest) == expected
    on_disk = {p.relative_to(SAMPLE).as_posix() for p in SAMPLE.rglob("*.tif*") if "splits" not in p.parts}
    assert on_disk == expected
    for name, digest in manifest.items():
        assert hashlib.sha256((SAMPLE / name).read_bytes()).hexdigest() == digest, name


def test_the_shipped_sample_verifies() -> None:
    assert verify_sample(SAMPLE) == SAMPLE


def test_a_changed_byte_is_named(sample_copy: Path) -> None:
    changed = sample_copy / HOKKAIDO.name / "img" / names()[5]
    data = bytearray(changed.read_bytes())
    data[-1] ^= 1
    changed.write_bytes(bytes(data))
    with pytest.raises(SampleError, match=re.escape(f"{changed}: its SHA-256 differs")) as raised:
        verify_sample(sample_copy)
    assert raised.value.path == changed


def test_a_deleted_tile_is_named(sample_copy: Path) -> None:
    deleted = sample_copy / HOKKAIDO.name / "mask" / names()[0]
    deleted.unlink()
    with pytest.raises(SampleError, match=re.escape(f"{deleted}: listed in the sample's checksum manifest but "
                                                    "missing")) as raised:
        verify_sample(sample_copy)
    assert raised.value.path == deleted


def test_an_extra_tile_is_named(sample_copy: Path) -> None:
    extra = sample_copy / HOKKAIDO.name / "img" / "99999.tif"
    shutil.copy(sample_copy / HOKKAIDO.name / "img" / names()[0], extra)
    with pytest.raises(SampleError, match=re.escape(f"{extra}: a tile in the sample that SHA256SUMS does not "
                                                    "list")) as raised:
        verify_sample(sample_copy)
    assert raised.value.path == extra


def test_a_folder_without_its_manifest_is_no_sample(sample_copy: Path) -> None:
    (sample_copy / "SHA256SUMS").unlink()
    with pytest.raises(DatasetNotFoundError, match=re.escape(f"{sample_copy}: no real sample here")):
        verify_sample(sample_copy)


@requires_shared_sample
def test_every_pixel_equals_the_uncompressed_copy() -> None:
    shared = SHARED_SAMPLE / HOKKAIDO.name
    assert sorted(p.name for p in (shared / "img").glob("*.tif")) == names()
    for part in PARTS:
        for name in names():
            assert np.array_equal(read_raster(HOKKAIDO / part / name), read_raster(shared / part / name)), \
                f"{part}/{name}"


def test_masks_hold_only_0_and_1_and_labels_follow_the_datasets_rule() -> None:
    """label/ renders the mask as the dataset's production code does: landslide black (0), background white (255)."""
    for name in names():
        mask = read_raster(HOKKAIDO / "mask" / name)
        assert mask.shape == (1, 512, 512) and mask.dtype == np.uint8, name
        assert set(np.unique(mask)) <= {0, 1}, name
        label = read_raster(HOKKAIDO / "label" / name)
        expected = np.where(mask[0] == 1, 0, 255).astype(np.uint8)
        assert label.shape == (3, 512, 512) and label.dtype == np.uint8, name
        assert all(np.array_equal(band, expected) for band in label), name


def test_the_licence_names_the_licence_the_authors_and_the_record() -> None:
    licence = (SAMPLE / "LICENCE.md").read_text(encoding="utf-8")
    for fragment in ("CC BY 4.0", "Xu, Y., Ouyang, C., Xu, Q. et al.", "Zenodo record 10294997",
                     "https://doi.org/10.5281/zenodo.10294997"):
        assert fragment in licence, fragment


def test_validate_finds_no_problems(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(REPO)
    assert main(["validate", "data/sample", "-q"]) == 0
    out = capsys.readouterr().out
    assert f"{TILES} tile(s) checked, no problems found" in out


def test_the_sample_is_named_real() -> None:
    source = get_source("cas")
    assert source.data_label(SAMPLE) == "CAS sample, real"
    assert source.is_synthetic(SAMPLE) is False


def test_the_sample_stays_small_on_disk() -> None:
    used = sum(p.stat().st_blocks * 512 for p in SAMPLE.rglob("*") if p.is_file())
    assert used <= SIZE_BUDGET_MB * 1e6, f"data/sample uses {used / 1e6:.1f} MB on disk"
