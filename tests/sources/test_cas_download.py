"""Tests of landslide_core.download against a local imitation of the Zenodo API.

The fake server on 127.0.0.1 serves the record JSON and file content with HTTP
Range support, logs every request (with its Range header) and can cut a transfer
halfway, so resuming, checksum failures and "nothing to do" reruns are tested
without the internet. The archives hold small real TIFFs and a real shapefile.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import re
import socket
import struct
import threading
import zipfile
from pathlib import Path
from urllib.parse import quote, unquote

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Polygon

from landslide_core.cli import main
from landslide_core.errors import ChecksumMismatchError, DownloadError, UnknownSubDatasetError
from landslide_core.io.raster import write_raster
from landslide_core.sources.cas import CAS, ZENODO_RECORD, subdatasets
from landslide_core.sources.cas.download import (
    API_ENV,
    CACHE_FOLDER,
    MARKER,
    RemoteFile,
    ResumingDownloader,
    download,
    fetch_record,
    format_listing,
    human_size,
    select_files,
)

LONGXI = "Longxi River（UAV）.zip"
HOKKAIDO = "Hokkaido Iburi-Tobu.zip"
PLANET = "Tiburon Peninsula（planet）.zip"
STUDY = "study areas shp.zip"
README = "CAS Landslide Dataset README.html"
LONGXI_TILES = ["longxihe_UAV0001", "longxihe_UAV0002"]
HOKKAIDO_TILES = ["Hokkaido001", "Hokkaido002", "Hokkaido003"]
WENCHUAN_TILES = [f"Wenchuan{i:03d}" for i in range(1, 9)]


# ---------------------------------------------------------------- archives


def _tiles(folder: Path, names: list[str], seed: int, label: bool = False) -> None:
    """Write image/mask (and label) TIFFs for each name: 64×64, RGB uint8 and 0/1 masks."""
    rng = np.random.default_rng(seed)
    for name in names:
        write_raster(folder / "img" / f"{name}.tif", rng.integers(0, 256, (3, 64, 64), dtype=np.uint8))
        mask = (rng.random((64, 64)) > 0.8).astype(np.uint8)
        write_raster(folder / "mask" / f"{name}.tif", mask)
        if label:
            write_raster(folder / "label" / f"{name}.tif", mask * 255)


def _zip(source: Path, prefix: str = "") -> bytes:
    """Zip every file under ``source``, optionally inside one top folder ``prefix``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            zf.write(path, prefix + path.relative_to(source).as_posix())
    return buffer.getvalue()


def _clear_utf8_flags(data: bytes) -> bytes:
    """Clear the UTF-8 flag of every member, as old Windows zippers leave it.

    The names stay UTF-8 bytes, so a reader that trusts the missing flag decodes them
    as cp437 mojibake. The flag sits in each local header and in the central directory.
    """
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        offset = zf.start_dir
        for info in zf.infolist():
            assert out[info.header_offset : info.header_offset + 4] == b"PK\x03\x04"
            assert out[offset : offset + 4] == b"PK\x01\x02"
            for flag_at in (info.header_offset + 6, offset + 8):
                (flags,) = struct.unpack_from("<H", out, flag_at)
                struct.pack_into("<H", out, flag_at, flags & ~0x800)
            name_len, extra_len, comment_len = struct.unpack_from("<HHH", out, offset + 28)
            offset += 46 + name_len + extra_len + comment_len
    return bytes(out)


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The record's files: real zips of TIFFs and a shapefile, plus a README."""
    base = tmp_path_factory.mktemp("archives")
    files: dict[str, bytes] = {}

    _tiles(base / "longxi", LONGXI_TILES, seed=1, label=True)
    files[LONGXI] = _zip(base / "longxi")  # img/ mask/ label/ at the top, as in the real zip

    _tiles(base / "hokkaido", HOKKAIDO_TILES, seed=2)
    files[HOKKAIDO] = _zip(base / "hokkaido", "Hokkaido Iburi-Tobu/")  # wrapped in one top folder

    _tiles(base / "planet", ["Haiti_Planet001"], seed=3)
    (base / "planet" / "说明（readme）.txt").write_text("tiles of Tiburon Peninsula", encoding="utf-8")
    files[PLANET] = _clear_utf8_flags(_zip(base / "planet", "Tiburon Peninsula（planet）/"))

    _tiles(base / "palu", ["Palu001"], seed=4)
    files["palu.zip"] = _zip(base / "palu")  # served with a wrong md5 (see FakeZenodo)

    _tiles(base / "wenchuan", WENCHUAN_TILES, seed=5)
    files["Wenchuan.zip"] = _zip(base / "wenchuan")  # the one cut halfway in the resume test

    _tiles(base / "lombok", ["Lombok001"], seed=6)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.write(base / "lombok" / "img" / "Lombok001.tif", "img/Lombok001.tif")
        zf.writestr("../../evil.tif", b"outside")
    files["Lombok.zip"] = buffer.getvalue()

    shp = base / "study" / "study_areas.shp"
    shp.parent.mkdir()
    gpd.GeoDataFrame(
        {"name": ["Longxi River", "Hokkaido"]},
        geometry=[
            Polygon([(103.5, 31.0), (103.7, 31.0), (103.7, 31.2), (103.5, 31.2)]),
            Polygon([(141.9, 42.6), (142.1, 42.6), (142.1, 42.8), (141.9, 42.8)]),
        ],
        crs="EPSG:4326",
    ).to_file(shp)
    files[STUDY] = _zip(shp.parent)

    files["Moxitaidi (UAV-1m).zip"] = b"not a zip archive, but its md5 is right"

    files[README] = b"<html><body>CAS Landslide Dataset</body></html>"
    return files


# ---------------------------------------------------------------- fake Zenodo


class FakeZenodo:
    """A local stand-in for the Zenodo API that records what it is asked and serves."""

    def __init__(self, files: dict[str, bytes], invenio: bool = False) -> None:
        self.files = files
        self.md5 = {key: hashlib.md5(data).hexdigest() for key, data in files.items()}
        self.md5["palu.zip"] = hashlib.md5(b"not the bytes served").hexdigest()
        self.invenio = invenio
        self.cut_first: set[str] = set()
        self.ignore_range = False
        self.log: list[tuple[str, str | None]] = []
        self.served: dict[str, int] = {key: 0 for key in files}
        self.lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.api = f"http://127.0.0.1:{self.server.server_port}/api"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def content_requests(self, key: str | None = None) -> list[tuple[str, str | None]]:
        """Logged file downloads (path, Range header), for one key or all."""
        return [
            (path, rng)
            for path, rng in self.log
            if path.endswith("/content") and (key is None or path.endswith(f"/{key}/content"))
        ]

    def entries(self) -> list[dict[str, object]]:
        return [
            {
                "key": key,
                "size": len(data),
                "checksum": f"md5:{self.md5[key]}",
                "links": {"self": f"{self.api}/records/{ZENODO_RECORD}/files/{quote(key)}/content"},
            }
            for key, data in self.files.items()
        ]

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        fake = self
        record_path = f"/api/records/{ZENODO_RECORD}"

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _json(self, payload: object) -> None:
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path, rng = unquote(self.path), self.headers.get("Range")
                with fake.lock:
                    fake.log.append((path, rng))
                if path == record_path:
                    self._json({"id": ZENODO_RECORD, "files": {"enabled": True} if fake.invenio else fake.entries()})
                elif path == f"{record_path}/files" and fake.invenio:
                    self._json({"entries": fake.entries()})
                elif path.startswith(f"{record_path}/files/") and path.endswith("/content"):
                    self._content(path.removeprefix(f"{record_path}/files/").removesuffix("/content"), rng)
                else:
                    self.send_error(404)

            def _content(self, key: str, rng: str | None) -> None:
                data = fake.files[key]
                if fake.ignore_range:
                    rng = None
                start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1)) if rng else 0
                if start >= len(data):
                    self.send_error(416)
                    return
                body = data[start:]
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with fake.lock:
                    cut = key in fake.cut_first
                    fake.cut_first.discard(key)
                if cut:  # promise the whole body, send half, hang up
                    body = body[: len(body) // 2]
                    self.close_connection = True
                with fake.lock:  # counted before writing: the client may finish before this thread resumes
                    fake.served[key] += len(body)
                self.wfile.write(body)

        return Handler


@pytest.fixture(autouse=True)
def _local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep requests off any proxy and away from the real Zenodo."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv(API_ENV, raising=False)


@pytest.fixture
def zenodo(archives: dict[str, bytes]):
    fake = FakeZenodo(archives)
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def _keys(records: list) -> set[tuple[str, str]]:
    return {(r.subdataset, r.name) for r in records}


# ---------------------------------------------------------------- tests


def test_listing_shows_names_sizes_and_total(zenodo: FakeZenodo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_ENV, zenodo.api)  # the environment variable alone points at the server
    files = fetch_record()
    listing = format_listing(files)
    lines = listing.splitlines()
    longxi = next(line for line in lines if LONGXI in line)
    assert "longxi-uav" in longxi and human_size(len(zenodo.files[LONGXI])) in longxi
    assert any(HOKKAIDO in line and "hokkaido" in line for line in lines)
    assert any(STUDY in line and "study-areas" in line for line in lines)
    total = sum(len(d) for d in zenodo.files.values())
    assert lines[-1] == f"{len(files)} file(s), {human_size(total)} ({total:,} bytes) in total"
    by_key = {f.key: f for f in files}
    assert by_key[LONGXI].md5 == zenodo.md5[LONGXI] and by_key[LONGXI].kind == "subdataset"
    assert by_key[README].kind == "other" and by_key[README].subdataset is None


def test_invenio_file_list_is_read_from_files_endpoint(archives: dict[str, bytes]) -> None:
    fake = FakeZenodo(archives, invenio=True)
    fake.thread.start()
    try:
        files = fetch_record(api_url=fake.api)
    finally:
        fake.server.shutdown()
        fake.server.server_close()
    assert {f.key for f in files} == set(archives)
    assert [path for path, _ in fake.log] == [f"/api/records/{ZENODO_RECORD}", f"/api/records/{ZENODO_RECORD}/files"]


def test_download_states_plan_first_then_unpacks_usable_layout(zenodo: FakeZenodo, tmp_path: Path) -> None:
    root = tmp_path / "data"
    said: list[tuple[int, str]] = []

    def echo(message: str) -> None:
        said.append((len(zenodo.content_requests()), message))

    paths = download(
        ["Longxi River (UAV)", "hokkaido", "study-areas"], root, api_url=zenodo.api, progress=False, echo=echo
    )

    expected = sum(len(zenodo.files[k]) for k in (LONGXI, HOKKAIDO, STUDY))
    requests_before_plan, plan = said[0]
    assert requests_before_plan == 0
    assert "3 file(s) to download" in plan and f"{expected:,} bytes" in plan
    assert len(zenodo.content_requests()) == 3
    assert paths == [root / "Longxi River（UAV）", root / "Hokkaido Iburi-Tobu", root / "study_areas"]

    assert sorted(p.name for p in (root / "Longxi River（UAV）").iterdir()) == [MARKER, "img", "label", "mask"]
    assert (root / "Hokkaido Iburi-Tobu" / "img").is_dir()  # the zip's top folder was unwrapped
    records = CAS.list_tiles(root)
    assert _keys(records) == {("longxi-uav", n) for n in LONGXI_TILES} | {("hokkaido", n) for n in HOKKAIDO_TILES}
    assert all(r.label is not None for r in records if r.subdataset == "longxi-uav")

    areas = gpd.read_file(root / "study_areas" / "study_areas.shp")
    assert len(areas) == 2 and areas.crs.to_epsg() == 4326
    assert set(areas["name"]) == {"Longxi River", "Hokkaido"}
    assert not list((root / CACHE_FOLDER).glob("unpack-*"))


def test_checksum_mismatch_deletes_bytes_and_unpacks_nothing(zenodo: FakeZenodo, tmp_path: Path) -> None:
    root = tmp_path / "data"
    with pytest.raises(ChecksumMismatchError) as caught:
        download(["palu"], root, api_url=zenodo.api, progress=False, echo=lambda _: None)
    message = str(caught.value)
    assert "palu.zip" in message and zenodo.md5["palu.zip"] in message
    assert hashlib.md5(zenodo.files["palu.zip"]).hexdigest() in message
    assert "run the same command again" in message
    assert not (root / "palu").exists()
    assert sorted(p.name for p in root.iterdir()) == [CACHE_FOLDER]
    assert list((root / CACHE_FOLDER).iterdir()) == []  # no archive, no .part, no pooch temp file


@pytest.mark.parametrize("server_resumes", [True, False])
def test_interrupted_download_resumes_with_range(
    zenodo: FakeZenodo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server_resumes: bool
) -> None:
    # small chunks, so the bytes before the cut reach the disk (a chunk cut short is lost)
    monkeypatch.setattr(ResumingDownloader, "chunk_size", 4096)
    root, key = tmp_path / "data", "Wenchuan.zip"
    size = len(zenodo.files[key])
    zenodo.cut_first.add(key)
    zenodo.ignore_range = not server_resumes  # a server answering 200 to a Range request

    with pytest.raises(DownloadError) as caught:
        download(["Wenchuan"], root, api_url=zenodo.api, progress=False, echo=lambda _: None)
    assert "run the same command again" in str(caught.value)
    part = root / CACHE_FOLDER / f"{key}.part"
    have = part.stat().st_size
    assert 0 < have < size
    assert not (root / "Wenchuan").exists()

    said: list[str] = []
    download(["Wenchuan"], root, api_url=zenodo.api, progress=True, echo=said.append)
    assert f"{size - have:,} bytes" in said[0]
    assert zenodo.content_requests(key)[-1][1] == f"bytes={have}-"
    if server_resumes:
        assert zenodo.served[key] < 1.6 * size
    else:  # half a file, then the whole file again, which replaced the part instead of being appended
        assert zenodo.served[key] == size // 2 + size
    assert not part.exists()
    assert _keys(CAS.list_tiles(root)) == {("wenchuan", n) for n in WENCHUAN_TILES}


@pytest.mark.parametrize("keep_archives", [True, False])
def test_second_run_fetches_and_unpacks_nothing(zenodo: FakeZenodo, tmp_path: Path, keep_archives: bool) -> None:
    root = tmp_path / "data"
    names = ["longxi-uav", README]
    download(names, root, api_url=zenodo.api, progress=False, keep_archives=keep_archives, echo=lambda _: None)
    assert (root / CACHE_FOLDER / LONGXI).exists() is keep_archives
    assert (root / README).read_bytes() == zenodo.files[README]
    folder = root / "Longxi River（UAV）"
    sentinel = folder / "img" / "sentinel.txt"  # would vanish if the folder were unpacked again
    sentinel.write_text("still here")
    marker_mtime = (folder / MARKER).stat().st_mtime_ns
    requests_before = len(zenodo.content_requests())

    said: list[str] = []
    paths = download(names, root, api_url=zenodo.api, progress=False, keep_archives=keep_archives, echo=said.append)
    assert len(zenodo.content_requests()) == requests_before
    assert "0 file(s) to download" in said[0] and "0 B (0 bytes)" in said[0]
    assert sentinel.exists() and (folder / MARKER).stat().st_mtime_ns == marker_mtime
    assert paths == [folder, root / README]


def test_names_without_utf8_flag_are_decoded(zenodo: FakeZenodo, tmp_path: Path) -> None:
    root = tmp_path / "data"
    download(["tiburon-planet"], root, api_url=zenodo.api, progress=False, echo=lambda _: None)
    folder = root / "Tiburon Peninsula（planet）"
    assert (folder / "说明（readme）.txt").read_text(encoding="utf-8") == "tiles of Tiburon Peninsula"
    assert _keys(CAS.list_tiles(root)) == {("tiburon-planet", "Haiti_Planet001")}


def test_unknown_name_lists_valid_names(zenodo: FakeZenodo, tmp_path: Path) -> None:
    with pytest.raises(UnknownSubDatasetError) as caught:
        download(["Atlantis"], tmp_path, api_url=zenodo.api, progress=False, echo=lambda _: None)
    message = str(caught.value)
    assert "'Atlantis'" in message
    assert all(sd.key in message for sd in subdatasets()) and "study-areas" in message
    assert zenodo.content_requests() == []


def _closed_port_api() -> str:
    with socket.socket() as s:  # a port that was just free and now has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"


def test_unreachable_api_raises_download_error(tmp_path: Path) -> None:
    api = _closed_port_api()
    with pytest.raises(DownloadError) as caught:
        download([], tmp_path / "data", api_url=api, progress=False, echo=lambda _: None)
    message = str(caught.value)
    assert "cannot reach the Zenodo API" in message and API_ENV in message
    assert message.startswith(f"{api}/records/{ZENODO_RECORD}: ")


def test_zip_slip_is_refused(zenodo: FakeZenodo, tmp_path: Path) -> None:
    root = tmp_path / "deep" / "data"
    with pytest.raises(DownloadError, match="outside the folder"):
        download(["lombok"], root, api_url=zenodo.api, progress=False, echo=lambda _: None)
    assert not [p for p in tmp_path.rglob("evil.tif")]
    assert not (root / "Lombok").exists()
    assert not list((root / CACHE_FOLDER).glob("unpack-*"))


def _remote(key: str, sd=None, kind="other") -> RemoteFile:
    return RemoteFile(key=key, size=1, md5="0" * 32, url=f"http://x/{key}", subdataset=sd, kind=kind)


def test_no_names_selects_all_sixteen_and_study_areas() -> None:
    files = [_remote(sd.zenodo_file, sd, "subdataset") for sd in subdatasets()]
    files += [_remote(STUDY, kind="study-areas"), _remote(README)]
    chosen = select_files(files, [])
    assert [f.key for f in chosen] == [sd.zenodo_file for sd in subdatasets()] + [STUDY]
    assert select_files(files, ["Longxi River(UAV)", "LONGXI-UAV"]) == [files[12]]

    with pytest.raises(DownloadError, match=re.escape("Wenchuan.zip: not in the Zenodo record")):
        select_files([f for f in files if f.key != "Wenchuan.zip"], [])


def test_folder_not_unpacked_by_us_is_left_alone(zenodo: FakeZenodo, tmp_path: Path) -> None:
    root = tmp_path / "data"
    own = root / "Longxi River（UAV）" / "img"
    own.mkdir(parents=True)
    with pytest.raises(DownloadError, match="not unpacked by landslide-core"):
        download(["longxi-uav"], root, api_url=zenodo.api, progress=False, echo=lambda _: None)
    assert zenodo.content_requests() == []
    assert list(own.parent.iterdir()) == [own]


def test_unreadable_zip_gives_clear_error(zenodo: FakeZenodo, tmp_path: Path) -> None:
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match="not a readable zip file") as caught:
        download(["moxitaidi-uav-1m"], root, api_url=zenodo.api, progress=False, echo=lambda _: None)
    assert "Moxitaidi (UAV-1m).zip" in str(caught.value)
    assert not (root / "Moxitaidi (UAV-1m)").exists()
    assert not list((root / CACHE_FOLDER).glob("unpack-*"))


def test_outdated_unpack_is_replaced(zenodo: FakeZenodo, tmp_path: Path) -> None:
    root = tmp_path / "data"
    download(["longxi-uav"], root, api_url=zenodo.api, progress=False, echo=lambda _: None)
    folder = root / "Longxi River（UAV）"
    (folder / MARKER).write_text(json.dumps({"md5": "0" * 32}))  # as if unpacked from an older record version
    (folder / "img" / "stale.tif").write_bytes(b"left over")
    download(["longxi-uav"], root, api_url=zenodo.api, progress=False, echo=lambda _: None)
    assert len(zenodo.content_requests()) == 1  # the cached archive was verified and unpacked again
    assert not (folder / "img" / "stale.tif").exists()
    assert json.loads((folder / MARKER).read_text())["md5"] == zenodo.md5[LONGXI]
    assert _keys(CAS.list_tiles(root)) == {("longxi-uav", n) for n in LONGXI_TILES}
    assert not list((root / CACHE_FOLDER).glob("stale-*"))


def test_command_line_lists_then_downloads(zenodo: FakeZenodo, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["download", "--list", "--api-url", zenodo.api]) == 0
    listing = capsys.readouterr().out
    assert LONGXI in listing and README in listing and listing.rstrip().endswith("in total")
    assert main(["download", "Longxi River (UAV)", "--api-url", zenodo.api]) == 1
    assert "download needs --root DIR" in capsys.readouterr().err
    root = tmp_path / "data"
    assert main(["download", "Longxi River (UAV)", "--root", str(root), "--api-url", zenodo.api, "-q"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Zenodo record {ZENODO_RECORD}: 1 file(s) selected, 0 already in place; 1 file(s) to download")
    assert {r.subdataset for r in CAS.list_tiles(root)} == {"longxi-uav"}
    assert main(["download", "palu", "--root", str(root), "--api-url", zenodo.api, "-q"]) == 1
    assert capsys.readouterr().err.startswith("error: ") and not (root / "palu").exists()
