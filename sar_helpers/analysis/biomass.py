"""Aboveground biomass carbon from HV backscatter, and its change between two mosaics, as biota
(smfm-project, McNicol et al. 2018) computes them.

biota's calibration, tC/ha = 751.667 · γ⁰_HV (linear power) − 5.967, was fitted on ALOS-1 mosaics
over miombo woodland in southern Africa and is used for ALOS-2 too. It gives tonnes of carbon,
not of biomass; L-band saturates above roughly 100-150 t/ha of biomass, so dense tropical forest
reads low and its losses within the saturated range are invisible. Elsewhere it is a first guess.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from sar_helpers.checks import require_bands, require_not_empty

from .calibration import to_power
from .speckle import estimated_looks, lee_filter
from .steps import time_steps

#: biota's calibration: tC/ha = SLOPE · γ⁰_HV (linear) + INTERCEPT.
SLOPE, INTERCEPT = 751.667, -5.967
#: biota's defaults: forest holds at least this much carbon (tC/ha); a change counts from this
#: relative size on.
FOREST_TC_HA, CHANGE_SHARE = 10.0, 0.2
#: The classes of :func:`biomass_change` (biota's, in its order; 0 is no data).
BIOMASS_CHANGE_CLASSES: dict[str, int] = {
    "no_data": 0,
    "non_forest": 1,
    "deforestation": 2,
    "degradation": 3,
    "minor_loss": 4,
    "minor_gain": 5,
    "growth": 6,
    "afforestation": 7,
}


def biomass(ds: xr.Dataset, size: int | None = 7, looks: float | None = None) -> xr.DataArray:
    """Aboveground biomass carbon per pixel and mosaic from HV, by biota's calibration.

    Carbon = 751.667 · γ⁰(HV, linear) − 5.967 (McNicol et al. 2018, fitted on ALOS in miombo
    woodland; the module's docstring has the derivation). L-band saturates above roughly 100–150 t/ha
    of biomass, so dense forest reads low; the attributes say so.

    Parameters
    ----------
    ds : xarray.Dataset
        A load with ``hv`` (DNs) and ``mask``.
    size : int or None, default 7
        The enhanced Lee filter's window in pixels; None for no filter.
    looks : float, optional
        The equivalent number of looks; measured on the first mosaic when not given.

    Returns
    -------
    xarray.DataArray
        tC/ha (float32); NaN where masked (lay-over, shadow, water, no data); 0 where the formula
        gives less (HV under about −21 dB). The calibration, its origin and saturation in the
        attributes. Lazy if the load is.

    Raises
    ------
    ValueError
        A load without ``hv`` (JERS-1 has HH only, and the calibration is of HV).
    """
    require_not_empty(ds)
    if "hv" not in ds.data_vars:
        raise ValueError(
            "biomass needs the HV band, which the data lacks (JERS-1 mosaics have HH only, and biota's "
            "calibration is of HV): load an ALOS/ALOS-2 mosaic with measurements=['hv', 'mask']."
        )
    require_bands(ds, ["hv", "mask"], "biomass")
    power = to_power(ds["hv"], mask=ds["mask"], classes=("land",))
    assert isinstance(power, xr.DataArray)
    if size is not None:
        looks = estimated_looks(power.isel(time=0) if "time" in power.dims else power, size) if looks is None else looks
        power = lee_filter(power, size=size, method="enhanced", looks=looks)
    carbon = (SLOPE * power + INTERCEPT).clip(min=0).astype(np.float32).rename("agb_carbon")
    carbon.attrs = {
        "units": "tC/ha",
        "long_name": "aboveground biomass carbon",
        "calibration": f"{SLOPE} * HV gamma-nought (linear) {INTERCEPT:+}, biota (McNicol et al. 2018), "
        "fitted on ALOS-1 in miombo woodland, southern Africa",
        "saturation": "L-band saturates above roughly 100-150 t/ha of biomass: dense forest reads low",
        "speckle_filter": "none" if size is None else f"enhanced Lee ({looks:g} looks), {size} x {size} window",
    }
    return carbon


def biomass_change(
    carbon: xr.DataArray, before, after, forest_tc_ha: float = FOREST_TC_HA, change_share: float = CHANGE_SHARE
) -> xr.DataArray:
    """biota's change classes of biomass carbon between two mosaics.

    Deforestation: forest to non-forest with a change of at least ``change_share``; degradation:
    forest both times, down by it; growth: up by it; afforestation: non-forest to forest with it;
    minor loss and gain: smaller moves of pixels forest at either time.

    Parameters
    ----------
    carbon : xarray.DataArray
        :func:`biomass`'s result (tC/ha).
    before, after : int, str or datetime64
        The two mosaics: years or dates, ``before`` earlier.
    forest_tc_ha : float, default 10.0
        Carbon (tC/ha) from which a pixel is forest.
    change_share : float, default 0.2
        The share of the ``before`` value a change must reach (0–1).

    Returns
    -------
    xarray.DataArray
        uint8 classes (``BIOMASS_CHANGE_CLASSES``: 0 no data, 1 non-forest, 2 deforestation,
        3 degradation, 4 minor loss, 5 minor gain, 6 growth, 7 afforestation). Lazy if ``carbon`` is.

    Raises
    ------
    ValueError
        ``before`` not earlier than ``after``, or thresholds out of range.
    """
    if not 0 < change_share < 1 or forest_tc_ha <= 0:
        raise ValueError(
            f"forest_tc_ha must be positive and change_share between 0 and 1 (e.g. 10 and 0.2); got {forest_tc_ha}, {change_share}."
        )
    first, last = time_steps(carbon, [before])[0], time_steps(carbon, [after])[0]
    if carbon.time.values[first] >= carbon.time.values[last]:
        raise ValueError(f"before ({before}) must be earlier than after ({after}).")
    one, two = carbon.isel(time=first, drop=True), carbon.isel(time=last, drop=True)
    was, now = one >= forest_tc_ha, two >= forest_tc_ha
    changed = np.abs(two - one) >= change_share * np.abs(one)
    down = two < one
    c = BIOMASS_CHANGE_CLASSES
    out = xr.full_like(one, c["non_forest"], dtype=np.uint8)
    rules = (
        (was | now) & ~changed & ~down,
        (was | now) & ~changed & down,
        ~was & now & changed,
        was & now & changed & ~down,
        was & now & changed & down,
        was & ~now & changed,
    )
    for rule, name in zip(
        rules, ("minor_gain", "minor_loss", "afforestation", "growth", "degradation", "deforestation")
    ):
        out = xr.where(rule, c[name], out)
    out = xr.where(one.notnull() & two.notnull(), out, c["no_data"]).astype(np.uint8).rename("biomass_change")
    out.attrs = {
        "flag_values": list(c.values()),
        "flag_meanings": " ".join(c),
        "rule": f"biota: forest >= {forest_tc_ha} tC/ha, change >= {change_share:.0%} of the {before} value",
    }
    crs = carbon.odc.crs
    return out if crs is None else out.odc.assign_crs(crs)
