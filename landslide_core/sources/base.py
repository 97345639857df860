"""The tile-source contract: what every dataset declares and does, so the layers above need no dataset's constants.

A source is one dataset in its distributed layout: CAS today; Bijie, Sichuan,
HR-GLDD, Landslide4Sense and a generic image folder behind the same contract
later. It declares what its tiles are (bands, tile size, data type and value
range, how images are scaled and standardised, how masks encode landslide,
its sensor groups) and does four things: scan a root into
:class:`~landslide_core.tiles.TileRecord` s, check a tile, read a tile as the
standard ``(bands, h, w)`` image and ``(1, h, w)`` 0/1 mask, and download itself.
The torch dataset, ``validate`` and the splits take a source; nothing above this
layer imports a dataset's constants.

Sources differ in what a tile is: CAS tiles are 512×512 RGB uint8 with 0/1
masks and sixteen sub-datasets in two sensor groups; other datasets have other
sizes (``tile_size=None`` accepts any), more bands or floats (``read_tile``
standardises them), masks coded 0/255 or as colours (``read_tile`` decodes
them), and no sub-datasets (each record's ``subdataset`` is then the source's
name and :attr:`TileSource.groups` has one entry).
"""

from __future__ import annotations

import copy
import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import (
    ConfigError,
    NoDirectDownloadError,
    PathProblemError,
    TileError,
    UnknownSourceError,
    UnknownSubDatasetError,
)
from ..io.raster import pixel_reads, read_raster
from ..tiles import TileRecord
from .checks import check_image, check_mask, check_pair
from .stand_in_marker import is_stand_in, stand_in_label
from .standardize import STANDARD_SIZE, resize_pair

if TYPE_CHECKING:  # torch is imported where a batch is normalised: the CLI reads sources without it
    import torch

__all__ = [
    "ALL", "IMAGENET", "Normalisation", "Scan", "StandardisedSource", "TileSource", "available_sources", "get_source",
    "raise_first", "register_source",
]


@dataclass(frozen=True)
class Normalisation:
    """How raw image values become a network's input: ``((x / scale) - mean) / std`` per band.

    ``mean``/``std`` ``None`` keeps ``x / scale`` (values in [0, 1] for uint8 at scale 255). Training and
    evaluation normalise whole batches on the device (:meth:`batch`), so the data loader ships raw tiles (uint8
    RGB: a quarter of the bytes of float32); :meth:`apply` does the same to one tile in numpy.
    """

    scale: float = 255.0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def apply(self, image: np.ndarray) -> np.ndarray:
        """``image`` ``(bands, h, w)`` as float32, scaled and standardised.

        Args:
            image: Raw values as :meth:`TileSource.read_tile` returns them.

        Returns:
            A new float32 array of the same shape.
        """
        scaled = image.astype(np.float32) / np.float32(self.scale)
        if self.mean is not None and self.std is not None:
            shape = (len(self.mean), 1, 1)
            scaled = (scaled - np.asarray(self.mean, np.float32).reshape(shape)) / np.asarray(
                self.std, np.float32
            ).reshape(shape)
        return scaled

    def invert(self, values: np.ndarray) -> np.ndarray:
        """Network input back to ``raw / scale`` (in [0, 1] for uint8 at scale 255): :meth:`apply` undone.

        Args:
            values: ``(bands, h, w)`` or a batch ``(n, bands, h, w)`` as :meth:`apply` returns them.

        Returns:
            A new float32 array of the same shape.
        """
        values = values.astype(np.float32)
        if self.mean is None or self.std is None:
            return values
        shape = (len(self.mean), 1, 1)
        return values * np.asarray(self.std, np.float32).reshape(shape) + np.asarray(self.mean,
                                                                                      np.float32).reshape(shape)

    def batch(self, images: torch.Tensor) -> torch.Tensor:
        """A batch ``(n, bands, h, w)`` of raw images as network input: float32, on the batch's device.

        The same float32 operations in the same order as :meth:`apply` (uint8 → float32 is exact; division and
        subtraction by per-band tensors, not by scalars, which CUDA would turn into multiplications by a
        reciprocal), so a batch equals its tiles through :meth:`apply`, bit for bit on the CPU. The memory
        format (e.g. channels_last) is kept; ``images`` itself is left unchanged.

        Args:
            images: Raw values as :meth:`TileSource.read_tile` returns them, stacked (any dtype, any device).

        Returns:
            A new float32 tensor of the same shape and memory format.
        """
        import torch

        scale, mean, std = _band_constants(self, images.shape[1], images.device)
        values = images.to(torch.float32, copy=True).div_(scale)
        if mean is not None and std is not None:
            values.sub_(mean).div_(std)
        return values


@functools.lru_cache(maxsize=32)
def _band_constants(normalisation: Normalisation, bands: int,
                    device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """``(1, bands, 1, 1)`` float32 tensors of scale, mean and std on ``device``, made once per device.

    Made once because a tensor built from Python numbers on a GPU is a synchronous copy, which would stall the
    training loop at every batch; made outside inference mode so that training can use what evaluation made.
    """
    import torch

    with torch.inference_mode(False):
        scale = torch.full((1, bands, 1, 1), normalisation.scale, dtype=torch.float32, device=device)
        if normalisation.mean is None or normalisation.std is None:
            return scale, None, None
        mean, std = (torch.tensor(v, dtype=torch.float32).view(1, -1, 1, 1).to(device)
                     for v in (normalisation.mean, normalisation.std))
        return scale, mean, std


IMAGENET = Normalisation(255.0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
"""uint8 RGB scaled to [0, 1] and standardised with ImageNet statistics, as pretrained backbones expect."""


@dataclass
class Scan:
    """What a data root holds: usable tiles, problems found and folders ignored."""

    root: Path
    records: list[TileRecord] = field(default_factory=list)
    problems: list[PathProblemError] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)
    folders: list[object] = field(default_factory=list)
    """The source's own description of each folder it read (CAS: :class:`~.cas.layout.SubDatasetFolder`)."""


def raise_first(problems: Sequence[PathProblemError]) -> None:
    """Raise the first problem, noting how many more there are and how to list them.

    Args:
        problems: Problems found by a scan or a check, in the order found.

    Raises:
        PathProblemError: The first of ``problems``, when there is one.
    """
    if problems:
        error = problems[0]
        if len(problems) > 1:
            error.add_note(
                f"{len(problems) - 1} more problem(s) found; run `landslide-core validate` on the data root to "
                "list them all"
            )
        raise error


class TileSource(ABC):
    """One dataset in its distributed layout.

    Subclasses set the attributes and implement :meth:`scan` and :meth:`download`. The default
    :meth:`read_tile` reads image and mask as stored and checks them against the attributes; a source
    whose files need converting (other band order, floats, masks coded 0/255 or as colours) overrides it
    so that it returns the standard image and 0/1 mask.
    """

    name: str
    """Registry key, e.g. ``cas`` (``landslide-core ... --source cas``)."""
    title: str
    """The dataset's name as a reader knows it."""
    bands: tuple[str, ...]
    """Band names of the images :meth:`read_tile` returns, in order."""
    dtype: str
    """Data type of those images."""
    value_range: tuple[float, float]
    """Smallest and largest value an image pixel may take."""
    tile_size: int | None
    """Side of the square tiles in pixels; ``None`` accepts any size."""
    normalisation: Normalisation
    """How images become network input (see :class:`Normalisation`)."""
    mask_encoding: str
    """How masks are stored on disk, in words; :meth:`read_tile` returns them as 0/1."""
    groups: Mapping[str, tuple[str, ...]]
    """Named groups of tiles and the record groups each takes, e.g. ``{"UAV&SAT": ("UAV", "SAT")}``."""
    homepage: str = ""
    """Where the dataset is described and downloaded (named in layout errors)."""
    layout: str = ""
    """The folder layout :meth:`scan` expects, in words (named in layout errors)."""
    ignored_note: str = "not part of the source's layout"
    """Why :meth:`scan` lists a path in :attr:`Scan.ignored`, as ``validate`` prints it."""
    options: Mapping[str, object] = {}
    """The keyword arguments the source was made with (JSON types): with :attr:`name`, they rebuild it."""

    def spec(self) -> dict[str, object]:
        """``{"name": ..., **options}``: enough for :func:`get_source` to make the same source again."""
        return {"name": self.name, **self.options}

    @abstractmethod
    def scan(self, root: str | Path, subdatasets: Iterable[str] | None = None) -> Scan:
        """Find every tile under ``root`` and every layout problem, without reading pixels.

        Args:
            root: The data root in the source's layout.
            subdatasets: Only these sub-datasets (any spelling the source knows); ``None`` takes all.

        Raises:
            DatasetNotFoundError: ``root`` does not exist.
        """

    @abstractmethod
    def download(self, names: Iterable[str], root: str | Path, **options: object) -> list[Path]:
        """Fetch (part of) the dataset into ``root`` in the layout :meth:`scan` reads.

        Args:
            names: What to fetch (sub-dataset names); empty fetches everything.
            root: Where the data root is (created when missing).
            **options: The source's own download settings.

        Returns:
            The folders (or files) written, in the order asked for.
        """

    def list_tiles(self, root: str | Path, subdatasets: Iterable[str] | None = None) -> list[TileRecord]:
        """Every usable tile under ``root``; raises on the first layout problem.

        Raising (rather than skipping) means a half-unpacked dataset cannot quietly shrink a benchmark.

        Args:
            root: The data root.
            subdatasets: Only these sub-datasets; ``None`` takes all.

        Raises:
            PathProblemError: The first layout problem :meth:`scan` found.
        """
        found = self.scan(root, subdatasets)
        raise_first(found.problems)
        return found.records

    def subdataset_key(self, name: str) -> str:
        """The key records carry for a sub-dataset name; a source without sub-datasets has only its own name.

        Raises:
            UnknownSubDatasetError: ``name`` is not one of the source's sub-datasets.
        """
        if name != self.name:
            raise UnknownSubDatasetError(f"source '{self.name}' has no sub-datasets; got {name!r}, use '{self.name}'")
        return name

    def subdataset_order(self) -> list[str]:
        """Sub-dataset keys in the order tables list them (Table 2's order, for CAS)."""
        return [self.name]

    @property
    def widest_group(self) -> str:
        """The group that takes every record group (CAS: ``UAV&SAT``)."""
        return max(self.groups, key=lambda g: len(self.groups[g]))

    def check_group(self, group: str) -> str:
        """``group`` itself when it is one of :attr:`groups`.

        Raises:
            UnknownSubDatasetError: Otherwise; the message lists the valid groups.
        """
        if group not in self.groups:
            raise UnknownSubDatasetError(
                f"unknown group {group!r} of source '{self.name}'; valid groups: {', '.join(self.groups)}"
            )
        return group

    def select_group(self, records: Iterable[TileRecord], group: str) -> list[TileRecord]:
        """The records of one of :attr:`groups`."""
        members = self.groups[self.check_group(group)]
        return [r for r in records if r.group in members]

    def select_subdatasets(self, records: Iterable[TileRecord], names: Iterable[str]) -> list[TileRecord]:
        """The records of the named sub-datasets (any spelling the source knows)."""
        keys = {self.subdataset_key(n) for n in names}
        return [r for r in records if r.subdataset in keys]

    def is_synthetic(self, root: str | Path) -> bool:
        """True where ``root`` holds generated stand-in data rather than the real dataset."""
        return False

    def data_label(self, root: str | Path) -> str:
        """What a page or record calls the data under ``root`` (e.g. ``CAS data``, ``demo data, synthetic``)."""
        return f"{self.title} data"

    def with_tile_size(self, tile_size: int | None) -> TileSource:
        """A copy of this source that expects tiles of ``tile_size`` pixels (``None``: any size)."""
        sized = copy.copy(self)
        sized.tile_size = tile_size
        return sized

    def _image_problems(self, path: Path, image: np.ndarray) -> list[TileError]:
        return check_image(path, image, bands=len(self.bands), dtype=self.dtype, tile_size=self.tile_size)

    def check_tile(self, record: TileRecord, image: np.ndarray, mask: np.ndarray) -> list[TileError]:
        """Every problem of a tile whose image and mask have been read (band count, type, size, mask values)."""
        assert record.mask is not None
        return [
            *self._image_problems(record.image, image),
            *check_mask(record.mask, mask, tile_size=self.tile_size),
            *check_pair(record, image, mask),
        ]

    def tile_problems(self, record: TileRecord) -> list[PathProblemError]:
        """Read a tile and return every problem found, unreadable files included; never raises for a bad tile.

        Problems come in the order image (unreadable, or its checks), mask (unreadable, or its checks), pair.
        Files are read as :meth:`read_tile` reads them, so an unreadable one gets the same message in both.
        """
        assert record.mask is not None
        problems: list[PathProblemError]
        with pixel_reads():
            try:
                image = read_raster(record.image)
            except TileError as error:
                problems, image = [error], None
            else:
                problems = list(self._image_problems(record.image, image))
            try:
                mask = read_raster(record.mask)
            except TileError as error:
                return [*problems, error]
        problems.extend(check_mask(record.mask, mask, tile_size=self.tile_size))
        if image is not None:
            problems.extend(check_pair(record, image, mask))
        return problems

    def read_tile(self, record: TileRecord) -> tuple[np.ndarray, np.ndarray]:
        """A tile's image ``(bands, h, w)`` and 0/1 mask ``(1, h, w)``, checked.

        Each file is opened once and read whole (with :func:`~landslide_core.io.raster.pixel_reads`' GDAL
        settings); the checks look at the arrays only, cheaply enough to run on every tile of every epoch.

        Raises:
            TileError: The first problem of the tile (the same one ``validate`` prints).
        """
        if record.mask is None:
            raise TileError(record.image, "tile record has no mask", "pair the image with its mask before reading")
        with pixel_reads():
            image, mask = read_raster(record.image), read_raster(record.mask)
        problems = self.check_tile(record, image, mask)
        if problems:
            raise problems[0]
        return image, mask


ALL = "all"
"""The one group (and record group) of a source without sensor groups."""


class StandardisedSource(TileSource):
    """A dataset whose files are not standard tiles: :meth:`load` reads them, :meth:`read_tile` standardises.

    Every tile comes out as a :data:`~.standardize.STANDARD_SIZE` RGB uint8 image with a 0/1 mask, our reading of
    the Table 7 standardisation (see :mod:`.standardize`), so one model reads them all. There is one
    group, :data:`ALL`. There is no direct download unless a subclass provides one.
    """

    bands = ("red", "green", "blue")
    dtype = "uint8"
    value_range = (0.0, 255.0)
    tile_size: int | None = STANDARD_SIZE
    normalisation = IMAGENET
    groups: Mapping[str, tuple[str, ...]] = {ALL: (ALL,)}

    @abstractmethod
    def load(self, record: TileRecord) -> tuple[np.ndarray, np.ndarray]:
        """A tile as stored, converted but not resized: ``(3, h, w)`` uint8 RGB and ``(1, h, w)`` 0/1 uint8 mask.

        Raises:
            TileError: The files cannot be read or converted; the message names the file and the fix.
        """

    def read_tile(self, record: TileRecord) -> tuple[np.ndarray, np.ndarray]:
        """The tile from :meth:`load`, resized to :attr:`tile_size` where it is another size, and checked.

        Raises:
            TileError: The first problem of the tile.
        """
        image, mask = self.load(record)
        problems = check_pair(record, image, mask)
        if not problems and self.tile_size is not None:
            image, mask = resize_pair(image, mask, self.tile_size)
        problems = problems or self.check_tile(record, image, mask)
        if problems:
            raise problems[0]
        return image, mask

    def is_synthetic(self, root: str | Path) -> bool:
        """True for a root (or a folder directly inside one) that the source's ``write_stand_in`` wrote."""
        return is_stand_in(root)

    def data_label(self, root: str | Path) -> str:
        """``<title> stand-in, synthetic`` for a stand-in root, else ``<title> data``."""
        return stand_in_label(self.title) if is_stand_in(root) else super().data_label(root)

    def record_source(self, root: str | Path) -> str:
        """What records under ``root`` say they come from: the title, or its stand-in label."""
        return stand_in_label(self.title) if is_stand_in(root) else self.title

    def tile_problems(self, record: TileRecord) -> list[PathProblemError]:
        """The first problem :meth:`read_tile` meets (conversion stops there), or none."""
        try:
            self.read_tile(record)
        except TileError as error:
            return [error]
        return []

    def download(self, names: Iterable[str], root: str | Path, **options: object) -> list[Path]:
        """No direct download: the error says where to get the data and how to lay it out.

        Raises:
            NoDirectDownloadError: Always.
        """
        raise NoDirectDownloadError(
            f"{self.title} has no direct download that landslide-core can verify; download it from {self.homepage} "
            f"and unpack it as: {self.layout}"
        )


SourceFactory = Callable[..., TileSource]
_SOURCES: dict[str, SourceFactory] = {}


def register_source(name: str, factory: SourceFactory) -> None:
    """Make a source available to :func:`get_source` under ``name``; ``factory(**options)`` makes it."""
    _SOURCES[name] = factory


def available_sources() -> list[str]:
    """Names :func:`get_source` accepts."""
    return sorted(_SOURCES)


def get_source(name: str | TileSource | Mapping[str, object], **options: object) -> TileSource:
    """The source registered as ``name``, made with ``options`` (a source is returned as it is).

    Args:
        name: A registered name, a :meth:`TileSource.spec` (``{"name": ..., **options}``) or a source.
        **options: The source's own settings (e.g. the folder source's ``masks`` and ``mask_colour``).

    Raises:
        UnknownSourceError: No source has that name; the message lists the valid ones.
        ConfigError: The source does not take one of ``options``.
    """
    if isinstance(name, TileSource):
        return name
    if isinstance(name, Mapping):
        spec = dict(name)
        name = str(spec.pop("name"))
        options = {**spec, **options}
    try:
        factory = _SOURCES[name]
    except KeyError:
        raise UnknownSourceError(f"unknown tile source {name!r}; valid sources: {', '.join(available_sources())}") from None
    try:
        return factory(**options)
    except TypeError as error:
        raise ConfigError(f"tile source {name!r} does not take these options {sorted(options)}: {error}") from None

