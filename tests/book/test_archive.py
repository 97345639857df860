"""Results archives: packed without checkpoints, installed only when every file matches its manifest."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from landslide_core.book.archive import MANIFEST, archive_sha256, pack, packed_files, unpack
from landslide_core.book.fingerprint import package_digest
from landslide_core.errors import ArchiveError

VERSION = package_digest()[:12]
RUN = f"results/demo/benchmarks/runs/{VERSION}/random-split/unet_SAT_seed0"
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
    (lambda n, d: [(n, d + b"tampered" if n == KEPT[2] else d)], KEPT[2], "does not match the SHA-256"),
    (lambda n, d: [] if n == KEPT[3] else [(n, d)], KEPT[3], "listed in the manifest but not in the archive"),
    (lambda n, d: [(n, d), *([("results/demo/extra.csv", b"x")] if n == MANIFEST else [])], "results/demo/extra.csv",
     "not in its manifest"),
    (lambda n, d: [(n, d), *([("results/demo/../../evil.sh", b"x")] if n == MANIFEST else [])], "evil.sh",
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
