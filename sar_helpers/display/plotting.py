"""Figures: RGB composites, histograms and maps of the observation date."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sar_helpers.analysis.calibration import hv_hh_ratio
from sar_helpers.analysis.masking import valid_mask
from sar_helpers.analysis.steps import time_steps
from sar_helpers.analysis.temporal import observation_date_map
from sar_helpers.checks import mosaic_years, platforms, require_bands, require_not_empty, require_possible_values
from sar_helpers.products import calibration_of, product_of


def stretch(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Linear stretch to 0..1 between ``low`` and ``high``, clipped; NaN stays NaN."""
    span = high - low if high > low else 1.0
    return np.clip((values - low) / span, 0, 1)


def _band_limits(values: np.ndarray, robust: bool, percentile_stretch) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    if percentile_stretch is not None:
        low, high = np.percentile(finite, percentile_stretch)
    elif robust:
        low, high = np.percentile(finite, (2, 98))
    else:
        low, high = finite.min(), finite.max()
    return float(low), float(high)


def _panel_title(label) -> str:
    return pd.Timestamp(label).strftime("%Y-%m-%d")


def _extent(da: xr.DataArray) -> tuple[float, float, float, float]:
    x, y = da[da.dims[-1]].values, da[da.dims[-2]].values
    dx = (x[-1] - x[0]) / max(len(x) - 1, 1)
    dy = (y[-1] - y[0]) / max(len(y) - 1, 1)
    return (x[0] - dx / 2, x[-1] + dx / 2, y[-1] + dy / 2, y[0] - dy / 2)


def _label_axes(ax, da: xr.DataArray) -> None:
    ax.set_xlabel(da.dims[-1])
    ax.set_ylabel(da.dims[-2])
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.yaxis.set_major_locator(MaxNLocator(5))


def _panels(n: int, col_wrap: int, size: float, aspect: float):
    ncols = max(1, min(n, col_wrap))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols * aspect, size * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.remove()
    return fig, list(axes.flat[:n])


def _require_valid_pixels(ds: xr.Dataset, steps: list[int]) -> None:
    """Where the data carries its mask, refuse a chosen time step with no valid pixel by it."""
    if "mask" not in ds.data_vars or ds["mask"].dtype != np.uint8:
        return
    valid = valid_mask(ds.isel(time=steps)).any(dim=[d for d in ds["mask"].dims if d != "time"]).values
    for position in np.flatnonzero(~np.atleast_1d(valid)):
        raise ValueError(
            f"Time step {_panel_title(ds.time.values[steps[position]])} has no valid pixel by its mask here (all no "
            "data, lay-over or shadow); choose other time steps or another area."
        )


def rgb(
    ds: xr.Dataset,
    bands: Sequence[str] = ("hh", "hv", "hvhh"),
    when=None,
    robust: bool = True,
    percentile_stretch: tuple[float, float] | None = None,
    col_wrap: int = 4,
    size: float = 4,
    savefig_path=None,
) -> Figure:
    """RGB composites of three bands, one panel per time step.

    Each band is stretched linearly to 0–1 over all the chosen time steps together (so panels
    compare). NaN (no data, masked) is drawn black. Panel titles give each step's date. A ``hvhh``
    band that the data lacks is made from hh and hv (:func:`hv_hh_ratio`).

    Parameters
    ----------
    ds : xarray.Dataset
        A load (DNs, or dB from :func:`to_db`).
    bands : sequence of str, default ("hh", "hv", "hvhh")
        Red, green and blue.
    when : int, str, datetime64 or a list of them, optional
        Time steps: positions (negative from the end), years or dates; all by default.
    robust : bool, default True
        Stretch between the 2nd and 98th percentiles; else between min and max.
    percentile_stretch : (float, float), optional
        Other percentiles to stretch between.
    col_wrap : int, default 4
        Panels per row.
    size : float, default 4
        Each panel's height in inches.
    savefig_path : str or pathlib.Path, optional
        Also write the figure there.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_not_empty(ds)
    if len(bands) != 3:
        raise ValueError(f"rgb needs exactly three bands (red, green, blue), not {len(bands)}.")
    if "hvhh" in bands and "hvhh" not in ds.data_vars and {"hh", "hv"} <= set(ds.data_vars):
        ds = ds.assign(hvhh=hv_hh_ratio(ds))
    require_bands(ds, bands, "rgb")
    steps = time_steps(ds, when)
    _require_valid_pixels(ds, steps)
    channels = []
    for band in bands:
        chosen = ds[band].isel(time=steps).compute()  # read once (a lazy band), then checked and drawn
        require_possible_values(chosen, "rgb")
        values = np.asarray(chosen.values, dtype=np.float32)
        valid = np.isfinite(values) & (values != 0 if ds[band].dtype.kind in "ui" else True)
        values = np.where(valid, values, np.nan)
        channels.append(stretch(values, *_band_limits(values, robust, percentile_stretch)))
    for position, step in enumerate(steps):
        if all(np.isnan(c[position]).all() for c in channels):
            raise ValueError(
                f"Time step {_panel_title(ds.time.values[step])} has no valid pixels here; choose other time steps."
            )
    image = np.nan_to_num(np.stack(channels, axis=-1), nan=0.0)
    first = ds[bands[0]].isel(time=0)
    height, width = first.shape
    fig, axes = _panels(len(steps), col_wrap, size, width / height)
    for ax, position, step in zip(axes, range(len(steps)), steps):
        ax.imshow(image[position], extent=_extent(first), interpolation="nearest")
        ax.set_title(_panel_title(ds.time.values[step]))
        _label_axes(ax, first)
    fig.suptitle(f"R: {bands[0]}, G: {bands[1]}, B: {bands[2]}")
    fig.tight_layout()
    if savefig_path is not None:
        fig.savefig(savefig_path, dpi=100)
    return fig


def _units(da: xr.DataArray) -> str:
    units = da.attrs.get("units", "")
    return "DN" if units in ("", "1") and da.dtype.kind in "ui" else (units if units not in ("", "1") else "ratio")


def histograms(
    ds: xr.Dataset, bands: Sequence[str], bins: int = 100, when=None, size: float = 4, savefig_path=None
) -> Figure:
    """Histograms of several bands side by side, over the chosen time steps.

    No data (DN 0, NaN) is left out; the x axis names each band's units (DN for raw bands, dB for
    converted ones).

    Parameters
    ----------
    ds : xarray.Dataset
        A load (DNs, or dB from :func:`to_db`).
    bands : sequence of str
        The bands, one panel each.
    bins : int, default 100
        Bins per histogram.
    when : int, str, datetime64 or a list of them, optional
        Time steps: positions, years or dates; all by default.
    size : float, default 4
        Each panel's height in inches.
    savefig_path : str or pathlib.Path, optional
        Also write the figure there.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_not_empty(ds)
    require_bands(ds, bands, "histograms")
    steps = time_steps(ds, when) if "time" in ds.dims else None
    if steps is not None:
        _require_valid_pixels(ds, steps)
    fig, axes = plt.subplots(1, len(bands), figsize=(size * 1.4 * len(bands), size), squeeze=False)
    colours = ("tab:red", "tab:green", "tab:blue", "tab:orange")
    for n, (ax, band) in enumerate(zip(axes.flat, bands)):
        da = (ds[band] if steps is None else ds[band].isel(time=steps)).compute()  # read once, then checked
        require_possible_values(da, "histograms")
        values = np.asarray(da.values, dtype=np.float64).ravel()
        values = values[np.isfinite(values) & ((values != 0) if da.dtype.kind in "ui" else True)]
        if values.size == 0:
            raise ValueError(f"{band} has no valid values in the chosen time steps; choose others.")
        ax.hist(values, bins=bins, color=colours[n % len(colours)])
        ax.set_title(band)
        ax.set_xlabel(f"{band} ({_units(ds[band])})")
        ax.set_ylabel("pixels")
    fig.tight_layout()
    if savefig_path is not None:
        fig.savefig(savefig_path, dpi=100)
    return fig


def plot_observation_dates(ds: xr.Dataset, when=0, size: float = 6, savefig_path=None) -> Figure:
    """A map of one time step's observation dates.

    Each acquisition gets its own colour when there are a dozen or fewer, else a continuous scale;
    no-data pixels stay white.

    Parameters
    ----------
    ds : xarray.Dataset
        A load with the ``date`` band.
    when : int, str or datetime64, default 0
        The time step: a position, a year or a date.
    size : float, default 6
        The figure's height in inches.
    savefig_path : str or pathlib.Path, optional
        Also write the figure there.

    Returns
    -------
    matplotlib.figure.Figure
        The map, with dates on the colour bar.
    """
    steps = time_steps(ds, when)
    if len(steps) != 1:
        raise ValueError("plot_observation_dates draws one time step; pass one position, year or date as when=.")
    when = observation_date_map(ds.isel(time=steps))[0]
    days = when.values.astype("datetime64[D]")
    acquired = ~np.isnat(days)
    if not acquired.any():
        raise ValueError(f"Time step {_panel_title(ds.time.values[steps[0]])} has no acquired pixels here.")
    numbers = np.where(acquired, days.astype("int64"), np.nan).astype(np.float64)
    unique = np.unique(numbers[acquired])
    height, width = numbers.shape
    fig, ax = plt.subplots(figsize=(size * width / height + 2, size))
    if len(unique) <= 12:
        edges = np.concatenate([unique - 0.5, [unique[-1] + 0.5]])
        cmap = ListedColormap(plt.get_cmap("viridis", max(len(unique), 2))(np.linspace(0, 1, len(unique))))
        image = ax.imshow(
            numbers, extent=_extent(when), cmap=cmap, norm=BoundaryNorm(edges, len(unique)), interpolation="nearest"
        )
        bar = fig.colorbar(image, ax=ax, ticks=unique)
    else:
        image = ax.imshow(numbers, extent=_extent(when), cmap="viridis", interpolation="nearest")
        bar = fig.colorbar(image, ax=ax)
    bar.set_ticklabels([str(np.datetime64(int(t), "D")) for t in bar.get_ticks()])
    bar.set_label("observation date")
    mosaic = pd.Timestamp(ds.time.values[steps[0]]).year
    ax.set_title(f"Observation dates of the {mosaic} mosaic")
    _label_axes(ax, when)
    fig.tight_layout()
    if savefig_path is not None:
        fig.savefig(savefig_path, dpi=100)
    return fig


def _gap(first: int, last: int, made: set[int]) -> bool:
    """Is there a year between two mosaics with no mosaic at all (a line must not cross it)?"""
    return any(year not in made for year in range(first + 1, last))


def plot_yearly(
    series: xr.DataArray | Sequence[xr.DataArray],
    ylabel: str,
    title: str = "",
    dates: pd.DataFrame | None = None,
    size: float = 4,
    savefig_path=None,
) -> Figure:
    """One or more values per mosaic against the mosaic's year.

    Lines join only consecutive years, so they break where no mosaic exists (2011–2014, between ALOS
    and ALOS-2); each satellite's years are shaded and named, because a step between sensors is not
    a change on the ground.

    Parameters
    ----------
    series : xarray.DataArray or sequence of xarray.DataArray
        1-D along ``time``; each one's name labels its line.
    ylabel : str
        The y axis's label, with units.
    title : str, optional
        The figure's title.
    dates : pandas.DataFrame, optional
        :func:`observation_dates`' table: a mosaic that reuses an earlier one's acquisition is then
        drawn hollow, off the line, and named in the legend.
    size : float, default 4
        The figure's height in inches.
    savefig_path : str or pathlib.Path, optional
        Also write the figure there.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    series = [series] if isinstance(series, xr.DataArray) else list(series)
    if not series:
        raise ValueError("plot_yearly needs at least one series.")
    for da in series:
        require_not_empty(da)
        if da.dims != ("time",):
            raise ValueError(f"plot_yearly draws values along time only; {da.name} has dimensions {da.dims}.")
    years, satellites = np.array(mosaic_years(series[0])), platforms(series[0])
    made = {year for p in satellites for year in product_of(p).years}  # years with a mosaic
    repeats = np.zeros(len(years), dtype=bool)
    if dates is not None:
        reused = dict(zip(dates["mosaic"], dates["same_dates_as"]))
        repeats = np.array([not pd.isna(reused.get(int(year), pd.NA)) for year in years])
    fig, ax = plt.subplots(figsize=(size * 2, size))
    for name in dict.fromkeys(p.name for p in satellites):
        own = years[[p.name == name for p in satellites]]
        ax.axvspan(own.min() - 0.4, own.max() + 0.4, color="0.93", zorder=0)
        ax.text((own.min() + own.max()) / 2, 1.0, name, transform=ax.get_xaxis_transform(), ha="center", va="bottom")
    for da in series:
        values = np.asarray(da.values, dtype=np.float64)
        kept = np.flatnonzero(~repeats)
        runs = np.split(kept, [i + 1 for i in range(len(kept) - 1) if _gap(years[kept[i]], years[kept[i + 1]], made)])
        colour = None
        for run in runs:
            (line,) = ax.plot(years[run], values[run], marker="o", color=colour, label=None if colour else da.name)
            colour = line.get_color()
        if repeats.any():
            ax.plot(
                years[repeats], values[repeats], "o", mfc="none", color=colour, label=f"{da.name}: reused acquisition"
            )
    ax.set_xlabel("mosaic year")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, pad=18)
    ax.legend()
    fig.tight_layout()
    if savefig_path is not None:
        fig.savefig(savefig_path, dpi=100)
    return fig


def plot_db_histograms(
    counts: xr.DataArray, band: str = "hh", mark_db: float | None = None, bin_db: float = 0.5, size: float = 4
) -> Figure:
    """Each time step's distribution of one band in dB, from exact DN counts.

    The counts of :func:`backscatter_histograms` cost nothing more on a whole tile.

    Parameters
    ----------
    counts : xarray.DataArray
        DN counts (band, time, dn).
    band : {"hh", "hv"}, default "hh"
        The band drawn.
    mark_db : float, optional
        A threshold (dB) to draw.
    bin_db : float, default 0.5
        Bin width in dB.
    size : float, default 4
        The figure's height in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Curves of the share of valid pixels per bin, one per time step.
    """
    if "band" not in counts.dims or band not in counts["band"].values:
        raise ValueError(f"counts has no band {band!r}; make it with sar.backscatter_histograms.")
    per_step = np.atleast_2d(np.asarray(counts.sel(band=band).values, dtype=np.float64))
    years, constants = mosaic_years(counts), [calibration_of(p) for p in platforms(counts)]
    fig, ax = plt.subplots(figsize=(size * 2, size))
    edges = np.arange(-40.0, 10.0 + bin_db, bin_db)
    for year, constant, dn_counts in zip(years, constants, per_step):
        db = 20 * np.log10(np.arange(1, dn_counts.size)) + constant  # DN 0 is no data
        shares, _ = np.histogram(db, bins=edges, weights=dn_counts[1:])
        total = shares.sum()
        if total:
            ax.plot(edges[:-1] + bin_db / 2, shares / total, label=str(year))
    if mark_db is not None:
        ax.axvline(mark_db, color="black", linestyle="--", label=f"{mark_db} dB")
    ax.set_xlabel(f"{band.upper()} gamma-nought (dB)")
    ax.set_ylabel(f"share of valid pixels per {bin_db} dB")
    ax.legend(ncol=2)
    fig.tight_layout()
    return fig
