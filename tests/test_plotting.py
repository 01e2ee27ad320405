import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import sar_helpers as sar
from sar_helpers.analysis.steps import time_steps
from sar_helpers.display.plotting import stretch

from helpers import synthetic


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def composite(tutorial):
    ds = tutorial.copy()
    ds["hvhh"] = sar.hv_hh_ratio(ds)
    return ds


def test_time_steps_by_position_year_and_date(tutorial):
    assert time_steps(tutorial, [0, -1]) == [0, 11]
    assert time_steps(tutorial, [2007, 2022]) == [0, 11]
    assert time_steps(tutorial, "2015-07-02") == [4]
    with pytest.raises(ValueError, match="out of range: the data has 12 time steps"):
        time_steps(tutorial, 12)
    with pytest.raises(ValueError, match="No time step for year 2012"):
        time_steps(tutorial, 2012)


def test_rgb_draws_one_stretched_panel_per_step(composite, figures):
    fig = sar.rgb(composite, bands=["hh", "hv", "hvhh"], when=[2007, 2015, 2022], savefig_path=figures / "rgb_dn.png")
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["2007-07-02", "2015-07-02", "2022-07-02"]
    steps = [0, 4, 11]
    for channel, band in enumerate(["hh", "hv", "hvhh"]):
        values = composite[band].isel(time=steps).values.astype("float32")
        values = np.where(np.isfinite(values) & (values != 0), values, np.nan)
        low, high = np.nanpercentile(values, (2, 98))
        expected = np.nan_to_num(stretch(values, low, high), nan=0.0)
        for panel, ax in enumerate(fig.axes):
            drawn = np.asarray(ax.images[0].get_array())[..., channel]
            np.testing.assert_allclose(drawn, expected[panel], atol=1e-6)
    assert (figures / "rgb_dn.png").stat().st_size > 10_000


def test_rgb_of_db_bands_with_a_percentile_stretch(tutorial, figures):
    db = sar.to_db(tutorial)
    fig = sar.rgb(
        db,
        bands=["hh_db", "hv_db", "hvhh_db"],
        when=[0, 5, 10],
        percentile_stretch=(5, 95),
        col_wrap=2,
        savefig_path=figures / "rgb_db.png",
    )
    assert len(fig.axes) == 3
    drawn = np.asarray(fig.axes[0].images[0].get_array())
    assert drawn.shape == (811, 900, 3) and drawn.min() == 0 and drawn.max() == 1


def test_rgb_bad_input(composite):
    with pytest.raises(ValueError, match="needs the band"):
        sar.rgb(composite, bands=["hh", "hv", "vv"])
    with pytest.raises(ValueError, match="exactly three bands"):
        sar.rgb(composite, bands=["hh", "hv"])
    with pytest.raises(ValueError, match="out of range"):
        sar.rgb(composite, when=[0, 40])
    empty = composite.copy()
    empty["hh"] = empty.hh * 0
    empty["hv"] = empty.hv * 0
    empty["hvhh"] = empty.hvhh * np.nan
    with pytest.raises(ValueError, match="has no valid pixels here"):
        sar.rgb(empty, when=[0])


def test_histograms_have_units_and_count_valid_pixels(tutorial, figures):
    db = sar.to_db(tutorial)
    fig = sar.histograms(db, ["hh_db", "hv_db", "hvhh_db"], savefig_path=figures / "histograms_db.png")
    assert len(fig.axes) == 3
    assert [ax.get_xlabel() for ax in fig.axes] == ["hh_db (dB)", "hv_db (dB)", "hvhh_db (dB)"]
    counts = sum(patch.get_height() for patch in fig.axes[0].patches)
    assert counts == int(np.isfinite(db.hh_db.values).sum())
    fig = sar.histograms(tutorial, ["hh", "hv"], when=[0])
    assert fig.axes[0].get_xlabel() == "hh (DN)"
    assert sum(p.get_height() for p in fig.axes[0].patches) == int((tutorial.hh[0] > 0).sum())


def test_observation_date_map_has_dates_on_its_colour_bar(tutorial, figures):
    fig = sar.plot_observation_dates(tutorial, when=2007, savefig_path=figures / "dates_2007.png")
    bar = fig.axes[-1]
    labels = [t.get_text() for t in bar.get_yticklabels()]
    assert labels == ["2007-06-27", "2007-07-29", "2007-08-29"]
    assert fig.axes[0].get_title() == "Observation dates of the 2007 mosaic"
    with pytest.raises(ValueError, match="one time step"):
        sar.plot_observation_dates(tutorial, when=[0, 1])


def test_spread_steps(tutorial):
    assert sar.spread_steps(tutorial, 3) == [0, 6, 11]
    assert sar.spread_steps(tutorial.isel(time=[0, 1]), 3) == [0, 1]
    assert sar.spread_steps(tutorial.isel(time=[4]), 3) == [0]


def test_rgb_and_histograms_refuse_a_step_with_no_valid_pixel_by_its_mask():
    dn = np.full((2, 4, 5), 500, dtype=np.uint16)
    mask = np.stack([np.full((4, 5), 255), np.full((4, 5), 100)]).astype(np.uint8)  # all lay-over in 2008
    ds = synthetic(dn, mask=mask).assign(hv=lambda d: d.hh // 2)
    for draw in (lambda: sar.rgb(ds), lambda: sar.histograms(ds, ["hh"])):
        with pytest.raises(ValueError, match="2008-07-02 has no valid pixel by its mask"):
            draw()
    sar.rgb(ds, when=[2007])  # the year with valid pixels draws


def test_negative_values_that_are_not_db_are_refused():
    values = np.linspace(-3, 3, 40).reshape(2, 4, 5)
    ds = synthetic(np.ones((2, 4, 5))).assign(hh=lambda d: d.hh * 0 + values, hv=lambda d: d.hh * 0 + 1.0)
    with pytest.raises(ValueError, match="hh holds negative values, which no DN, linear power or ratio can be"):
        sar.histograms(ds, ["hh"])
    with pytest.raises(ValueError, match="attrs\\['units'\\] = 'dB'"):
        sar.rgb(ds, bands=("hh", "hv", "hv"))
    ds["hh"].attrs["units"] = "dB"
    sar.histograms(ds, ["hh"])
    sar.rgb(ds, bands=("hh", "hv", "hv"))


def test_plot_yearly_breaks_at_the_gap_and_marks_reused_acquisitions(figures):
    years = [2009, 2010, 2015, 2016, 2021, 2022]
    time = np.array([f"{y}-07-02" for y in years], dtype="datetime64[ns]")
    area = xr.DataArray([1.0, 2.0, 5.0, 6.0, 9.0, 9.0], dims="time", coords={"time": time}, name="area")
    dates = pd.DataFrame({"mosaic": years, "same_dates_as": pd.array([None] * 5 + [2021], dtype="Int64")})
    fig = sar.plot_yearly(area, "km²", "Area per mosaic", dates, savefig_path=figures / "plot_yearly.png")
    ax = fig.axes[0]
    lines = [line for line in ax.get_lines() if line.get_linestyle() != "None"]
    assert [list(line.get_xdata()) for line in lines] == [[2009, 2010], [2015, 2016, 2021]]  # 2017-20 exist
    hollow = [line for line in ax.get_lines() if line.get_linestyle() == "None"]
    assert [list(h.get_xdata()) for h in hollow] == [[2022]] and hollow[0].get_markerfacecolor() == "none"
    assert [t.get_text() for t in ax.texts] == ["ALOS", "ALOS-2"] and ax.get_xlabel() == "mosaic year"


def test_db_histograms_come_from_the_dn_counts(figures):
    dn = np.full((2, 4, 5), 1000, dtype=np.uint16)  # 20*log10(1000) - 83 = -23 dB
    dn[1, :2] = 10000  # half of 2008 at -3 dB
    ds = synthetic(dn, mask=np.full(dn.shape, 255, dtype=np.uint8)).assign(hv=lambda d: d.hh)
    fig = sar.plot_db_histograms(sar.backscatter_histograms(ds), mark_db=-5.0)
    fig.savefig(figures / "db_histograms.png")
    curves = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert set(curves) == {"2007", "2008", "-5.0 dB"}
    first, second = (np.asarray(curves[y].get_ydata()) for y in ("2007", "2008"))
    centres = np.asarray(curves["2007"].get_xdata())
    assert first.sum() == pytest.approx(1) and centres[first.argmax()] == pytest.approx(-22.75)
    assert second[centres > -5].sum() == pytest.approx(0.5)
