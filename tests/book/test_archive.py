"""Results archives: packed without checkpoints, installed only when every file matches its manifest."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pytest

from landslide_core.book import archive
from landslide_core.book.archive import (
    MANIFEST,
    MAX_MANIFEST_BYTES,
    MAX_TOTAL_BYTES,
    archive_sha256,
    pack,
    packed_files,
    unpack,
)
from landslide_core.book.fingerprint import package_digest
from landslide_core.cli import main
from landslide_core.errors import ArchiveError

VERSION = package_digest()[:12]
RUN = f"results/demo/benchmarks/runs/{VERSION}/random-split/unet_SAT_seed0-0123456789ab"
KEPT = [
    "results/demo/benchmarks/scores_all_runs.csv",
    "results/demo/benchmarks/scores_all_runs.json",
    f"{RUN}/scores.csv",
    f"{RUN}/history.csv",
    f"{RUN}/attempts.jsonl",
    f"results/demo/benchmarks/runs/{VERSION}/random-split/split-seed0.csv",
]
LEFT_OUT = [
    f"{RUN}/best.pt",  # checkpoints
    f"{RUN}/last.pt",
    f"{RUN}/.lock",  # a crashed run's lock file
    f"results/demo/benchmarks/runs/{VERSION}/random-split/jobs/123/123_0_result.pkl",  # scheduler files
    "results/demo/benchmarks/runs/0123456789ab/random-split/unet_SAT_seed0/scores.csv",  # another code version
    "results/demo/validation/work/filtered/Hokkaido Iburi-Tobu/img/a.tif",  # regenerated data
    "results/paper/benchmarks/scores_all_runs.csv",  # another profile
]


def checkout(folder: Path, files: list[str]) -> Path:
    """A repository root (it has _toc.yml) holding ``files``, each with its own content."""
    (folder / "_toc.yml").parent.mkdir(parents=True, exist_ok=True)
    (folder / "_toc.yml").write_text("root: intro\n")
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"content of {name}\n")
    return folder


@pytest.fixture
def packed(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(checkout(tmp_path / "cluster", KEPT + LEFT_OUT))
    return pack("demo", tmp_path / "results-demo.tar.gz")


def test_an_archive_holds_records_and_run_scores_without_checkpoints(packed):
    with tarfile.open(packed) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile(MANIFEST).read())
    assert names[0] == MANIFEST and sorted(names[1:]) == sorted(KEPT)
    assert sorted(manifest["files"]) == sorted(KEPT) and manifest["package_digest"] == package_digest()
    assert {"commit", "libraries", "created_utc"} <= set(manifest) and manifest["profile"] == "demo"
    assert [p.as_posix() for p in packed_files("demo")] == sorted(KEPT)


def test_an_archive_installs_in_a_fresh_checkout_with_the_same_files(packed, tmp_path, monkeypatch):
    fresh = checkout(tmp_path / "laptop", [])
    monkeypatch.chdir(fresh)
    installed = unpack(packed, sha256=archive_sha256(packed))
    assert sorted(p.relative_to(fresh).as_posix() for p in installed.written) == sorted(KEPT)
    for name in KEPT:
        assert (fresh / name).read_text() == f"content of {name}\n"
    again = unpack(packed)  # idempotent: same content is left alone
    assert again.written == [] and len(again.unchanged) == len(KEPT)


def rewrite(archive: Path, out: Path, change) -> Path:
    """A copy of ``archive`` with ``change(name, data) -> [(name, data), ...]`` applied to every member."""
    with tarfile.open(archive) as tar, tarfile.open(out, "w:gz") as new:
        for member in tar.getmembers():
            for name, data in change(member.name, tar.extractfile(member).read()):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                new.addfile(info, io.BytesIO(data))
    return out


@pytest.mark.parametrize(("change", "named", "problem"), [
    (lambda n, d: [(n, d[:-9] + b"tampered\n" if n == KEPT[2] else d)], KEPT[2], "does not match the SHA-256"),
    (lambda n, d: [] if n == KEPT[3] else [(n, d)], KEPT[3], "listed in the manifest but not in the archive"),
    (lambda n, d: [(n, d), *([("results/demo/extra.csv", b"x")] if n == MANIFEST else [])], "results/demo/extra.csv",
     "not in its manifest"),
    (lambda n, d: [(n, d), *([("results/demo/../../evil.sh", b"x")] if n == MANIFEST else [])], "evil.sh",
     "not a plain file under results/demo/"),
    (lambda n, d: [(n.replace("benchmarks/", "./benchmarks/") if n == KEPT[0] else n, d)], "results/demo/./bench",
     "not a plain file under results/demo/"),
    (lambda n, d: [(n, d.replace(package_digest().encode(), b"f" * 64) if n == MANIFEST else d)], "tar.gz",
     "was made by landslide_core ffffffffffff"),
])
def test_a_tampered_archive_is_refused_with_the_file_named_and_nothing_installed(packed, tmp_path, monkeypatch,
                                                                                change, named, problem):
    bad = rewrite(packed, tmp_path / "bad.tar.gz", change)
    fresh = checkout(tmp_path / "laptop", [])
    monkeypatch.chdir(fresh)
    with pytest.raises(ArchiveError, match=problem) as error:
        unpack(bad)
    assert named in str(error.value)
    assert not (fresh / "results").exists()


def test_an_archive_other_than_the_published_one_is_refused(packed, tmp_path, monkeypatch):
    monkeypatch.chdir(checkout(tmp_path / "laptop", []))
    with pytest.raises(ArchiveError, match="not the published archive"):
        unpack(packed, sha256="0" * 64)
    with pytest.raises(ArchiveError, match="cannot be read as a .tar.gz"):
        unpack(Path(__file__))


def test_results_on_disk_that_differ_are_replaced_only_when_forced(packed, tmp_path, monkeypatch):
    fresh = checkout(tmp_path / "laptop", [KEPT[2]])
    (fresh / KEPT[2]).write_text("my own run\n")
    monkeypatch.chdir(fresh)
    with pytest.raises(ArchiveError, match="--force") as error:
        unpack(packed)
    assert KEPT[2] in str(error.value) and (fresh / KEPT[2]).read_text() == "my own run\n"
    assert not (fresh / KEPT[3]).exists()  # all or nothing
    unpack(packed, force=True)
    assert (fresh / KEPT[2]).read_text() == f"content of {KEPT[2]}\n"


def test_packing_nothing_says_what_to_run_first(tmp_path, monkeypatch):
    monkeypatch.chdir(checkout(tmp_path / "empty", []))
    with pytest.raises(ArchiveError, match="landslide-core book --profile paper"):
        pack("paper")


def forge(out: Path, members: list[tuple[str, bytes]], *, profile: str = "demo", listed: dict | None = None,
          **extra: object) -> Path:
    """A hand-made archive for this code: its manifest lists ``listed`` (default: each member's true SHA-256 and size)."""
    files = listed if listed is not None else {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)} for name, data in members}
    manifest = {"format": 1, "profile": profile, "package_digest": package_digest(), "commit": "0" * 40,
                "files": files, **extra}
    with tarfile.open(out, "w:gz") as tar:
        for name, data in [(MANIFEST, json.dumps(manifest).encode()), *members]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


@pytest.fixture
def laptop(tmp_path, monkeypatch) -> Path:
    """A fresh checkout as the working directory, whose unpack staging folder is kept to be measured afterwards."""
    fresh = checkout(tmp_path / "laptop", [])
    monkeypatch.chdir(fresh)

    @contextlib.contextmanager
    def kept_staging(prefix: str, dir: Path):  # noqa: A002 (tempfile's name)
        (fresh / "staging").mkdir()
        yield str(fresh / "staging")

    monkeypatch.setattr(tempfile, "TemporaryDirectory", kept_staging)
    return fresh


def staged_bytes(fresh: Path) -> int:
    return sum(p.stat().st_size for p in (fresh / "staging").rglob("*") if p.is_file())


@pytest.mark.parametrize("profile", ["", "../x", "a/b", "."])
def test_a_profile_that_is_not_one_folder_name_is_refused(laptop, tmp_path, profile):
    # an empty profile once installed these files into results/paper/
    bad = forge(tmp_path / "bad.tar.gz", [("results/paper/benchmarks/scores.csv", b"x,y\n")], profile=profile)
    with pytest.raises(ArchiveError, match="not a profile name .letters, digits, '_' and '-' only.") as error:
        unpack(bad)
    assert str(bad) in str(error.value) and f"profile {profile!r}" in str(error.value)
    assert not (laptop / "results").exists() and staged_bytes(laptop) == 0
    with pytest.raises(ArchiveError, match="not a profile name"):
        pack(profile)


def test_a_member_larger_than_its_manifest_says_is_refused_before_anything_is_extracted(laptop, tmp_path):
    bomb = b"\0" * (20 * 2**20)  # compresses to about 20 KB
    bad = forge(tmp_path / "bomb.tar.gz", [(KEPT[0], b"a,b\n"), (KEPT[1], bomb)],
                listed={KEPT[0]: {"sha256": hashlib.sha256(b"a,b\n").hexdigest(), "bytes": 4},
                        KEPT[1]: {"sha256": hashlib.sha256(b"{}").hexdigest(), "bytes": 2}})
    assert bad.stat().st_size < 100_000
    with pytest.raises(ArchiveError, match="holds 20,971,520 bytes where its manifest lists 2") as error:
        unpack(bad)
    assert f"{bad}: {KEPT[1]}" in str(error.value) and "Fix: get the archive again" in str(error.value)
    assert staged_bytes(laptop) == 0 and not (laptop / "results").exists()  # not even the valid first member


def test_files_listed_as_more_than_the_total_cap_are_refused(laptop, tmp_path):
    bad = forge(tmp_path / "big.tar.gz", [(KEPT[0], b"a")],
                listed={KEPT[0]: {"sha256": "0" * 64, "bytes": MAX_TOTAL_BYTES + 1}})
    with pytest.raises(ArchiveError, match=re.escape("lists 1 file(s) of 268,435,457 bytes in all, more than the "
                                                     "256.0 MiB a results archive may unpack, so nothing was "
                                                     "extracted")) as error:
        unpack(bad)
    assert str(bad) in str(error.value) and staged_bytes(laptop) == 0


def test_a_manifest_larger_than_its_cap_is_not_read(laptop, tmp_path):
    bad = forge(tmp_path / "manifest.tar.gz", [(KEPT[0], b"a")], padding=" " * MAX_MANIFEST_BYTES)
    with pytest.raises(ArchiveError, match="bytes, more than the 16.0 MiB a results manifest may take") as error:
        unpack(bad)
    assert str(bad) in str(error.value) and staged_bytes(laptop) == 0


@pytest.mark.parametrize("second", [KEPT[0], KEPT[0].upper().replace("RESULTS/DEMO", "results/demo")])
def test_a_name_twice_is_refused_and_nothing_is_installed(laptop, tmp_path, second):
    members = [(KEPT[1], b"{}"), (KEPT[0], b"a,b\n"), (second, b"a,b\n")]
    bad = forge(tmp_path / "twice.tar.gz", members)
    with pytest.raises(ArchiveError, match="occurs twice in the archive") as error:
        unpack(bad)
    assert f"{bad}: {second}" in str(error.value)
    assert not (laptop / "results").exists() and staged_bytes(laptop) == 0


@pytest.mark.parametrize(("listed", "named", "problem"), [
    ({KEPT[0]: {"bytes": 4}}, KEPT[0], "has no sha256 .64 hex digits. in the landslide-core-results.json"),
    ({KEPT[0]: {"sha256": hashlib.sha256(b"a,b\n").hexdigest()}}, KEPT[0], "has no size .bytes. in the"),
    ([KEPT[0]], "nosha.tar.gz", "without its files, package_digest or commit"),
])
def test_a_manifest_entry_without_its_sha256_is_named(laptop, tmp_path, listed, named, problem):
    bad = forge(tmp_path / "nosha.tar.gz", [(KEPT[0], b"a,b\n")], listed=listed)
    with pytest.raises(ArchiveError, match=problem) as error:
        unpack(bad)
    assert f"{bad}" in str(error.value) and named in str(error.value) and "Fix: get the archive again" in str(error.value)
    assert not (laptop / "results").exists()


def test_pack_refuses_results_that_unpack_would_refuse(tmp_path, monkeypatch):
    monkeypatch.chdir(checkout(tmp_path / "cluster", KEPT))
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 100)
    with pytest.raises(ArchiveError, match="more than unpack takes"):
        pack("demo", tmp_path / "results-demo.tar.gz")
    assert not list(tmp_path.glob("results-demo.tar.gz*"))


def test_the_command_says_when_the_archive_was_not_checked_against_its_published_sha256(packed, tmp_path,
                                                                                       monkeypatch, capsys):
    monkeypatch.chdir(checkout(tmp_path / "laptop", []))
    assert main(["results", "unpack", str(packed)]) == 0
    assert "not checked against a published SHA-256" in capsys.readouterr().out
    assert main(["results", "unpack", str(packed), "--sha256", archive_sha256(packed)]) == 0
    out = capsys.readouterr().out
    assert "is the archive with the SHA-256 given" in out and "not checked" not in out


def test_per_tile_counts_of_runs_and_baselines_travel_byte_exact_and_are_verified(tmp_path, monkeypatch):
    """A run's ``tile_counts.csv`` and the baselines' tile files, as the experiments write them, round trip."""
    import pandas as pd

    from landslide_core.experiments.runs import TILE_COUNTS_FILE, baseline_tiles_path, read_tile_counts
    from landslide_core.scoring import tile_table
    from landslide_core.tiles import TileRecord

    records = [TileRecord("longxi-uav", "UAV", "longxihe_UAV0001", Path("a.tif")),
               TileRecord("hokkaido", "SAT", "NA", Path("b.tif"))]  # a tile named NA must stay text
    run_tiles = tile_table(np.array([[2**40, 7, 0, 3], [0, 0, 16_384, 1]], np.int64), records, model="smp:Unet/x")
    baselines = pd.concat([tile_table(np.array([[5, 6, 7, 8], [1, 2, 3, 4]], np.int64), records, model=name)
                           for name in ("all landslide", "all background", "threshold rule")], ignore_index=True)
    cluster = checkout(tmp_path / "cluster", KEPT)
    split = cluster / f"results/demo/benchmarks/runs/{VERSION}/random-split"
    written = {cluster / RUN / TILE_COUNTS_FILE: run_tiles.to_csv(index=False).encode(),
               baseline_tiles_path(split / "split-seed0.csv", "UAV&SAT", 128): baselines.to_csv(index=False).encode()}
    for path, data in written.items():
        path.write_bytes(data)
    monkeypatch.chdir(cluster)
    packed = pack("demo", tmp_path / "results-demo.tar.gz")
    names = [path.relative_to(cluster).as_posix() for path in written]
    with tarfile.open(packed) as tar:
        listed = json.loads(tar.extractfile(MANIFEST).read())["files"]
    for name, data in zip(names, written.values(), strict=True):
        assert listed[name] == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}

    fresh = checkout(tmp_path / "laptop", [])
    monkeypatch.chdir(fresh)
    unpack(packed, sha256=archive_sha256(packed))
    for name, data in zip(names, written.values(), strict=True):
        assert (fresh / name).read_bytes() == data
    pd.testing.assert_frame_equal(read_tile_counts(fresh / RUN), run_tiles)

    tampered = rewrite(packed, tmp_path / "bad.tar.gz",
                       lambda n, d: [(n, d.replace(b",16384,", b",16385,") if n == names[0] else d)])
    monkeypatch.chdir(checkout(tmp_path / "other", []))
    with pytest.raises(ArchiveError, match="does not match the SHA-256") as error:
        unpack(tampered)
    assert names[0] in str(error.value)
