"""Shared fixtures: the real CAS tiles (the shipped sample; the originals, skipped where absent) and tiny tile roots."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from landslide_core.io.lock import exclusive_lock
from landslide_core.io.raster import write_raster
from landslide_core.sources.cas.demo import ensure_demo_data

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LANDSLIDE_CORE_SHARED", REPO.parent / "shared"))
SHARED_DATA = SHARED / "data"
ORIGINALS = SHARED_DATA / "cas-originals"
SAMPLE = REPO / "data" / "sample"
"""The real sample shipped in the repository: 24 CAS Hokkaido Iburi-Tobu pairs (CC BY 4.0), present in every clone."""
HOKKAIDO = SAMPLE / "Hokkaido Iburi-Tobu"
SHARED_SAMPLE = SHARED_DATA / "cas-sample"
"""The uncompressed copy the shipped sample was written from (beside the team's checkout only)."""
PAPER = SHARED / "paper" / "cas-landslide-paper.md"

requires_originals = pytest.mark.skipif(
    not ORIGINALS.is_dir(),
    reason=f"the 29 original CAS tiles were not found at {ORIGINALS}: their licences keep them out of this repository "
    "(they live beside the team's checkout; set LANDSLIDE_CORE_SHARED to the folder holding data/cas-originals)",
)
requires_shared_sample = pytest.mark.skipif(
    not SHARED_SAMPLE.is_dir(),
    reason=f"the uncompressed copy of the sample was not found at {SHARED_SAMPLE} (beside the team's checkout only; "
    "set LANDSLIDE_CORE_SHARED to the folder holding data/cas-sample)",
)


def write_pair(
    root: Path, folder: str, name: str, image: np.ndarray, mask: np.ndarray, suffix: str = ".tif"
) -> tuple[Path, Path]:
    """Write an image/mask pair (and its label rendering) in the CAS layout."""
    img = write_raster(root / folder / "img" / f"{name}{suffix}", image)
    msk = write_raster(root / folder / "mask" / f"{name}{suffix}", mask)
    label = np.where(mask[np.newaxis] > 0, 0, 255).repeat(3, axis=0).astype(np.uint8)
    write_raster(root / folder / "label" / f"{name}{suffix}", label)
    return img, msk


def random_pair(rng: np.random.Generator, size: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """An RGB image whose red channel encodes its mask (red > 127 ⇔ landslide), for alignment checks."""
    mask = (rng.random((size // 16, size // 16)) < 0.3).repeat(16, 0).repeat(16, 1).astype(np.uint8)
    image = rng.integers(0, 128, (3, size, size), dtype=np.uint8)
    image[0] += 128 * mask
    return image, mask


@pytest.fixture
def make_root(tmp_path: Path) -> Callable[..., Path]:
    """Factory: a data root with ``n`` random tiles in each named sub-dataset folder."""

    def make(folders: dict[str, int], *, seed: int = 0, size: int = 512, suffix: str = ".tif") -> Path:
        root = tmp_path / "root"
        rng = np.random.default_rng(seed)
        for folder, n in folders.items():
            for i in range(n):
                write_pair(root, folder, f"tile{i:04d}", *random_pair(rng, size), suffix=suffix)
        return root

    return make


@pytest.fixture
def hokkaido_copy(tmp_path: Path) -> Path:
    """A writable copy of the 24 real Hokkaido Iburi-Tobu pairs, as a data root."""
    if not HOKKAIDO.is_dir():
        pytest.skip(f"real CAS sample not found at {HOKKAIDO}")
    root = tmp_path / "cas"
    shutil.copytree(HOKKAIDO, root / HOKKAIDO.name)
    return root


@pytest.fixture(scope="session")
def paper_text() -> str:
    """The paper's text (markdown with tab-separated tables), skipped where absent."""
    if not PAPER.is_file():
        pytest.skip(f"paper text not found at {PAPER}")
    return PAPER.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def unet_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `landslide-core train` writes, for a U-Net that has not trained (weights seeded)."""
    import torch

    from landslide_core.models import build_model
    from landslide_core.train.config import TrainConfig

    torch.manual_seed(0)
    config = TrainConfig(model="unet", pretrained=False, group="SAT")
    model = build_model("unet", pretrained=False)
    path = tmp_path_factory.mktemp("run") / "best.pt"
    torch.save({"model": model.state_dict(), "config": config.to_dict(), "epoch": 0}, path)
    return path


@pytest.fixture(scope="session")
def small_scene(tmp_path_factory: pytest.TempPathFactory):
    """The building page's synthetic Hokkaido scene, drawn at 384 px (a DemoScene)."""
    from landslide_core.sources.cas.demo_scenes import write_demo_scenes

    return write_demo_scenes(tmp_path_factory.mktemp("scenes"), subdatasets=("hokkaido",), size=384,
                             progress=False)[0]


def working_tree_copy(target: Path, demo: Path | None = None) -> Path:
    """A copy of this working tree's files, tracked and not ignored (what a fresh clone of it holds), in ``target``.

    ``demo``: demo data (the :func:`demo_data` fixture) linked in as the copy's ``data/demo``, which a build would
    otherwise generate first (the same files: the generator is seeded).
    """
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    if demo is not None:
        shutil.copytree(demo, target / "data" / "demo", copy_function=os.link)
    return target


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The book's demo data (its default settings), generated once per test run: the pytest-xdist workers share it.

    Read only: tests that change demo data write their own.
    """
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if worker_id != "master" else base) / "demo-data"  # xdist: the run's folder, shared
    with exclusive_lock(root.parent / "demo-data.lock", "writing the tests' demo data", wait=True):
        return ensure_demo_data(root, progress=False)
