"""Writing Cloud-Optimized GeoTIFFs with GDAL's COG driver (through rasterio)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
import xarray as xr
from affine import Affine
from rasterio.io import MemoryFile


def write_array(
    path: Path | str,
    values: np.ndarray,
    transform: Affine,
    crs,
    nodata,
    description: str = "",
    overview_resampling: str = "AVERAGE",
) -> Path:
    """One band as a COG: DEFLATE with a predictor, 512 x 512 blocks, overviews."""
    height, width = values.shape
    profile = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": 1,
        "dtype": values.dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
    }
    predictor = "3" if values.dtype.kind == "f" else "2"
    with MemoryFile() as memory:
        with memory.open(**profile) as staging:
            staging.write(values, 1)
            if description:
                staging.set_band_description(1, description)
        with memory.open() as staging:
            rasterio.shutil.copy(
                staging,
                str(path),
                driver="COG",
                COMPRESS="DEFLATE",
                PREDICTOR=predictor,
                BLOCKSIZE="512",
                OVERVIEW_RESAMPLING=overview_resampling,
                NUM_THREADS="1",
            )
    return Path(path)


def write_cog(da: xr.DataArray, path: Path | str) -> Path:
    """Write a 2-D map as a Cloud-Optimized GeoTIFF on its own grid.

    Its overviews (what a GIS shows zoomed out) take the nearest pixel for values in dB and for
    integers (classes, dates), whose average would mean nothing, and the average for other values
    (power, amplitude).

    Parameters
    ----------
    da : xarray.DataArray
        2-D, with a CRS (computed if lazy). NaN is the no-data value of floats.
    path : str or pathlib.Path
        The file to write.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    if da.ndim != 2:
        raise ValueError(f"write_cog writes one 2-D band; this array has dimensions {da.dims}. Select one time step.")
    geobox = da.odc.geobox
    values = np.asarray(da.values)
    nodata = np.nan if values.dtype.kind == "f" else 0
    in_db = str(da.attrs.get("units", "")).lower() in ("db", "decibel")
    resampling = "AVERAGE" if values.dtype.kind == "f" and not in_db else "NEAREST"
    return write_array(path, values, geobox.affine, str(geobox.crs), nodata, str(da.name or ""), resampling)
