"""What the tests share: places, queries, the published date table, small synthetic
datasets shaped like a plain dc.load, the CLI runner, and the lazy-against-eager check.
Test modules import from here, never from one another."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dask
import numpy as np
import odc.geo.xr  # noqa: F401  (the .odc accessor)
import xarray as xr
from datacube.storage import BandInfo

from sar_helpers.loading.bandfiles import band_file

REPO = Path(__file__).resolve().parents[1]
TUTORIAL_QUERY = dict(x=(31.90, 32.10), y=(30.37, 30.55))
#: A small box across the seam of tiles N31E031 and N31E032, for scratch cubes.
SMALL_BBOX = (31.99, 30.45, 32.01, 30.47)

# products.md: earliest and latest observation date over the tutorial area per mosaic.
PUBLISHED = {
    2007: ("2007-06-27", "2007-08-29"),
    2008: ("2008-08-31", "2008-09-29"),
    2009: ("2009-08-17", "2009-09-03"),
    2010: ("2010-07-22", "2010-08-20"),
    2015: ("2015-07-07", "2015-07-07"),
    2016: ("2016-07-05", "2016-07-05"),
    2017: ("2017-07-04", "2017-07-04"),
    2018: ("2018-03-27", "2018-03-27"),
    2019: ("2019-01-01", "2019-01-01"),
    2020: ("2020-12-29", "2020-12-29"),
    2021: ("2021-12-28", "2021-12-28"),
    2022: ("2021-12-28", "2021-12-28"),
}


#: Run as root without the right to ignore file permissions (root may write anywhere).
_NO_DAC_OVERRIDE = [
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search",
    "--inh-caps=-dac_override,-dac_read_search",
    "--",
]


def run_cli(*args: str, obey_permissions: bool = False, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `sar-helpers ARGS` in a new process; ``obey_permissions`` matters only to root."""
    prefix = _NO_DAC_OVERRIDE if obey_permissions and os.geteuid() == 0 else []
    return subprocess.run(
        [*prefix, sys.executable, "-m", "sar_helpers", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
    )


#: The tutorial's area as `realcube up --bbox` takes it.
TUTORIAL_BBOX = ["31.90", "30.37", "32.10", "30.55"]


def realcube_up_arguments(folder, api, *args) -> list[str]:
    """`sar-helpers realcube up` for a cube in ``folder`` fed by the test STAC ``api``."""
    return [
        "realcube",
        "up",
        "--dir",
        str(folder),
        "--catalog",
        api.catalog,
        "--url-replace",
        api.url_replace,
        "--quiet",
        *args,
    ]


def realcube_up(folder, api, *args, timeout=600) -> subprocess.CompletedProcess:
    return run_cli(*realcube_up_arguments(folder, api, *args), timeout=timeout)


def realcube_ids(folder) -> list[str]:
    """The ids of every dataset indexed in the real-data cube in ``folder``."""
    from sar_helpers.cubes.realcube.cube import RealCube

    with RealCube(folder).datacube() as dc:
        return sorted(
            str(ds.id) for p in ("alos_palsar_mosaic", "jers_sar_mosaic") for ds in dc.find_datasets(product=p)
        )


def synthetic(values, satellite="ALOS", band="hh", mask=None, platform_label=None) -> xr.Dataset:
    """A tiny dataset shaped like a plain dc.load: values (time, y, x), labelled with
    mid-year times of ``satellite``'s mosaic years; ``platform_label`` adds a platform
    coordinate as add_platform would (e.g. Digital Earth Africa's "ALOS/ALOS-2")."""
    from sar_helpers.products import PLATFORMS

    values = np.asarray(values, dtype=np.uint16)
    t, h, w = values.shape
    years = PLATFORMS[satellite].years[:t]
    coords = {
        "time": np.array([f"{year}-07-02" for year in years], dtype="datetime64[ns]"),
        "latitude": 30.5 - np.arange(h) * 0.000222222222222,
        "longitude": 32.0 + np.arange(w) * 0.000222222222222,
    }
    if platform_label is not None:
        coords["platform"] = ("time", [platform_label] * t)
    data = {band: (("time", "latitude", "longitude"), values)}
    if mask is not None:
        data["mask"] = (("time", "latitude", "longitude"), np.asarray(mask, dtype=np.uint8))
    return xr.Dataset(data, coords=coords).odc.assign_crs("EPSG:4326")  # a spatial_ref, as dc.load gives


def assert_lazy_matches_eager(func, ds: xr.Dataset, chunks=None, rtol: float = 0.0, **kwargs):
    """``func`` on ``ds`` chunked with dask stays lazy and equals ``func`` on ``ds`` in memory
    (NaN where NaN; ``rtol`` for sums, whose order differs). Returns the eager result."""
    eager = func(ds, **kwargs)
    lazy = func(ds.chunk(chunks or {"time": 1, "latitude": 2, "longitude": 3}), **kwargs)
    outputs = [(lazy, eager)]
    if isinstance(eager, xr.Dataset):
        outputs = [(lazy[name], eager[name]) for name in eager.data_vars]
    for lazy_out, eager_out in outputs:
        assert dask.is_dask_collection(lazy_out), f"{getattr(func, '__name__', func)} computed a lazy input"
        np.testing.assert_allclose(
            np.asarray(lazy_out.values), np.asarray(eager_out.values), rtol=rtol, atol=0, equal_nan=True
        )
    return eager


#: Debian's Chromium, which the browser tests drive (browser downloads are not possible here).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def assert_band_files_are_bandinfos(datasets):
    """Every band of every dataset: the reader's :func:`band_file` says what datacube's BandInfo says."""
    bands = [(dataset, name) for dataset in datasets for name in dataset.product.measurements]
    assert bands
    for dataset, name in bands:
        info = BandInfo(dataset, name)
        assert band_file(dataset, name) == (str(info.uri), info.band, info.layer, info.format), name
