"""Speckle filters against a plain loop, against Digital Earth Australia's Lee formula, across
chunkings, and at masked pixels; and their refusals."""

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from scipy.ndimage import uniform_filter

import sar_helpers as sar

RNG = np.random.default_rng(25)
#: Three time steps of 4-look speckle over two surfaces (dB), with an edge between them.
SURFACE = np.where(np.arange(80)[None, :] < 37, -11.5, -18.0)
DB = (SURFACE + 10 * np.log10(RNG.gamma(4, 1 / 4, size=(3, 60, 80)))).astype(np.float32)


def image(values=DB, units="dB") -> xr.DataArray:
    coords = {
        "latitude": 0.5 - np.arange(values.shape[-2]) * 2.2e-4,
        "longitude": 25 + np.arange(values.shape[-1]) * 2.2e-4,
    }
    return xr.DataArray(
        values, dims=("time", "latitude", "longitude"), coords=coords, attrs={"units": units}, name="hv_db"
    )


def dea_lee(img: np.ndarray, size: int) -> np.ndarray:
    """The Lee filter as dea_tools.sar.lee_filter computes it on one image (written here from its formula)."""
    mean = uniform_filter(img, size)
    mean_of_squares = uniform_filter(img**2, size)
    variance = mean_of_squares - mean**2
    noise = np.nanvar(img)
    weight = variance / (variance + noise)
    return mean + weight * (img - mean)


def loop_filter(img: np.ndarray, size: int, noise=None, looks=None, in_db=False) -> np.ndarray:
    """A slow, plain reference: each pixel's window walked one neighbour at a time, NaN left out,
    image edges mirrored (as scipy's default)."""
    values = 10 ** (img / 10) if in_db and looks else img.astype(np.float64)
    half = size // 2
    padded = np.pad(values, half, mode="symmetric")
    out = np.full(values.shape, np.nan)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if not np.isfinite(values[i, j]):
                continue
            window = padded[i : i + size, j : j + size]
            window = window[np.isfinite(window)]
            mean, variance = window.mean(), max(window.var(), 0.0)
            if looks is None:
                weight = variance / (variance + noise) if variance + noise > 0 else 0.0
            else:
                cu, cmax, ci = np.sqrt(1 / looks), np.sqrt(1 + 2 / looks), np.sqrt(variance) / mean
                weight = 0.0 if ci <= cu else 1.0 if ci >= cmax else 1 - np.exp(-(ci - cu) / (cmax - ci))
            out[i, j] = mean + weight * (values[i, j] - mean)
    return 10 * np.log10(out) if in_db and looks else out


@pytest.mark.parametrize("size", [3, 7])
def test_lee_matches_digital_earth_australias_formula_on_nan_free_input(size):
    filtered = sar.lee_filter(image(), size=size)
    for step in range(3):
        np.testing.assert_allclose(filtered.values[step], dea_lee(DB[step], size), rtol=1e-5)
    assert filtered.dtype == np.float32 and filtered.attrs["units"] == "dB"
    assert filtered.attrs["speckle_filter"] == f"Lee, {size} x {size} window"


def test_lee_and_enhanced_lee_match_a_plain_loop_with_masked_pixels():
    values = DB[0].copy()
    values[10:14, 20:30] = np.nan  # a masked patch, e.g. lay-over
    values[0, 0] = np.nan
    lee = sar.lee_filter(image(values[None]), size=5).values[0]
    np.testing.assert_allclose(lee, loop_filter(values, 5, noise=np.nanvar(values.astype(np.float64))), rtol=1e-5)
    enhanced = sar.lee_filter(image(values[None]), size=5, method="enhanced", looks=4).values[0]
    np.testing.assert_allclose(enhanced, loop_filter(values, 5, looks=4, in_db=True), rtol=1e-5)
    # Masked pixels stay masked, and no other pixel becomes NaN: nothing spreads.
    assert np.array_equal(np.isnan(lee), np.isnan(values)) and np.array_equal(np.isnan(enhanced), np.isnan(values))


def test_masked_pixels_do_not_leak_into_their_neighbours():
    values = DB[:1].copy()
    neighbourhood = (0, slice(20, 40), slice(5, 25))
    before = sar.lee_filter(image(values), size=7, method="enhanced", looks=4).values[neighbourhood]
    values[0, 28:32, 13:17] = np.nan  # now mask a patch
    masked = sar.lee_filter(image(values), size=7, method="enhanced", looks=4).values[neighbourhood]
    assert np.isfinite(masked[np.isfinite(values[neighbourhood])]).all()
    assert np.nanmax(np.abs(masked - before)) < 3  # neighbours change only by what their windows lost


@pytest.mark.parametrize("chunks", [(1, 16, 16), (3, 60, 80), (2, 23, 41), (1, 16, 13)])
@pytest.mark.parametrize("method,looks", [("lee", None), ("enhanced", 4)])
def test_lazy_in_lazy_out_and_the_same_for_every_chunking(chunks, method, looks):
    values = DB.copy()
    values[1, 30:35, 40:45] = np.nan
    eager = sar.lee_filter(image(values), size=7, method=method, looks=looks)
    given = image(values).chunk(dict(zip(("time", "latitude", "longitude"), chunks)))
    lazy = sar.lee_filter(given, 7, method, looks)
    # The chunks stay the input's; a last chunk narrower than the window's half (3) joins its neighbour.
    expected = given.data.chunks if chunks[-1] != 13 else (*given.data.chunks[:2], (13,) * 5 + (12, 3))
    assert isinstance(lazy.data, dsa.Array) and lazy.data.chunks == expected
    np.testing.assert_allclose(lazy.values, eager.values, rtol=1e-6, atol=1e-6)


def test_filters_reduce_speckle_and_keep_the_mean_of_a_uniform_area():
    power = image(10 ** (DB.astype(np.float64) / 10), units="1")
    uniform = (slice(None), slice(5, 55), slice(5, 30))
    raw = sar.equivalent_looks(power[uniform]).values
    for method, looks in (("lee", None), ("enhanced", 4)):
        filtered = sar.lee_filter(power, size=7, method=method, looks=looks)[uniform]
        assert (sar.equivalent_looks(filtered).values > 2.5 * raw).all()
        np.testing.assert_allclose(
            filtered.mean(("latitude", "longitude")), power[uniform].mean(("latitude", "longitude")), rtol=0.05
        )


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: sar.lee_filter(image(), size=6), "odd whole number"),
        (lambda: sar.lee_filter(image(), size=1), "odd whole number"),
        (lambda: sar.lee_filter(image().chunk({"latitude": 5}), size=7), "larger than the data's 5-pixel chunks"),
        (lambda: sar.lee_filter(image(), method="frost"), "method must be one of lee, enhanced"),
        (lambda: sar.lee_filter(image(), method="enhanced"), "needs looks="),
        (lambda: sar.lee_filter(image(), looks=4), "looks= is a parameter of method='enhanced'"),
        (lambda: sar.lee_filter(image().astype(np.uint16)), "not uint16 DNs"),
        (lambda: sar.lee_filter(image().rename({"latitude": "row"})), "latitude/longitude (or y/x)"),
    ],
)
def test_bad_input_is_refused_in_one_sentence(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_the_looks_are_measured_where_most_ground_is_uniform():
    power = image(10 ** (DB.astype(np.float64) / 10), units="1")
    assert sar.estimated_looks(power.isel(time=0)) == pytest.approx(4, rel=0.15)  # drawn with 4 looks
    with pytest.raises(ValueError, match="takes linear power"):
        sar.estimated_looks(image().isel(time=0))


def test_area_above_counts_true_pixel_areas_and_is_nan_without_data():
    values = DB.copy()
    values[2] = np.nan
    data = image(values).odc.assign_crs("EPSG:4326")
    area = sar.area_above(data, -15.0).values
    pixel = sar.pixel_area_km2(data).values[:, None]
    np.testing.assert_allclose(area[:2], [(pixel * (values[t] > -15)).sum() for t in range(2)], rtol=1e-12)
    assert np.isnan(area[2])


@pytest.mark.parametrize("shape", [(2, 2), (1, 5), (40, 33)])
@pytest.mark.parametrize("size", [3, 7, 9])
def test_mirroring_in_the_kernel_equals_filtering_a_padded_copy(shape, size):
    from sar_helpers.analysis.windows import speckle_filter

    values = np.random.default_rng(size).gamma(4, 0.25, size=shape).astype(np.float32)
    values.flat[0] = np.nan
    padded = np.pad(values, size // 2, mode="symmetric")
    for noise, looks in ((0.1, None), (0.0, 4.0)):
        np.testing.assert_array_equal(
            speckle_filter(values, size, noise, looks, padded=False), speckle_filter(padded, size, noise, looks)
        )
