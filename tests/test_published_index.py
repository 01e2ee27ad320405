"""The helpers and notebooks on an index built as Digital Earth Africa builds its own:
their product definitions verbatim (no load hints) and their dataset properties, with
plain dc.load as the published tutorial writes it."""

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import papermill
import pytest

import sar_helpers as sar

from helpers import PUBLISHED, REPO, TUTORIAL_QUERY

#: Every test here needs the embedded PostgreSQL (the CLI, a cube, or a notebook run against one).
pytestmark = pytest.mark.cube


@pytest.fixture(scope="module")
def plain(published_dc):
    """The published tutorial's own load: dc.load and nothing else."""
    return published_dc.load(
        product="alos_palsar_mosaic", measurements=["hh", "hv", "mask", "date"], time=("2007", "2022"), **TUTORIAL_QUERY
    )


def test_the_products_are_the_published_ones(published_dc):
    for name in ("alos_palsar_mosaic", "jers_sar_mosaic"):
        definition = published_dc.index.products.get_by_name(name).definition
        assert "load" not in definition and definition["storage"]["crs"] == "EPSG:4326"
    aliases = published_dc.list_measurements().loc[("alos_palsar_mosaic", "linci"), "aliases"]
    assert aliases == ["local incidence angle", "linci", "incidence"]
    assert published_dc.index.products.get_by_name("jers_sar_mosaic").definition["license"] == "JAXA"


def test_the_tutorial_query_loads_810_rows_there(plain):
    assert dict(plain.sizes) == {"time": 12, "latitude": 810, "longitude": 900}


def test_to_db_observation_dates_and_rgb_work_on_a_plain_load(plain, figures):
    assert "platform" not in plain.coords
    db = sar.to_db(plain)
    published = 10 * np.log10(plain.hh.where(plain.mask.isin([50, 255])).astype("float64") ** 2) - 83.0
    np.testing.assert_allclose(db.hh_db.values, published.values, atol=1e-3, equal_nan=True)

    table = sar.observation_dates(plain)
    assert table.platform.tolist() == ["ALOS"] * 4 + ["ALOS-2"] * 8
    for _, row in table.iterrows():
        assert (str(row.earliest.date()), str(row.latest.date())) == PUBLISHED[row.mosaic]

    fig = sar.rgb(plain, when=[2007, 2022])
    fig.savefig(figures / "published_index_rgb.png", dpi=60)
    assert [ax.get_title() for ax in fig.axes] == ["2007-07-02", "2022-07-02"]
    plt.close(fig)


def test_add_platform_reads_digital_earth_africas_metadata(published_dc, plain):
    datasets = published_dc.find_datasets(product="alos_palsar_mosaic", time=("2007", "2022"), **TUTORIAL_QUERY)
    labelled = sar.add_platform(plain, datasets)
    assert set(labelled.platform.values) == {"ALOS/ALOS-2"}
    assert sar.platforms(labelled) == sar.platforms(plain)
    jers = published_dc.load(product="jers_sar_mosaic", measurements=["hh", "mask"], time="1996", **TUTORIAL_QUERY)
    assert sar.to_db(jers).hh_db.median().item() == pytest.approx(-21.06, abs=0.05)


def stdout_of(notebook) -> str:
    return "".join(
        "".join(o.get("text", ""))
        for c in notebook["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
        if o.get("name") == "stdout"
    )


@pytest.mark.parametrize(
    "name, parameters, printed",
    [
        ("01_ALOS_PALSAR_annual_mosaic", {}, "{'time': 12, 'latitude': 810, 'longitude': 900}"),
        ("02_JERS_annual_mosaic", {}, "{'time': 1, 'latitude': 810, 'longitude': 900}"),
        ("03_scaling_with_dask", {"log_ratio_path": "CHANGE"}, "810 x 900 pixels"),
    ],
)
def test_the_notebooks_run_unchanged_on_the_published_index(
    published_config, monkeypatch, tmp_path, name, parameters, printed
):
    monkeypatch.setenv("ODC_CONFIG_PATH", str(published_config))
    parameters = {k: str(tmp_path / "change.tif") if v == "CHANGE" else v for k, v in parameters.items()}
    out = tmp_path / f"{name}.ipynb"
    papermill.execute_notebook(
        str(REPO / "notebooks" / f"{name}.ipynb"),
        str(out),
        parameters=parameters,
        cwd=str(tmp_path),
        progress_bar=False,
        kernel_name="python3",
    )
    stdout = stdout_of(json.loads(out.read_text()))
    assert printed in stdout
    if name.startswith("01"):
        assert "2010: 'ALOS', 2015: 'ALOS-2'" in stdout
