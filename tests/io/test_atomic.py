"""One atomic-write mechanism: a file is complete or absent, never half written, whoever writes it."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from landslide_core.io.atomic import atomic_path, write_text_atomic
from landslide_core.io.raster import read_raster, write_raster


def test_an_atomic_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    target = write_text_atomic(tmp_path / "scores.csv", "old\n")

    with pytest.raises(TypeError):
        write_text_atomic(target, object())  # type: ignore[arg-type]
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["scores.csv"]


def test_atomic_path_renames_only_a_finished_body_and_creates_the_folder(tmp_path):
    target = tmp_path / "new" / "file.bin"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert not target.exists() and list(target.parent.iterdir()) == []
    with atomic_path(target, durable=True) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and [p.name for p in target.parent.iterdir()] == ["file.bin"]


def test_a_raster_write_that_fails_leaves_the_old_tile(tmp_path, monkeypatch):
    tile = write_raster(tmp_path / "img" / "t.tif", np.full((3, 8, 8), 7, np.uint8))

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(rasterio.io.DatasetWriter, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_raster(tile, np.zeros((3, 8, 8), np.uint8))
    monkeypatch.undo()
    assert (read_raster(tile) == 7).all() and [p.name for p in tile.parent.iterdir()] == ["t.tif"]
