"""`sar-helpers report`: parameterised notebooks into HTML, with checks before any kernel starts."""

import json
import os
import subprocess

import papermill
import pytest

from sar_helpers.tools.cli import main

from helpers import REPO, run_cli

#: Every test here needs the embedded PostgreSQL (the CLI, a cube, or a notebook run against one).
pytestmark = pytest.mark.cube

ALOS = str(REPO / "notebooks" / "01_ALOS_PALSAR_annual_mosaic.ipynb")


def stdout_of(notebook_path) -> str:
    cells = json.loads(notebook_path.read_text())["cells"]
    return "".join(
        "".join(o.get("text", ""))
        for c in cells
        if c["cell_type"] == "code"
        for o in c["outputs"]
        if o.get("name") == "stdout"
    )


def test_report_for_another_area(cube, tmp_path):
    html = tmp_path / "east" / "area.html"
    result = run_cli(
        "report",
        ALOS,
        "--x",
        "31.95",
        "32.05",
        "--y",
        "30.40",
        "30.50",
        "--time",
        "2015",
        "2022",
        "--no-input",
        "--quiet",
        "-o",
        str(html),
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    executed = html.with_suffix(".ipynb")
    assert f"Report:            {html}" in result.stdout and str(executed) in result.stdout
    # 30.40-30.50 with pixel centres on the 1/4500-degree lattice: rows 136800..137250, 451 of them;
    # 31.95-32.05 with pixel edges on it: columns 143775..144224, 450 of them.
    printed = stdout_of(executed)
    assert "{'time': 8, 'latitude': 451, 'longitude': 450}" in printed
    cells = json.loads(executed.read_text())["cells"]
    table = next(
        "".join(o["data"]["text/plain"])
        for c in cells
        if "".join(c["source"]).startswith("dates = sar.observation_dates")
        for o in c["outputs"]
        if "data" in o
    )
    assert [line.split()[2] for line in table.splitlines() if "ALOS-2" in line] == [str(y) for y in range(2015, 2023)]
    page = html.read_text()
    assert "451" in page and "sar.to_db(ds)" not in page  # outputs in, code hidden


def test_report_with_no_data_anywhere_fails_with_one_sentence(cube, tmp_path):
    """2016 north of 30.578 degrees is a no-data sliver: the datasets exist but hold nothing there."""
    html = tmp_path / "sliver.html"
    html.write_text("an older report for the same path")  # must not be taken for this run's
    result = run_cli(
        "report",
        ALOS,
        "--x",
        "31.95",
        "32.05",
        "--y",
        "30.58",
        "30.60",
        "--time",
        "2016",
        "2016",
        "--quiet",
        "-o",
        str(html),
        timeout=900,
    )
    assert result.returncode == 1
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("sar-helpers: The notebook stopped in cell") and "ValueError: " in message
    assert "has no valid pixel" in message and "Traceback" not in result.stderr
    assert not html.exists() and not html.with_suffix(".ipynb").exists()
    assert html.with_suffix(".failed.ipynb").exists()


def test_report_outside_coverage_fails_before_the_notebook_runs(cube, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: pytest.fail("a kernel was started"))
    html = tmp_path / "nowhere.html"
    code = main(["report", ALOS, "--x", "10", "10.1", "--y", "5", "5.1", "-o", str(html)])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("sar-helpers: No alos_palsar_mosaic data for x=[10.0, 10.1], y=[5.0, 5.1]")
    assert len(err.splitlines()) == 1 and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--x", "32.1", "31.9"], "x must be given smallest first"),
        (["--x", "31.9", "abc"], "'abc' is not a number"),
        (["--y", "30", "95"], "y must lie within -90..90"),
        (["--time", "2011", "2013"], "alos_palsar_mosaic has mosaics for 2007"),
        (["--time", "2022", "2015"], "time must be given earliest first"),
        (["--bands", "hh", "vv"], "alos_palsar_mosaic has no band vv"),
        (["--product", 'x"; import os; os.system("id") #'], "Unknown product"),
        (["--time", '2015"; import os; #'], "time must be one or two dates"),
        (["--output-crs", 'EPSG:4326"; print("hi"); "'], "output_crs must look like EPSG:6933"),
        (["--output-crs", "EPSG:6933"], "needs a resolution too"),
        (["--steps", "2015'); import os; ('"], "steps_to_plot must be years"),
    ],
)
def test_bad_parameters_fail_before_a_kernel_starts(tmp_path, monkeypatch, capsys, arguments, message):
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: pytest.fail("a kernel was started"))
    code = main(["report", ALOS, *arguments, "-o", str(tmp_path / "r.html")])
    assert code == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_unknown_parameter_names_are_refused(tmp_path, monkeypatch, capsys):
    from sar_helpers.tools.reports import ReportError, run

    with pytest.raises(ReportError, match="has no parameter colour; its parameters are product, x, y"):
        run(REPO / "notebooks" / "01_ALOS_PALSAR_annual_mosaic.ipynb", tmp_path / "r.html", {"colour": "red"})


def test_report_reprojected_from_the_parameters(cube, tmp_path):
    html = tmp_path / "jers_6933.html"
    result = run_cli(
        "report",
        str(REPO / "notebooks" / "02_JERS_annual_mosaic.ipynb"),
        "--output-crs",
        "EPSG:6933",
        "--resolution",
        "-25",
        "25",
        "--quiet",
        "-o",
        str(html),
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    assert "{'time': 1, 'y': 795, 'x': 773}" in stdout_of(html.with_suffix(".ipynb"))


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--time", "2015\n"], "time must be one or two dates"),
        (["--output-crs", "EPSG:6933\n", "--resolution", "25"], "output_crs must look like EPSG:6933"),
        (["--output-crs", "EPSG:999999", "--resolution", "25"], "is not a coordinate reference system pyproj knows"),
        (["--output-crs", "EPSG:6933", "--resolution", "nan"], "'nan' is not a finite number"),
        (["--output-crs", "EPSG:6933", "--resolution", "25", "inf"], "'inf' is not a finite number"),
        (["--output-crs", "EPSG:6933", "--resolution", "0"], "resolution must be one finite, non-zero number"),
        (["--x", "nan", "32"], "'nan' is not a finite number"),
        (["--steps", "２０１５"], "steps_to_plot must be years"),
        (["--steps", "2\u00b2"], "steps_to_plot must be years"),
    ],
)
def test_more_bad_parameters_fail_before_a_kernel_starts(tmp_path, monkeypatch, capsys, arguments, message):
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: pytest.fail("a kernel was started"))
    code = main(["report", ALOS, *arguments, "-o", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == 1 and message in err and "Traceback" not in err, err
    assert not list(tmp_path.iterdir())


SCALING = str(REPO / "notebooks" / "03_scaling_with_dask.ipynb")


def test_notebook_03_parameters_are_checked_against_each_other(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: pytest.fail("a kernel was started"))
    for arguments, message in (
        (
            ["--time", "2015", "2022", "--log-ratio-years", "2007", "2022"],
            "log_ratio_years must be two different mosaic years",
        ),
        (["--log-ratio-years", "2022", "2015"], "earlier first"),
        (["--log-ratio-years", "2012", "2022"], "2007, 2008, 2009, 2010, 2015"),
    ):
        code = main(["report", SCALING, *arguments, "-o", str(tmp_path / "r.html")])
        err = capsys.readouterr().err
        assert code == 1 and message in err, err


def test_notebook_03_years_and_log_ratio_follow_the_report(tmp_path):
    from sar_helpers.tools.reports import derived_parameters, notebook_parameters, validate

    defaults = notebook_parameters(REPO / "notebooks" / "03_scaling_with_dask.ipynb")
    derived = derived_parameters(defaults, {"time": ["2015", "2022"]}, tmp_path / "east cairo.html")
    assert derived["log_ratio_years"] == [2015, 2022] and derived["log_ratio_path"] == "east_cairo_log_ratio_hh.tif"
    assert validate({**defaults, **derived})["log_ratio_years"] == [2015, 2022]


def test_notebook_03_report_writes_its_log_ratio_beside_the_report(cube, tmp_path):
    before = sorted((REPO / "notebooks").glob("*.tif"))
    html = tmp_path / "recent.html"
    result = run_cli(
        "report",
        SCALING,
        "--x",
        "31.98",
        "32.02",
        "--y",
        "30.44",
        "30.48",
        "--time",
        "2015",
        "2022",
        "--quiet",
        "-o",
        str(html),
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    log_ratio = tmp_path / "recent_log_ratio_hh.tif"
    assert log_ratio.exists() and "Wrote recent_log_ratio_hh.tif" in stdout_of(html.with_suffix(".ipynb"))
    assert sorted((REPO / "notebooks").glob("*.tif")) == before, "nothing is written beside the tutorials"


def test_a_killed_reports_temporaries_are_removed_and_links_are_not_followed(cube, tmp_path):
    html = tmp_path / "r.html"
    dead = subprocess.Popen(["true"])
    dead.wait()
    leftover = tmp_path / f".r.{dead.pid}.abc123.ipynb"
    leftover.write_text("{}")
    alive = tmp_path / f".r.{os.getpid()}.abc123.ipynb"  # a run still going on: not ours to delete
    alive.write_text("{}")
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    html.symlink_to(target)  # planted where the report goes: replaced, never written through
    result = run_cli(
        "report",
        ALOS,
        "--x",
        "31.99",
        "32.01",
        "--y",
        "30.45",
        "30.47",
        "--time",
        "2021",
        "2022",
        "--quiet",
        "-o",
        str(html),
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    assert not leftover.exists() and alive.exists()
    assert target.read_text() == "keep me" and not html.is_symlink() and "<html" in html.read_text()


def test_a_malformed_time_for_notebook_03_is_named_before_anything_is_derived(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: pytest.fail("a kernel was started"))
    code = main(["report", SCALING, "--time", "abc", "-o", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == 1 and "time must be one or two dates" in err and "invalid literal" not in err


def test_a_uniform_area_is_checked_before_any_kernel(cube, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: pytest.fail("a kernel was started"))
    notebook = str(REPO / "notebooks" / "01_ALOS_PALSAR_annual_mosaic.ipynb")
    for box, message in (
        (["31.95", "30.5", "31.94", "30.6"], "uniform_area must be given smallest first"),
        (["10", "5", "10.01", "5.01"], "No alos_palsar_mosaic data over uniform_area 10.0 5.0 10.01 5.01"),
    ):
        code = main(["report", notebook, "--uniform-area", *box, "-o", str(tmp_path / "r.html")])
        err = capsys.readouterr().err
        assert code == 1 and message in err, err


def test_a_report_elsewhere_skips_the_lessons_own_uniform_area(tmp_path):
    from sar_helpers.tools.reports import derived_parameters, notebook_parameters

    defaults = notebook_parameters(REPO / "notebooks" / "01_ALOS_PALSAR_annual_mosaic.ipynb")
    html = tmp_path / "r.html"
    assert "uniform_area" not in derived_parameters(defaults, {"time": ["2015", "2022"]}, html)
    elsewhere = derived_parameters(defaults, {"x": [31.99, 32.01], "y": [30.45, 30.47]}, html)
    assert elsewhere["uniform_area"] is None
    mine = derived_parameters(defaults, {"x": [31.99, 32.01], "uniform_area": [31.995, 30.46, 32.0, 30.465]}, html)
    assert mine["uniform_area"] == [31.995, 30.46, 32.0, 30.465]


CHANGE = str(REPO / "notebooks" / "04_change_detection.ipynb")


def test_notebook_04_reports_another_area_and_years_and_says_when_there_is_no_reference(cube, tmp_path):
    """The desert east of Cairo has no forest/non-forest map: the lesson says so and goes on."""
    html = tmp_path / "cairo.html"
    arguments = ["--x", "31.95", "32.05", "--y", "30.40", "30.50", "--change-years", "2017", "2019"]
    result = run_cli("report", CHANGE, *arguments, "--quiet", "-o", str(html), timeout=900)
    assert result.returncode == 0, result.stderr
    printed = stdout_of(html.with_suffix(".ipynb"))
    assert "No alos_fnf_mosaic map for 2017 and 2019 here" in printed
    assert "the accuracy cannot be measured on this datacube" in printed
    assert (tmp_path / "cairo_forest_change.tif").exists()  # named after the report, beside it


def test_notebook_04_change_years_are_checked(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: pytest.fail("a kernel was started"))
    for arguments, message in (
        (["--change-years", "2019", "2015"], "change_years must be two different mosaic years"),
        (["--change-years", "2012", "2015"], "earlier first"),
        (["--change-years", "2015", "x"], "'x' is not a number"),
    ):
        code = main(["report", CHANGE, *arguments, "-o", str(tmp_path / "r.html")])
        err = capsys.readouterr().err
        assert code == 1 and message in err, err
