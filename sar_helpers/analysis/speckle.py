"""Speckle: the grain every radar image has, and how many looks a mosaic averaged.

A radar pixel adds the echoes of many scatterers with random phases, so even a uniform
surface gives pixels whose intensity scatters around its mean: for an image averaged over L
independent looks, intensity follows a gamma distribution with mean μ and standard deviation
μ/√L. Averaging in power over pixels or dates raises L; a threshold on single pixels counts
speckle along with the surface.
"""

from __future__ import annotations

from functools import partial

import dask.array as dsa
import numpy as np
import xarray as xr

from sar_helpers.checks import require_not_empty

from .kernels import moments
from .windows import speckle_filter


def equivalent_looks(power: xr.DataArray) -> xr.DataArray:
    """The equivalent number of looks (ENL = mean² / variance of the intensity) per time step.

    Meaningful only over a uniform surface (one kind of ground, no edges): there it measures the
    speckle; anywhere else texture lowers it.

    Parameters
    ----------
    power : xarray.DataArray
        Linear gamma-nought (:func:`to_power`) of a uniform area; NaN pixels are left out.

    Returns
    -------
    xarray.DataArray
        The ENL (unitless) per time step.

    Raises
    ------
    ValueError
        Values in dB: give linear power.
    """
    require_not_empty(power)
    if str(power.attrs.get("units", "1")).lower() in ("db", "decibel"):
        raise ValueError("equivalent_looks takes linear power (sar.to_power), not dB.")
    spatial = [d for d in power.dims if d != "time"]
    mean = power.mean(spatial)
    out = (mean * mean / power.var(spatial)).rename("equivalent_looks")
    out.attrs = {"units": "1", "long_name": "equivalent number of looks (mean squared over variance)"}
    return out


def estimated_looks(power: xr.DataArray, size: int = 7) -> float:
    """The equivalent number of looks of one image, from its uniform blocks.

    The median, over blocks of ``size`` × ``size`` pixels with no masked pixel, of mean² / variance:
    texture and edges lower a block's value, and the median holds where most blocks are uniform
    ground. Reads the image (computes a lazy one).

    Parameters
    ----------
    power : xarray.DataArray
        One image (2-D) of linear power.
    size : int, default 7
        The block's side in pixels.

    Returns
    -------
    float
        The ENL (unitless).

    Raises
    ------
    ValueError
        Values in dB (give power), or no block free of masked pixels (give ``looks=``).
    """
    if str(power.attrs.get("units", "1")).lower() in ("db", "decibel"):
        raise ValueError("estimated_looks takes linear power (sar.to_power), not dB.")
    y, x = [d for d in power.dims if d != "time"][-2:]
    blocks = power.coarsen({y: size, x: size}, boundary="trim")
    with np.errstate(invalid="ignore", divide="ignore"):
        enl = (blocks.mean() ** 2 / blocks.var()).values.ravel()
    enl = enl[np.isfinite(enl)]
    if enl.size == 0:
        raise ValueError(
            f"No {size} x {size} block is free of masked pixels, so the looks cannot be measured: give looks=."
        )
    return round(float(np.median(enl)), 2)


#: The spatial dimensions a filter runs over, as datacube names them on geographic and projected grids.
_SPATIAL = (("latitude", "longitude"), ("y", "x"))
METHODS = ("lee", "enhanced")


def _spatial_dims(data: xr.DataArray) -> tuple[str, str]:
    for dims in _SPATIAL:
        if set(dims) <= set(data.dims):
            return dims
    raise ValueError(
        f"lee_filter needs an image with latitude/longitude (or y/x) dimensions; this one has {', '.join(map(str, data.dims))}."
    )


def check_filter_input(data: xr.DataArray, size: int, method: str, looks: float | None) -> None:
    require_not_empty(data)
    if not isinstance(data, xr.DataArray):
        raise TypeError(f"lee_filter takes one band (a DataArray such as ds.hv_db), not a {type(data).__name__}.")
    if data.dtype.kind != "f":
        raise ValueError(
            f"lee_filter takes calibrated backscatter (sar.to_db or sar.to_power), not {data.dtype} DNs: "
            "a DN of 0 is no data, which a filter would average in."
        )
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 3 or size % 2 == 0:
        raise ValueError(
            f"size must be an odd whole number of pixels, 3 or more (a window centred on its pixel); got {size!r}."
        )
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}.")
    if method == "enhanced" and (looks is None or not np.isfinite(looks) or looks <= 0):
        raise ValueError(
            "The enhanced Lee filter needs looks=, the equivalent number of looks of the data (positive): "
            "measure it with sar.equivalent_looks over a uniform area (about 4 on the test cube)."
        )
    if method == "lee" and looks is not None:
        raise ValueError("looks= is a parameter of method='enhanced'; the Lee filter takes its noise from the image.")
    if isinstance(data.data, dsa.Array):
        dims = _spatial_dims(data)
        for dim in dims:
            chunk = data.data.chunks[data.dims.index(dim)][0]
            if size > chunk and chunk < data.sizes[dim]:
                raise ValueError(
                    f"The {size}-pixel window is larger than the data's {chunk}-pixel chunks along {dim}: "
                    f"rechunk to at least {size} pixels (e.g. data.chunk({{'{dim}': 1024}}))."
                )


def _filter_block(
    block: np.ndarray, noise: np.ndarray | None, *, size: int, looks, in_db: bool, padded: bool
) -> np.ndarray:
    """Filter every image of one block (``padded``: carrying ``size // 2`` pixels of overlap on
    each spatial side, trimmed after; otherwise a whole image, its edges mirrored)."""
    images = block.reshape(-1, *block.shape[-2:])
    noises = np.zeros(len(images)) if noise is None else np.broadcast_to(noise, block.shape[:-2] + (1, 1)).ravel()
    out = [speckle_filter(image, size, float(n), looks, in_db, padded) for image, n in zip(images, noises)]
    return np.stack(out).reshape(*block.shape[:-2], *out[0].shape)


def overlapped(array: dsa.Array, depth: int) -> tuple[dsa.Array, tuple]:
    """``array`` with ``depth`` pixels of each neighbour (mirrored at the image's edges) around every
    chunk of its last two dimensions, and the chunks it had before (a chunk narrower than ``depth``
    merged into its neighbour first)."""
    axes = (array.ndim - 2, array.ndim - 1)
    array = array.rechunk({axis: dsa.overlap.ensure_minimum_chunksize(depth, array.chunks[axis]) for axis in axes})
    return dsa.overlap.overlap(array, depth=dict.fromkeys(axes, depth), boundary="reflect"), array.chunks


def _block_moments(block: np.ndarray) -> np.ndarray:
    return moments(block)[..., None, :]


def _image_variance(array):
    """Each image's variance over its finite pixels (float64, shape ``(..., 1, 1)``), from one pass
    of count, sum and sum of squares per chunk: lazy if ``array`` is."""
    if isinstance(array, dsa.Array):
        per_chunk = dsa.map_blocks(
            _block_moments,
            array,
            chunks=(*array.chunks[:-2], (1,) * len(array.chunks[-2]), (3,) * len(array.chunks[-1])),
            dtype=np.float64,
        )
        sums = per_chunk.reshape(*array.shape[:-2], len(array.chunks[-2]), len(array.chunks[-1]), 3).sum(axis=(-3, -2))
    else:
        sums = moments(np.asarray(array))
    n = sums[..., 0]
    mean = sums[..., 1] / n
    return (sums[..., 2] / n - mean * mean)[..., None, None]


def lee_filter(data: xr.DataArray, size: int = 7, method: str = "lee", looks: float | None = None) -> xr.DataArray:
    """Speckle-filter every time step of one band with the Lee or the enhanced Lee filter.

    - ``method="lee"``: as Digital Earth Australia's ``dea_tools.sar.lee_filter`` computes it: local
      mean m and variance v in a ``size`` × ``size`` window, the noise term the variance of the
      whole image, output m + v / (v + noise) · (x − m); on NaN-free input the same numbers
      (relative 1e-5). Where ours differs: masked pixels (NaN) stay NaN and are left out of their
      neighbours' windows; the noise term is the variance of each time step's whole image, not of
      each chunk; chunks are filtered with overlap, not cut at their edges. Image edges are
      mirrored, as scipy's default is. On dB values the filter averages logarithms.
    - ``method="enhanced"``: the enhanced Lee filter (Lopes et al. 1990) that biota uses:
      Ci = std / mean in the window, Cu = √(1/N), Cmax = √(1 + 2/N), damping 1; the window mean where
      Ci ≤ Cu, the pixel where Ci ≥ Cmax, an exponential blend between. It always works on
      intensity: dB input is filtered as power and returned in dB. Masked pixels are left out of
      windows.

    Parameters
    ----------
    data : xarray.DataArray
        Calibrated gamma-nought in dB or linear power (:func:`to_db`, :func:`to_power`), NaN where
        masked, with ``time``.
    size : int, default 7
        The window's side in pixels (odd).
    method : {"lee", "enhanced"}, default "lee"
        Which filter.
    looks : float, optional
        The equivalent number of looks N (:func:`equivalent_looks`); needed by "enhanced".

    Returns
    -------
    xarray.DataArray
        float32 in ``data``'s units; lazy if ``data`` is (each chunk filtered with the ``size // 2``
        pixels of overlap its window needs, so the result does not depend on the chunking beyond
        float rounding).

    Raises
    ------
    TypeError
        A Dataset instead of one band.
    ValueError
        DNs instead of calibrated values, a ``size`` that is not odd and 3 or more, an unknown
        ``method``, "enhanced" without ``looks`` (or "lee" with it), or a window larger than the
        chunks.
    """
    check_filter_input(data, size, method, looks)
    y, x = _spatial_dims(data)
    order = data.dims
    image = data.transpose(..., y, x)
    depth = size // 2
    in_db = str(data.attrs.get("units", "")).lower() in ("db", "decibel")
    task = partial(_filter_block, size=size, looks=looks if method == "enhanced" else None, in_db=in_db)
    array = image.data
    noise = _image_variance(array) if method == "lee" else None
    if not isinstance(array, dsa.Array):
        filtered = task(np.asarray(array), noise, padded=False)
    elif all(len(c) == 1 for c in array.chunks[-2:]):  # whole images in each chunk: the kernel mirrors the edges
        args = [array] if noise is None else [array, noise]
        filtered = dsa.map_blocks(
            lambda block, *rest: task(block, rest[0] if rest else None, padded=False),
            *args,
            dtype=np.float32,
        )
    else:
        padded, chunks = overlapped(array, depth)
        args = [padded] if noise is None else [padded, noise]
        filtered = dsa.map_blocks(
            lambda block, *rest: task(block, rest[0] if rest else None, padded=True),
            *args,
            chunks=chunks,
            dtype=np.float32,
        )
    out = image.copy(data=filtered).transpose(*order)
    name = "Lee" if method == "lee" else f"enhanced Lee ({looks:g} looks)"
    out.attrs = {**data.attrs, "speckle_filter": f"{name}, {size} x {size} window"}
    return out.rename(f"{data.name}_filtered" if data.name else None)
