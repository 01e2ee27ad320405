"""The ``mask`` band: which pixels hold backscatter worth analysing."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import xarray as xr

from sar_helpers.checks import require_bands, require_dtype, require_not_empty
from sar_helpers.products import MASK_CLASSES, VALID_CLASSES


@lru_cache
def class_values(classes: tuple[str, ...]) -> tuple[int, ...]:
    """The mask DNs that name ``classes``; a ValueError names an unknown class."""
    unknown = [c for c in classes if c not in MASK_CLASSES]
    if unknown:
        raise ValueError(
            f"Unknown mask class {', '.join(map(repr, unknown))}; the classes are {', '.join(MASK_CLASSES)}."
        )
    return tuple(MASK_CLASSES[c] for c in classes)


def is_class(mask: np.ndarray, values: tuple[int, ...]) -> np.ndarray:
    """True where ``mask`` holds one of ``values``: a comparison per class, the cheapest
    test for the few classes there are (a table look-up costs ten times one comparison)."""
    out = np.zeros(mask.shape, dtype=bool)
    for value in values:
        out |= mask == value
    return out


def in_classes(mask: xr.DataArray, classes: Sequence[str]) -> xr.DataArray:
    """True where the mask band holds one of ``classes``; lazy on dask."""
    require_dtype(mask, "uint8", "Load the mask band without resampling other than nearest.")
    values = class_values(tuple(classes))
    return xr.apply_ufunc(is_class, mask, kwargs={"values": values}, dask="parallelized", output_dtypes=[bool])


def valid_mask(ds: xr.Dataset, classes: Sequence[str] = VALID_CLASSES) -> xr.DataArray:
    """Pixels whose ``mask`` class is one of ``classes``.

    Parameters
    ----------
    ds : xarray.Dataset
        A load with the ``mask`` band.
    classes : sequence of str, default ("land", "water")
        Names from the product's flags definition: no_data, water, lay_over, shadowing, land.

    Returns
    -------
    xarray.DataArray
        Boolean, True where the class is kept: lay-over, shadowing and no data are False by
        default. Lazy if the load is.

    Raises
    ------
    ValueError
        No ``mask`` band, or a class name the product does not define.
    """
    require_not_empty(ds)
    require_bands(ds, ["mask"], "valid_mask")
    valid = in_classes(ds["mask"], classes).rename("valid")
    valid.attrs = {"description": f"mask class in {', '.join(classes)}"}
    return valid
