"""Files on disk: rasters through rasterio, the one atomic-write mechanism every writer uses, and lock files.

The lock files (:func:`exclusive_lock`) keep a second process off work in progress.
"""

from .atomic import atomic_path, write_text_atomic
from .checksums import file_sha256
from .lock import exclusive_lock, lock_holder
from .raster import RasterInfo, open_raster, read_info, read_raster, write_raster

__all__ = ["RasterInfo", "atomic_path", "exclusive_lock", "file_sha256", "lock_holder", "open_raster", "read_info",
           "read_raster", "write_raster", "write_text_atomic"]
