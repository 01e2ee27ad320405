"""Helpers for JAXA's ALOS/ALOS-2 PALSAR and JERS-1 annual mosaics on the Open Data Cube.

One module per concern: ``products`` (facts), ``datahandling`` (loading with metadata),
``masking``, ``calibration``, ``temporal`` (observation dates), ``plotting``, ``maps``,
``statistics`` and ``cluster`` (large loads on Dask), ``reports``, ``jupyter``, and
``testcube`` (the local test datacube). The names most notebooks need are here.
"""

__version__ = "0.1.0"

from .calibration import db_to_dn, hv_hh_ratio, power_to_db, to_db, to_power
from .cluster import check_chunks, get_client, release
from .cog import write_cog
from .datahandling import add_platform, grid_options, load_mosaics
from .maps import display_map
from .masking import valid_mask
from .plotting import histograms, plot_observation_dates, rgb, spread_steps
from .statistics import backscatter_histograms, built_up_area, change_map, yearly_backscatter
from .temporal import observation_date_map, observation_dates, relabel_time

__all__ = [
    "add_platform", "backscatter_histograms", "built_up_area", "change_map", "check_chunks",
    "db_to_dn", "display_map", "get_client", "grid_options", "histograms", "hv_hh_ratio",
    "load_mosaics", "observation_date_map", "observation_dates", "plot_observation_dates",
    "power_to_db", "relabel_time", "release", "rgb", "spread_steps", "to_db", "to_power",
    "valid_mask", "write_cog", "yearly_backscatter",
]
