"""The ``mask`` band: which pixels hold backscatter worth analysing."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import xarray as xr

from .checks import require_bands, require_dtype, require_not_empty
from .products import MASK_CLASSES, VALID_CLASSES
from .tables import lookup


@lru_cache
def _class_table(classes: tuple[str, ...]) -> np.ndarray:
    unknown = [c for c in classes if c not in MASK_CLASSES]
    if unknown:
        raise ValueError(
            f"Unknown mask class {', '.join(map(repr, unknown))}; the classes are {', '.join(MASK_CLASSES)}."
        )
    table = np.zeros(256, dtype=bool)
    table[[MASK_CLASSES[c] for c in classes]] = True
    return table


def in_classes(mask: xr.DataArray, classes: Sequence[str], invert: bool = False) -> xr.DataArray:
    """True where the mask band holds one of ``classes`` (False with ``invert``).

    One table look-up per pixel; lazy on dask.
    """
    require_dtype(mask, "uint8", "Load the mask band without resampling other than nearest.")
    table = _class_table(tuple(classes))
    if invert:
        table = ~table
    return xr.apply_ufunc(lookup, mask, kwargs={"table": table}, dask="parallelized", output_dtypes=[bool])


def valid_mask(ds: xr.Dataset, classes: Sequence[str] = VALID_CLASSES) -> xr.DataArray:
    """Pixels whose ``mask`` class is one of ``classes`` (default land and water).

    Lay-over, shadowing and no-data pixels are False. ``classes`` are names from
    the product's flags definition: no_data, water, lay_over, shadowing, land.
    """
    require_not_empty(ds)
    require_bands(ds, ["mask"], "valid_mask")
    valid = in_classes(ds["mask"], classes).rename("valid")
    valid.attrs = {"description": f"mask class in {', '.join(classes)}"}
    return valid
