"""Helpers for JAXA's ALOS/ALOS-2 PALSAR and JERS-1 annual mosaics on the Open Data Cube.

Layers, each importing only those below it (a contract that ``make lint`` checks):

- ``tools``: the command line, papermill reports, the Jupyter kernel extension, the Dask client;
- ``cubes``: what serves mosaics to a datacube (the local test cube, the real-data cube);
  ``display``: RGB composites, histograms, date maps, folium maps;
- ``analysis``: masks, calibration, observation dates, statistics, the compiled counting loops;
  ``loading``: finding and loading mosaics, reading chunks, writing COGs;
- ``checks``: what every input must be (bands, dtypes, which satellite made each time step);
- ``products`` (facts about the mosaics) and ``errors`` (failures in one sentence).

The names notebooks use are here, imported on first use so that the command line does not pay
for matplotlib or folium.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "add_platform": "loading.datahandling",
    "reproject_options": "loading.datahandling",
    "load_mosaics": "loading.datahandling",
    "platforms": "checks",
    "valid_mask": "analysis.masking",
    "db_to_dn": "analysis.calibration",
    "hv_hh_ratio": "analysis.calibration",
    "power_to_db": "analysis.calibration",
    "to_db": "analysis.calibration",
    "to_power": "analysis.calibration",
    "observation_date_map": "analysis.temporal",
    "observation_dates": "analysis.temporal",
    "relabel_time": "analysis.temporal",
    "histograms": "display.plotting",
    "plot_observation_dates": "display.plotting",
    "plot_yearly": "display.plotting",
    "plot_db_histograms": "display.plotting",
    "rgb": "display.plotting",
    "spread_steps": "analysis.steps",
    "display_map": "display.maps",
    "backscatter_histograms": "analysis.statistics",
    "built_up_area": "analysis.statistics",
    "histograms_and_built_up_area": "analysis.statistics",
    "log_ratio": "analysis.statistics",
    "pixel_area_km2": "analysis.areas",
    "yearly_backscatter": "analysis.statistics",
    "check_chunks": "tools.cluster",
    "get_client": "tools.cluster",
    "ClusterError": "tools.cluster",
    "release": "tools.cluster",
    "write_cog": "loading.cog",
    "equivalent_looks": "analysis.speckle",
    "lee_filter": "analysis.speckle",
    "estimated_looks": "analysis.speckle",
    "area_above": "analysis.areas",
    "detect_change": "analysis.change",
    "change_areas": "analysis.change",
    "class_areas": "analysis.areas",
    "forest_cover": "analysis.forest",
    "forest_area": "analysis.forest",
    "agreement": "analysis.forest",
    "year_of_loss": "analysis.loss",
    "biomass": "analysis.biomass",
    "biomass_change": "analysis.biomass",
    "DatabaseUnavailable": "errors",
    "RemoteFileUnreadable": "errors",
    "LocalFileUnreadable": "errors",
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
