"""`results prune`: run folders of other code versions, and runs no page read, are listed and removed; others stay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from landslide_core.book.prune import prunable, remove, write_reads
from landslide_core.cli import main
from landslide_core.io.lock import exclusive_lock
from landslide_core.provenance import package_digest


def run_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}\n")
    (path / "history.csv").write_text("epoch\n1\n")
    return path


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A checkout whose demo results hold runs of this code version (read, unread, locked) and of an older one."""
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    monkeypatch.chdir(tmp_path)
    base = tmp_path / "results" / "demo"
    current = base / "benchmarks" / "runs" / package_digest()[:12] / "random-split"
    folders = {
        "read": run_folder(current / "unet_SAT_seed0-aaaaaaaaaaaa"),
        "unread": run_folder(current / "unet_SAT_seed0-bbbbbbbbbbbb"),
        "locked": run_folder(current / "unet_SAT_seed0-cccccccccccc"),
        "kept": run_folder(current / "fcn_SAT_seed0-dddddddddddd"),
        "old": base / "validation" / "runs" / "0123456789ab",
        "other read": run_folder(base / "validation" / "runs" / package_digest()[:12] / "filtered_x-eeeeeeeeeeee"),
    }
    run_folder(folders["old"] / "filtered_x-ffffffffffff")
    (folders["old"] / "split-filtered-seed0.csv").write_text("split\n")
    write_reads(base / "benchmarks", [folders["read"]])
    write_reads(base / "validation", [folders["other read"]])
    return folders


def test_only_what_no_page_reads_is_listed_and_removed(results):
    with exclusive_lock(results["locked"] / ".lock", "training"):
        found = prunable("demo", kept=[results["kept"]])
        assert [f.path for f in found] == [results["unread"], results["old"]]
    assert "no page of this checkout read it" in found[0].reason and "code version 0123456789ab" in found[1].reason
    assert found[1].bytes == sum(f.stat().st_size for f in results["old"].rglob("*") if f.is_file()) > 0
    remove(found)
    assert not results["unread"].exists() and not results["old"].exists()
    assert all(results[k].is_dir() for k in ("read", "locked", "kept", "other read"))


def test_reads_of_another_code_version_keep_nothing(results):
    reads = results["read"].parents[4] / "benchmarks" / "runs_read.json"
    reads.write_text(json.dumps({"code_version": "0" * 64, "folders": [str(results["read"])]}))
    assert results["read"] in [f.path for f in prunable("demo", kept=[results["kept"]])]


def test_the_command_lists_then_removes_with_yes(results, capsys):
    assert main(["results", "prune", "--profile", "demo"]) == 0
    out, err = capsys.readouterr()
    assert "lists no benchmarks section" in err  # this checkout has no grid to plan: the note says so
    assert "lists no new_event section" in err  # nor new-event runs
    assert "results/demo/benchmarks/runs/" in out and "unet_SAT_seed0-bbbbbbbbbbbb" in out
    assert "--yes" in out and results["unread"].is_dir()
    assert main(["results", "prune", "--profile", "demo", "--yes"]) == 0
    assert "removed 4 folder(s)" in capsys.readouterr().out  # unread, locked (no holder now), kept (no grid), old
    assert results["read"].is_dir() and results["other read"].is_dir() and not results["old"].exists()
