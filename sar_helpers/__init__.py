"""Helpers for JAXA's ALOS/ALOS-2 PALSAR and JERS-1 annual mosaics on the Open Data Cube.

One module per concern: ``products`` (facts), ``datahandling`` (loading with metadata),
``masking``, ``calibration``, ``temporal`` (observation dates), ``plotting``, ``maps``,
``statistics`` and ``cluster`` (large loads on Dask), ``cog``, ``errors`` (failures in one
sentence), ``reports``, ``jupyter``, ``localcube``, ``testcube`` (the local test datacube)
and ``realcube`` (real mosaics indexed from a STAC API). The names most notebooks need are here,
imported on first use so that the command line does not pay for matplotlib or folium.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "add_platform": "datahandling",
    "reproject_options": "datahandling",
    "load_mosaics": "datahandling",
    "platforms": "checks",
    "valid_mask": "masking",
    "db_to_dn": "calibration",
    "hv_hh_ratio": "calibration",
    "power_to_db": "calibration",
    "to_db": "calibration",
    "to_power": "calibration",
    "observation_date_map": "temporal",
    "observation_dates": "temporal",
    "relabel_time": "temporal",
    "histograms": "plotting",
    "plot_observation_dates": "plotting",
    "rgb": "plotting",
    "spread_steps": "steps",
    "display_map": "maps",
    "backscatter_histograms": "statistics",
    "built_up_area": "statistics",
    "histograms_and_built_up_area": "statistics",
    "change_map": "statistics",
    "yearly_backscatter": "statistics",
    "check_chunks": "cluster",
    "get_client": "cluster",
    "release": "cluster",
    "write_cog": "cog",
    "DatabaseUnavailable": "errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sar_helpers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
