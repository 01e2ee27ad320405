import pytest
from affine import Affine
from odc.geo import resxy_, yx_
from odc.geo.geobox import GeoBox
from odc.geo.geom import box

from sar_helpers.cubes.documents import dataset_document, document_window
from sar_helpers.cubes.grid import Tile, Window, bbox_window, tiles_over
from sar_helpers.products import ALOS_PALSAR_MOSAIC, RESOLUTION


def test_tutorial_box_is_811_by_900_pixels():
    window = bbox_window(31.90, 30.37, 32.10, 30.55)
    assert window.shape == (811, 900)
    assert window == Window(row_top=137475, row_bottom=136665, col_left=143550, col_right=144449)


def test_window_matches_the_grid_datacube_loads_on():
    """The product's load hints (align: half a pixel in latitude) give odc-geo this very grid."""
    geobox = GeoBox.from_geopolygon(
        box(31.90, 30.37, 32.10, 30.55, "EPSG:4326"),
        resxy_(RESOLUTION, -RESOLUTION),
        "EPSG:4326",
        yx_(RESOLUTION / 2, 0),
    )
    window = bbox_window(31.90, 30.37, 32.10, 30.55)
    assert geobox.shape == window.shape
    assert geobox.affine.almost_equals(Affine(*window.transform), precision=1e-12)


def test_tiles_are_named_after_their_north_west_corner():
    assert Tile(31, 31).name == "N31E031"
    assert Tile(-1, -5).name == "S01W005"
    west, south, east, north = Tile(31, 31).window.bounds
    assert (west, east) == pytest.approx((31, 32), abs=1e-9)
    assert (south, north) == pytest.approx((30 + RESOLUTION / 2, 31 + RESOLUTION / 2), abs=1e-9)
    assert Tile(31, 31).window.shape == (4500, 4500)


def test_tutorial_box_spans_the_seam_of_two_tiles():
    parts = tiles_over(bbox_window(31.90, 30.37, 32.10, 30.55))
    assert [tile.name for tile, _ in parts] == ["N31E031", "N31E032"]
    (_, west_part), (_, east_part) = parts
    assert west_part.col_right + 1 == east_part.col_left == 32 * 4500
    assert west_part.shape == (811, 450) and east_part.shape == (811, 450)


def test_windows_union_and_contain():
    a = Window(10, 0, 0, 10)
    b = Window(20, 5, 5, 30)
    assert a.union(b) == Window(20, 0, 0, 30)
    assert a.union(b).contains(a) and not a.contains(b)
    assert a.intersection(b) == Window(10, 5, 5, 10)
    assert a.intersection(Window(100, 90, 0, 1)) is None


def test_bad_boxes_are_refused():
    with pytest.raises(ValueError, match="west < east"):
        bbox_window(32.1, 30.3, 31.9, 30.5)
    with pytest.raises(ValueError, match="outside"):
        bbox_window(179.5, 30, 181, 31)


def test_document_window_round_trips():
    tile = Tile(31, 32)
    window = bbox_window(32.0, 30.4, 32.05, 30.5)
    assert document_window(dataset_document(ALOS_PALSAR_MOSAIC, tile, 2017, window)) == window
