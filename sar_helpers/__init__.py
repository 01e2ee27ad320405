"""Helpers for JAXA's ALOS/ALOS-2 PALSAR and JERS-1 annual mosaics on the Open Data Cube.

One module per concern: ``products`` (facts), ``datahandling`` (loading with metadata),
``masking``, ``calibration``, ``temporal`` (observation dates), ``plotting``, ``maps``,
and ``testcube`` (the local test datacube). The names most notebooks need are here.
"""

__version__ = "0.1.0"

from .calibration import db_to_dn, hv_hh_ratio, power_to_db, to_db, to_power
from .datahandling import add_platform, grid_options, load_mosaics
from .maps import display_map
from .masking import valid_mask
from .plotting import histograms, plot_observation_dates, rgb, spread_steps
from .temporal import observation_date_map, observation_dates, relabel_time

__all__ = [
    "add_platform", "db_to_dn", "display_map", "grid_options", "histograms", "hv_hh_ratio", "load_mosaics",
    "observation_date_map", "observation_dates", "plot_observation_dates", "power_to_db",
    "relabel_time", "rgb", "spread_steps", "to_db", "to_power", "valid_mask",
]
