import folium
import pytest

import sar_helpers as sar


def test_map_is_zoomed_to_the_box_with_the_box_drawn():
    m = sar.display_map(x=(31.90, 32.10), y=(30.37, 30.55))
    assert isinstance(m, folium.Map)
    rectangles = [c for c in m._children.values() if isinstance(c, folium.Rectangle)]
    assert len(rectangles) == 1
    assert rectangles[0].locations == [[30.37, 31.90], [30.55, 32.10]]
    html = m.get_root().render()
    assert "fitBounds" in html and "server.arcgisonline.com" in html


def test_map_of_a_box_in_another_crs():
    m = sar.display_map(x=(3077000, 3097000), y=(3638000, 3658000), crs="EPSG:6933", tiles=None)
    (south, west), (north, east) = next(c for c in m._children.values() if isinstance(c, folium.Rectangle)).locations
    assert 31.8 < west < east < 32.2 and 29 < south < north < 32


def test_a_box_without_area_is_refused():
    with pytest.raises(ValueError, match="no area"):
        sar.display_map(x=(32.0, 32.0), y=(30.3, 30.5))
