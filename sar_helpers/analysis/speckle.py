"""Speckle: the grain every radar image has, and how many looks a mosaic averaged.

A radar pixel adds the echoes of many scatterers with random phases, so even a uniform
surface gives pixels whose intensity scatters around its mean: for an image averaged over L
independent looks, intensity follows a gamma distribution with mean μ and standard deviation
μ/√L. Averaging in power over pixels or dates raises L; a threshold on single pixels counts
speckle along with the surface.
"""

from __future__ import annotations

import xarray as xr

from sar_helpers.checks import require_not_empty


def equivalent_looks(power: xr.DataArray) -> xr.DataArray:
    """The equivalent number of looks (ENL = mean² / variance of the intensity) of ``power``
    (linear gamma-nought, as :func:`to_power` gives) per time step, over its valid pixels.

    Meaningful only over a uniform surface (one kind of ground, no edges): there it measures the
    speckle; anywhere else texture lowers it. NaN pixels are left out.
    """
    require_not_empty(power)
    if str(power.attrs.get("units", "1")).lower() in ("db", "decibel"):
        raise ValueError("equivalent_looks takes linear power (sar.to_power), not dB.")
    spatial = [d for d in power.dims if d != "time"]
    mean = power.mean(spatial)
    out = (mean * mean / power.var(spatial)).rename("equivalent_looks")
    out.attrs = {"units": "1", "long_name": "equivalent number of looks (mean squared over variance)"}
    return out
