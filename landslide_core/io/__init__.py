"""Files on disk: raster reading and writing through rasterio, and the one atomic-write mechanism every writer uses."""

from .atomic import atomic_path, write_text_atomic
from .checksums import file_sha256
from .raster import RasterInfo, open_raster, read_info, read_raster, write_raster

__all__ = ["RasterInfo", "atomic_path", "file_sha256", "open_raster", "read_info", "read_raster", "write_raster", "write_text_atomic"]
