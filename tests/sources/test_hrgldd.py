"""HR-GLDD source on arrays written here in the official format, and its download from a local fake Zenodo.

The arrays follow the record: ``{train,val,test}X.npy`` N×128×128×4 float32 and
``…Y.npy`` N×128×128×1. A fake Zenodo API on 127.0.0.1 serves record 7189381
(never the internet), including a file whose listed md5 is wrong.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import pickle
import threading
import zipfile
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np
import pytest
import torch

from landslide_core.data.splits import load_or_make_split
from landslide_core.data.torch_dataset import TileDataset
from landslide_core.data.validate import validate_root
from landslide_core.errors import (
    ChecksumMismatchError,
    ConfigError,
    DatasetNotFoundError,
    ImageFormatError,
    MaskValueError,
    MissingPartnerError,
    TileError,
    UnknownSubDatasetError,
    UnreadableTileError,
)
from landslide_core.sources import IMAGENET, HRGLDDSource, available_sources, get_source
from landslide_core.sources.hrgldd import ZENODO_RECORD, download, write_stand_in
from landslide_core.sources.standardize import Stretch, sample_indices
from landslide_core.sources.zenodo import API_ENV, CACHE_FOLDER, fetch_record, format_listing

SQUARE = (slice(32, 64), slice(40, 80))
"""Where the hand-made arrays hold a landslide (rows, columns of the 128-px patch)."""


def _arrays(n: int, seed: int, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Images whose landslide square is bright and masks 0.7 there (≥ 0.5) and 0.4 in a strip (< 0.5)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.05, 0.3, (n, size, size, 4)).astype(np.float32)
    x[:, SQUARE[0], SQUARE[1], :3] += 0.5
    x[:, :, :, 0] += np.linspace(0, 0.1, n, dtype=np.float32)[:, None, None]  # channels differ
    y = np.zeros((n, size, size, 1), np.float32)
    y[:, SQUARE[0], SQUARE[1]] = 0.7
    y[:, 100:110, :] = 0.4
    return x, y


def _write(folder: Path, counts: dict[str, int] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for seed, (split, n) in enumerate((counts or {"train": 6, "val": 3, "test": 2}).items()):
        x, y = _arrays(n, seed)
        np.save(folder / f"{split}X.npy", x)
        np.save(folder / f"{split}Y.npy", y)
    return folder


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return _write(tmp_path / "hr-gldd")


# ---------------------------------------------------------------------- scan


def test_scan_lists_train_and_held_out_rows_with_the_datasets_own_split(root: Path) -> None:
    found = HRGLDDSource().scan(root)
    assert found.problems == []
    assert [r.name for r in found.records] == [f"train_{i:05d}" for i in range(6)] + [f"val_{i:05d}" for i in range(3)]
    assert {r.name[:3]: r.split for r in found.records} == {"tra": "train", "val": "val"}
    assert {(r.image.name, r.mask.name) for r in found.records if r.split == "val"} == {("valX.npy", "valY.npy")}
    assert {r.source for r in found.records} == {"HR-GLDD"} and {r.subdataset for r in found.records} == {"hr-gldd"}

    held_test = HRGLDDSource(held_out="test").list_tiles(root)
    assert [r.name for r in held_test if r.split == "val"] == ["test_00000", "test_00001"]
    assert not any(r.name.startswith("val_") for r in held_test)
    assert "hr-gldd" in available_sources()


def test_arrays_one_folder_down_are_found_but_two_candidates_are_refused(tmp_path: Path) -> None:
    _write(tmp_path / "root" / "HR-GLDD")
    records = HRGLDDSource().list_tiles(tmp_path / "root")
    assert records[0].image == tmp_path / "root" / "HR-GLDD" / "trainX.npy" and len(records) == 9
    _write(tmp_path / "root" / "copy")
    with pytest.raises(DatasetNotFoundError, match="several folders hold HR-GLDD arrays") as caught:
        HRGLDDSource().scan(tmp_path / "root")
    assert caught.value.path == tmp_path / "root"


def test_missing_root_or_layout_names_the_layout_and_the_download(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="does not exist") as caught:
        HRGLDDSource().scan(tmp_path / "nowhere")
    assert caught.value.path == tmp_path / "nowhere"
    (tmp_path / "empty" / "images").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError) as caught:
        HRGLDDSource().scan(tmp_path / "empty")
    message = str(caught.value)
    assert "holds no trainX.npy" in message and "zenodo.org/records/7189381" in message and "valY.npy" in message
    assert "--source hr-gldd" in message


def test_first_arrays_in_another_format_are_refused(root: Path) -> None:
    x, _ = _arrays(6, 0)
    np.save(root / "trainX.npy", x[..., :3])  # three channels
    with pytest.raises(ImageFormatError, match=r"float32 array of shape \(6, 128, 128, 3\)") as caught:
        HRGLDDSource().scan(root)
    assert caught.value.path == root / "trainX.npy"
    np.save(root / "trainX.npy", (x * 255).astype(np.uint8))  # not floats
    with pytest.raises(ImageFormatError, match="uint8 array"):
        HRGLDDSource().scan(root)
    np.save(root / "trainX.npy", x)
    np.save(root / "trainY.npy", np.zeros((6, 64, 64, 1), np.float32))  # masks on another grid
    with pytest.raises(ImageFormatError, match="must be N×128×128×1") as caught:
        HRGLDDSource().scan(root)
    assert caught.value.path == root / "trainY.npy"
    (root / "trainY.npy").write_bytes(b"not an array")
    with pytest.raises(UnreadableTileError, match="NumPy cannot read this array") as caught:
        HRGLDDSource().scan(root)
    assert caught.value.path == root / "trainY.npy"


def test_missing_partners_are_problems_and_missing_held_out_arrays_a_layout_error(root: Path) -> None:
    (root / "valY.npy").unlink()
    found = HRGLDDSource().scan(root)
    assert [r.split for r in found.records] == ["train"] * 6
    assert len(found.problems) == 1 and isinstance(found.problems[0], MissingPartnerError)
    assert found.problems[0].path == root / "valX.npy" and "valY.npy" in str(found.problems[0])
    with pytest.raises(MissingPartnerError):
        HRGLDDSource().list_tiles(root)

    (root / "valX.npy").unlink()
    with pytest.raises(DatasetNotFoundError, match="held_out='test'"):
        HRGLDDSource().scan(root)
    assert len(HRGLDDSource(held_out="test").list_tiles(root)) == 8

    x, y = _arrays(5, 0)
    np.save(root / "trainY.npy", y)  # one mask row short
    found = HRGLDDSource(held_out="test").scan(root)
    assert [r.name for r in found.records if r.split == "train"] == [f"train_{i:05d}" for i in range(5)]
    assert found.problems[0].path == root / "trainX.npy" and "rows 5 to 5 have no partner" in str(found.problems[0])


def test_options_are_checked_and_rebuild_the_same_source(root: Path) -> None:
    source = get_source("hr-gldd", held_out="test", rgb=[2, 1, 0])
    assert source.spec() == {"name": "hr-gldd", "held_out": "test", "rgb": [2, 1, 0]}
    again = get_source(json.loads(json.dumps(source.spec())))
    assert isinstance(again, HRGLDDSource) and again.options == source.options
    record = source.list_tiles(root)[0]
    np.testing.assert_array_equal(again.read_tile(record)[0], source.read_tile(record)[0])
    with pytest.raises(ConfigError, match="held_out"):
        get_source("hr-gldd", held_out="train")
    with pytest.raises(ConfigError, match="rgb"):
        get_source("hr-gldd", rgb=[0, 1, 4])
    with pytest.raises(UnknownSubDatasetError):
        source.scan(root, ["bijie"])


# ---------------------------------------------------------------------- pixels


def test_read_tile_gives_standard_rgb_and_the_thresholded_mask(root: Path) -> None:
    source = HRGLDDSource()
    record = source.list_tiles(root)[1]
    image, mask = source.read_tile(record)
    assert image.shape == (3, 512, 512) and image.dtype == np.uint8
    assert mask.shape == (1, 512, 512) and mask.dtype == np.uint8
    expected = np.zeros((512, 512), np.uint8)
    expected[32 * 4 : 64 * 4, 40 * 4 : 80 * 4] = 1  # 0.7 is landslide; the 0.4 strip is not
    np.testing.assert_array_equal(mask[0], expected)
    inside = image[:, 140:240, 180:300].mean()
    assert inside > image[:, 300:380, :].mean() + 80  # the landslide square is bright

    swapped = HRGLDDSource(rgb=[2, 1, 0]).read_tile(record)[0]
    np.testing.assert_array_equal(swapped, image[::-1])  # each channel keeps its own stretch


def test_the_stretch_comes_from_a_seeded_sample_of_train_rows(tmp_path: Path) -> None:
    root = _write(tmp_path / "big", {"train": 300, "val": 2})
    source = HRGLDDSource()
    x = np.load(root / "trainX.npy")
    rows = sample_indices(300, 256, seed=0)
    assert len(rows) == 256
    expected = Stretch.from_samples(np.moveaxis(x[rows][..., :3], -1, 1), (2.0, 98.0))
    assert source.stretch(root) == expected
    assert HRGLDDSource().stretch(root) == expected and expected.percentiles == (2.0, 98.0)
    everything = Stretch.from_samples(np.moveaxis(x[..., :3], -1, 1))
    assert everything != expected  # the 44 rows left out matter: the sample is what is used
    x[3, :10, :10, :] = np.nan
    x *= 0.5
    np.save(root / "new.npy", x)
    os.replace(root / "new.npy", root / "trainX.npy")  # a new file in its place: maps and stretch are made again
    assert source.stretch(root) == HRGLDDSource().stretch(root) != expected
    image = source.load(source.list_tiles(root)[3])[0]
    assert (image[:, :10, :10] == 0).all() and (image[:, 10:, 10:] > 0).any()


def test_nan_in_a_mask_row_or_a_bad_row_name_is_our_error(root: Path) -> None:
    y = np.load(root / "trainY.npy")
    y[2, 5, 5, 0] = np.nan
    np.save(root / "trainY.npy", y)
    source = HRGLDDSource()
    records = source.list_tiles(root)
    with pytest.raises(MaskValueError, match="mask row 2 holds NaN") as caught:
        source.read_tile(records[2])
    assert caught.value.path == root / "trainY.npy"
    with pytest.raises(TileError, match="not an HR-GLDD row") as caught:
        source.read_tile(records[0].__class__(**{**records[0].__dict__, "name": "image_1"}))
    assert caught.value.path == root / "trainX.npy"
    with pytest.raises(TileError, match="has no row 99"):
        source.read_tile(records[0].__class__(**{**records[0].__dict__, "name": "train_00099"}))


def test_stand_in_validates_clean_and_a_broken_row_is_reported(tmp_path: Path) -> None:
    root = write_stand_in(tmp_path / "stand-in", train=6, val=3, test=2)
    assert sorted(p.name for p in root.iterdir()) == sorted(
        ["SYNTHETIC-STAND-IN.json"] + [f"{s}{k}.npy" for s in ("train", "val", "test") for k in "XY"]
    )
    x, y = np.load(root / "trainX.npy"), np.load(root / "trainY.npy")
    assert x.shape == (6, 128, 128, 4) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert y.shape == (6, 128, 128, 1) and y.dtype == np.float32 and set(np.unique(y)) == {0.0, 1.0}
    nir_on_landslide = x[..., 3][y[..., 0] == 1].mean()
    assert x[..., 3][y[..., 0] == 0].mean() > nir_on_landslide  # vegetation is brighter in NIR than bare scars
    source = HRGLDDSource()
    assert source.is_synthetic(root) and source.data_label(root) == "HR-GLDD stand-in, synthetic"
    assert {r.source for r in source.list_tiles(root)} == {"HR-GLDD stand-in, synthetic"}
    tiles = [source.read_tile(r) for r in source.list_tiles(root)]
    on_scar = np.mean([i[:, m[0] == 1].mean() for i, m in tiles if m.any()])
    assert on_scar > np.mean([i[:, m[0] == 0].mean() for i, m in tiles]) + 20  # landslides show in the RGB
    report = validate_root(root, source=source, progress=False)
    assert report.ok and report.tiles_checked == 9
    np.testing.assert_array_equal(np.load(write_stand_in(tmp_path / "again", train=6, val=3, test=2) / "valX.npy"),
                                  np.load(root / "valX.npy"))

    y[1, 0, 0, 0] = np.nan
    np.save(root / "trainY.npy", y)
    problems = validate_root(root, source=source, progress=False).problems
    assert [(p.path, type(p)) for p in problems] == [(root / "trainY.npy", MaskValueError)]
    assert "mask row 1 holds NaN" in str(problems[0])


def test_torch_dataset_manifest_and_pickling(root: Path, tmp_path: Path) -> None:
    source = HRGLDDSource()
    records = load_or_make_split(root, tmp_path / "split.csv", source=source)
    assert [r.split for r in records].count("val") == 3  # the dataset's own split is kept
    read_back = load_or_make_split(root, tmp_path / "split.csv", source=source)  # from the manifest
    assert [r.name for r in read_back] == [r.name for r in records]
    item = TileDataset(read_back, source=source)[4]
    image, mask = source.read_tile(records[4])
    torch.testing.assert_close(IMAGENET.batch(item["image"][None])[0], torch.from_numpy(IMAGENET.apply(image)))
    assert item["image"].dtype == torch.uint8 and item["image"].shape == (3, 512, 512)
    assert set(item["mask"].unique().tolist()) == {0, 1} and item["mask"].dtype == torch.int64

    payload = pickle.dumps(source)  # as DataLoader workers get it under spawn
    assert len(payload) < 5000  # the memory maps are not pickled with it
    np.testing.assert_array_equal(pickle.loads(payload).read_tile(records[4])[0], image)


# ---------------------------------------------------------------------- download


class FakeZenodo:
    """Record 7189381 on 127.0.0.1: the JSON file list and each file's content, requests logged."""

    def __init__(self, files: dict[str, bytes], wrong_md5: set[str] = frozenset()) -> None:
        self.files = files
        self.md5 = {k: hashlib.md5(b"other bytes" if k in wrong_md5 else v).hexdigest() for k, v in files.items()}
        self.log: list[str] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = unquote(self.path)
                fake.log.append(path)
                record = f"/api/records/{ZENODO_RECORD}"
                if path == record:
                    body = json.dumps({"id": ZENODO_RECORD, "files": fake.entries()}).encode()
                elif path.startswith(f"{record}/files/") and path.endswith("/content"):
                    body = fake.files[path.removeprefix(f"{record}/files/").removesuffix("/content")]
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.api = f"http://127.0.0.1:{self.server.server_port}/api"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def entries(self) -> list[dict[str, object]]:
        return [
            {"key": k, "size": len(v), "checksum": f"md5:{self.md5[k]}",
             "links": {"self": f"{self.api}/records/{ZENODO_RECORD}/files/{quote(k)}/content"}}
            for k, v in self.files.items()
        ]

    def downloads(self) -> int:
        return sum(path.endswith("/content") for path in self.log)


@pytest.fixture(autouse=True)
def _local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv(API_ENV, raising=False)


@pytest.fixture(scope="module")
def record_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = write_stand_in(tmp_path_factory.mktemp("record"), train=4, val=2, test=2)
    return {f"{s}{k}.npy": (folder / f"{s}{k}.npy").read_bytes() for s in ("test", "train", "val") for k in "XY"}


@pytest.fixture
def zenodo(record_files: dict[str, bytes]):
    fake = FakeZenodo(record_files)
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def test_download_fetches_every_file_verified_and_a_rerun_fetches_nothing(zenodo: FakeZenodo, tmp_path: Path) -> None:
    root = tmp_path / "data"
    said: list[str] = []
    paths = download([], root, api_url=zenodo.api, progress=False, echo=said.append)
    assert said[0].startswith(f"Zenodo record {ZENODO_RECORD}: 6 file(s) selected, 0 already in place; 6 file(s)")
    assert paths == [root / key for key in zenodo.files]
    assert all((root / k).read_bytes() == v for k, v in zenodo.files.items())
    assert list((root / CACHE_FOLDER).iterdir()) == []  # moved into place, not kept twice
    records = get_source("hr-gldd").list_tiles(root)
    assert len(records) == 6 and records[0].source == "HR-GLDD"

    before = zenodo.downloads()
    said.clear()
    get_source("hr-gldd").download(["hr-gldd"], root, api_url=zenodo.api, progress=False, echo=said.append)
    assert zenodo.downloads() == before and "6 already in place; 0 file(s) to download" in said[0]
    assert "trainX.npy" in format_listing(fetch_record(ZENODO_RECORD, zenodo.api))


def test_md5_mismatch_deletes_the_bytes_and_writes_nothing(record_files: dict[str, bytes], tmp_path: Path) -> None:
    fake = FakeZenodo(record_files, wrong_md5={"trainY.npy"})
    try:
        root = tmp_path / "data"
        with pytest.raises(ChecksumMismatchError) as caught:
            download(["trainY.npy"], root, api_url=fake.api, progress=False, echo=lambda _: None)
    finally:
        fake.server.shutdown()
        fake.server.server_close()
    message = str(caught.value)
    assert fake.md5["trainY.npy"] in message and hashlib.md5(record_files["trainY.npy"]).hexdigest() in message
    assert f"zenodo.org/records/{ZENODO_RECORD}" in message
    assert sorted(p.name for p in root.iterdir()) == [CACHE_FOLDER] and list((root / CACHE_FOLDER).iterdir()) == []


def test_unknown_names_are_refused_before_any_transfer(zenodo: FakeZenodo, tmp_path: Path) -> None:
    with pytest.raises(UnknownSubDatasetError, match="'bijie'") as caught:
        download(["bijie"], tmp_path, api_url=zenodo.api, progress=False, echo=lambda _: None)
    assert "trainX.npy" in str(caught.value) and zenodo.downloads() == 0
    assert download(["TRAINX.npy"], tmp_path, api_url=zenodo.api, progress=False, echo=lambda _: None) == [
        tmp_path / "trainX.npy"
    ]


def test_a_zipped_copy_is_unpacked_into_a_folder_the_scan_finds(record_files: dict[str, bytes], tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for key, data in record_files.items():
            zf.writestr(f"HR-GLDD/{key}", data)
    fake = FakeZenodo({"HR-GLDD.zip": buffer.getvalue()})
    try:
        paths = download([], tmp_path / "data", api_url=fake.api, progress=False, echo=lambda _: None)
    finally:
        fake.server.shutdown()
        fake.server.server_close()
    assert paths == [tmp_path / "data" / "HR-GLDD"]
    records = HRGLDDSource().list_tiles(tmp_path / "data")
    assert records[0].image == tmp_path / "data" / "HR-GLDD" / "trainX.npy" and len(records) == 6


def test_the_cli_lists_and_downloads_hr_gldd_from_its_zenodo_record(zenodo: FakeZenodo, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from landslide_core.cli import main

    assert main(["download", "--source", "hr-gldd", "--list", "--api-url", zenodo.api]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in ("trainX.npy", "valY.npy", "testX.npy"))
    root = tmp_path / "hr-gldd"
    assert main(["download", "--source", "hr-gldd", "--root", str(root), "--api-url", zenodo.api, "-q"]) == 0
    assert main(["validate", str(root), "--source", "hr-gldd", "-q"]) == 0
    assert "no problems found" in capsys.readouterr().out
