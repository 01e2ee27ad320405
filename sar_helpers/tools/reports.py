"""Turn a tutorial notebook into a report for another area and years (papermill + nbconvert).

Parameters are checked before any kernel starts: numbers are numbers, boxes are
ordered, years belong to the product, products and bands exist, and every string
matches a strict pattern, so nothing a user types can become code in the notebook.
The area and years are then looked up in the datacube, so a query with no data
stops with one sentence instead of a traceback from inside a kernel.
"""

from __future__ import annotations

import ast
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sar_helpers.checks import no_data_message
from sar_helpers.loading.datahandling import reproject_options
from sar_helpers.products import PRODUCTS, get_product

# fullmatch with ASCII digits only: no trailing newline, no other scripts' digits.
_DATE = re.compile(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?")
_CRS = re.compile(r"EPSG:[0-9]{4,6}")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,100}\.tif")


class ReportError(RuntimeError):
    """The report cannot be made; the message says why and what to change."""


class OutputError(ReportError):
    """The report's output path cannot be used (a usage error: exit status 2)."""


@dataclass
class Report:
    html: Path
    notebook: Path


def notebook_parameters(notebook: Path) -> dict:
    """The notebook's parameters and their default values, read from its `parameters` cell."""
    import papermill

    found = papermill.inspect_notebook(str(notebook))
    if not found:
        raise ReportError(f"{notebook} has no cell tagged `parameters`, so it cannot be run as a report.")
    defaults = {}
    for name, info in found.items():
        try:
            defaults[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            raise ReportError(f"The default of {name} in {notebook} is not a plain value: {info['default']}") from None
    return defaults


def _pair(name: str, value, low: float, high: float) -> list[float]:
    try:
        first, second = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ReportError(f"{name} must be two numbers, e.g. --{name} {low + 1} {low + 2}; got {value!r}.") from None
    if not first < second:
        raise ReportError(f"{name} must be given smallest first: {first} is not below {second}.")
    if first < low or second > high:
        raise ReportError(f"{name} must lie within {low}..{high}; got {first} {second}.")
    return [first, second]


def _box(name: str, value) -> list[float]:
    """A (west, south, east, north) box in degrees, checked."""
    try:
        west, south, east, north = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ReportError(f"{name} must be four numbers, west south east north; got {value!r}.") from None
    _pair(name, (west, east), -180, 180)
    _pair(name, (south, north), -90, 90)
    return [west, south, east, north]


def _time(value, product) -> list[str] | str:
    values = [value] if isinstance(value, str) else list(value)
    if not 1 <= len(values) <= 2 or not all(isinstance(v, str) and _DATE.fullmatch(v) for v in values):
        raise ReportError(f"time must be one or two dates like 2015 or 2015-07-01; got {value!r}.")
    if values[0] > values[-1]:
        raise ReportError(f"time must be given earliest first: {values[0]} is after {values[-1]}.")
    first, last = int(values[0][:4]), int(values[-1][:4])
    years = product.years
    if first < years[0] or last > years[-1] or not any(first <= y <= last for y in years):
        raise ReportError(
            f"{product.name} has mosaics for {', '.join(map(str, years))}; {'-'.join(values)} is outside them."
        )
    return values if isinstance(value, (list, tuple)) else value


def _steps(value) -> list | None:
    if value is None:
        return None
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if not ((isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, str) and _DATE.fullmatch(v))):
            raise ReportError(f"steps_to_plot must be years, positions or dates like 2015-07-07; got {v!r}.")
    return list(values)


#: Parameters naming two mosaic years to compare (notebooks 03 and 04), and files a notebook writes.
YEAR_PAIRS = ("log_ratio_years", "change_years")
OUTPUT_FILES = ("log_ratio_path", "change_map_path")


def validate(parameters: dict) -> dict:
    """Checked, normalised parameters (lists for tuples, as papermill writes them); ReportError if bad."""
    clean = dict(parameters)
    for key in ("product", "compare_product"):
        if key in clean:
            if clean[key] not in PRODUCTS:
                raise ReportError(f"Unknown {key} {clean[key]!r}; the products are {', '.join(PRODUCTS)}.")
    product = get_product(clean.get("product", "alos_palsar_mosaic"))
    if clean.get("uniform_area") is not None:
        clean["uniform_area"] = _box("uniform_area", clean["uniform_area"])
    if "x" in clean:
        clean["x"] = _pair("x", clean["x"], -180, 180)
    if "y" in clean:
        clean["y"] = _pair("y", clean["y"], -90, 90)
    if "time" in clean:
        clean["time"] = _time(clean["time"], product)
    if "compare_time" in clean:
        clean["compare_time"] = _time(clean["compare_time"], get_product(clean.get("compare_product", product.name)))
    if "bands" in clean:
        bands = clean["bands"]
        if not isinstance(bands, (list, tuple)) or not all(isinstance(b, str) for b in bands):
            raise ReportError(f"bands must be a list of band names; got {bands!r}.")
        unknown = [b for b in bands if b not in product.bands]
        if unknown:
            raise ReportError(
                f"{product.name} has no band {', '.join(unknown)}; its bands are {', '.join(product.bands)}."
            )
        clean["bands"] = list(bands)
    if "steps_to_plot" in clean:
        clean["steps_to_plot"] = _steps(clean["steps_to_plot"])
    crs, resolution = clean.get("output_crs"), clean.get("resolution")
    if crs is not None and not (isinstance(crs, str) and _CRS.fullmatch(crs)):
        raise ReportError(f"output_crs must look like EPSG:6933; got {crs!r}.")
    if resolution is not None:
        values = resolution if isinstance(resolution, (list, tuple)) else [resolution]
        clean["resolution"] = list(values) if len(values) == 2 else values[0]
    try:
        reproject_options(crs, clean.get("resolution"))
    except ValueError as err:
        raise ReportError(str(err)) from None
    for key in YEAR_PAIRS:
        if key in clean:
            clean[key] = _year_pair(key, clean[key], product, clean.get("time"))
    for key in OUTPUT_FILES:
        path = clean.get(key)
        if path is not None and not (isinstance(path, str) and _FILE_NAME.fullmatch(path)):
            raise ReportError(f"{key} must be a plain file name ending in .tif; got {path!r}.")
    return clean


def _years_in(time, product) -> list[int]:
    """The product's mosaic years that ``time`` (one or two dates) spans."""
    values = [time] if isinstance(time, str) else list(time)
    first, last = int(values[0][:4]), int(values[-1][:4])
    return [y for y in product.years if first <= y <= last]


def _year_pair(key: str, value, product, time) -> list[int]:
    try:
        before, after = (int(v) for v in value)
    except (TypeError, ValueError):
        option = "--" + key.replace("_", "-")
        raise ReportError(f"{key} must be two years, e.g. {option} 2007 2022; got {value!r}.") from None
    loaded = _years_in(time, product) if time is not None else list(product.years)
    missing = [y for y in (before, after) if y not in loaded]
    if missing or not before < after:
        raise ReportError(
            f"{key} must be two different mosaic years that the report loads, earlier first "
            f"({', '.join(map(str, loaded))}); got {before} {after}."
        )
    return [before, after]


def derived_parameters(defaults: dict, overrides: dict, html: Path) -> dict:
    """Overrides that follow from the others: the log-ratio's years follow --time unless
    given, and its file is named after the report, so reports in one folder never share it."""
    derived = dict(overrides)
    product = get_product(derived.get("product", defaults.get("product", "alos_palsar_mosaic")))
    for key in YEAR_PAIRS:
        if key in defaults and key not in derived and "time" in derived:
            years = _years_in(_time(derived["time"], product), product)  # a bad --time is named here
            if len(years) >= 2:
                derived[key] = [years[0], years[-1]]
    for key in OUTPUT_FILES:
        if key in defaults and key not in derived:
            derived[key] = f"{re.sub(r'[^A-Za-z0-9_.-]', '_', html.stem)}_{defaults[key]}"
    if defaults.get("uniform_area") and "uniform_area" not in derived and not _inside(defaults, derived):
        derived["uniform_area"] = None  # the lesson's box is not in the report's area: its sections say so
    return derived


def _inside(defaults: dict, derived: dict) -> bool:
    """Is the notebook's own uniform_area inside the report's area?"""
    try:
        west, south, east, north = defaults["uniform_area"]
        x0, x1 = derived.get("x", defaults.get("x", (-180, 180)))
        y0, y1 = derived.get("y", defaults.get("y", (-90, 90)))
        return x0 <= west and east <= x1 and y0 <= south and north <= y1
    except (TypeError, ValueError):
        return True  # not numbers: validate() names what is wrong


def check_coverage(parameters: dict) -> None:
    """Stop with one sentence if the datacube has no data for the area and years."""
    import datacube

    product = parameters.get("product", "alos_palsar_mosaic")
    query = {k: parameters[k] for k in ("x", "y", "time") if k in parameters}
    time = query.get("time")
    if isinstance(time, list):
        query["time"] = tuple(time)
    with datacube.Datacube(app="sar-helpers-report") as dc:
        if not dc.find_datasets(product=product, **query):
            raise ReportError(no_data_message(product, query))
        if parameters.get("uniform_area") is not None:
            west, south, east, north = parameters["uniform_area"]
            box = {**query, "x": (west, east), "y": (south, north)}
            if not dc.find_datasets(product=product, **box):
                raise ReportError(
                    f"No {product} data over uniform_area {west} {south} {east} {north}: give a box of uniform, "
                    "unchanging ground in your area with --uniform-area W S E N."
                )


def check_output(html: Path, notebook: Path) -> Path:
    """The report's path, checked before any kernel starts: an ``.html`` file in a folder we
    can write, and nothing it writes (report, executed notebook) replaces a tutorial notebook."""
    html = Path(html).expanduser()
    if html.suffix.lower() != ".html":
        raise OutputError(f"The report is HTML: give -o a path ending in .html, not {html}.")
    html = html.parent.resolve() / html.name
    if html.is_dir():
        raise OutputError(f"{html} is a folder; give -o the path of the report's .html file inside it.")
    sources = notebook.parent.resolve()
    if html.parent == sources or sources in html.parents:
        raise OutputError(
            f"{html} is in {sources}, beside the tutorial notebooks, which a report must never overwrite. "
            "Write reports elsewhere, e.g. -o reports/NAME.html."
        )
    try:
        html.parent.mkdir(parents=True, exist_ok=True)
        probe, probe_path = tempfile.mkstemp(dir=html.parent, prefix=".write-test-")
        os.close(probe)
        os.unlink(probe_path)
    except OSError as err:
        raise OutputError(
            f"Cannot write the report into {html.parent} ({err.strerror or err}). Choose a folder you can write with -o."
        ) from None
    return html


def _local_test_cube():
    """The test cube the datacube config names, or None for any other datacube."""
    from sar_helpers.cubes.localcube.base import is_local_cube_config
    from sar_helpers.cubes.testcube.cube import TestCube

    config = Path(os.environ.get("ODC_CONFIG_PATH", "").split(":")[0] or "/nonexistent")
    if not is_local_cube_config(config) or "testcube" not in config.read_text():
        return None
    return TestCube(config.parent)


def _damaged_sentence(verify: bool) -> str | None:
    """One sentence naming the test cube's damaged files (by size; by checksum with ``verify``)."""
    cube = _local_test_cube()
    damaged = [path for files in cube.damaged(verify).values() for path in files] if cube else []
    if not damaged:
        return None
    return (
        f"The test cube's file {damaged[0]} is damaged"
        + (f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else "")
        + f": run `sar-helpers testcube up{' --verify' if verify else ''}` to render it again, then run this "
        "report again."
    )


def check_local_files() -> None:
    """If the datacube is the local test cube, stop with one sentence when its files are damaged."""
    sentence = _damaged_sentence(verify=False)
    if sentence:
        raise ReportError(sentence)


def _remove_stale_temporaries(html: Path) -> None:
    """Delete temporaries that an earlier run for ``html`` left when it was killed
    (``.STEM.PID.*.ipynb|html`` whose process is gone)."""
    import psutil

    pattern = re.compile(rf"\.{re.escape(html.stem)}\.([0-9]+)\.[A-Za-z0-9_]+\.(ipynb|html)")
    for path in html.parent.iterdir():
        match = pattern.fullmatch(path.name)
        if match and not psutil.pid_exists(int(match.group(1))) and path.is_file() and not path.is_symlink():
            path.unlink()


def _failure(err, failed: Path) -> ReportError:
    """One sentence for a notebook that stopped: the cell, the error, and what to do."""
    from sar_helpers.errors import unreadable_file_sentence

    reason = (err.evalue or "").strip().splitlines()
    hint = unreadable_file_sentence("\n".join(err.traceback or [])) if err.ename == "RasterioIOError" else None
    # A file changed without changing its size passes the check before the run: its bytes tell.
    hint = hint or _damaged_sentence(verify=True)
    return ReportError(
        f"The notebook stopped in cell {err.exec_count} with {err.ename}"
        f"{': ' + reason[0] if reason else ''}. {hint + ' ' if hint else ''}"
        f"No report was written; the executed notebook is {failed}."
    )


def _checked_run(notebook: Path, html: Path, overrides: dict) -> tuple[Path, dict]:
    """The report's path and the parameters that change, once every check before a kernel passed:
    the notebook and its parameters, the output path, the data's coverage and its files."""
    if not notebook.exists():
        raise ReportError(f"No notebook at {notebook}.")
    defaults = notebook_parameters(notebook)
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ReportError(
            f"{notebook.name} has no parameter {', '.join(unknown)}; its parameters are {', '.join(defaults)}."
        )
    html = check_output(html, notebook)
    overrides = derived_parameters(defaults, overrides, html)
    parameters = validate({**defaults, **overrides})
    check_coverage(parameters)
    check_local_files()
    return html, {k: v for k, v in parameters.items() if k in overrides}


def run(notebook: Path, html: Path, overrides: dict, hide_input: bool = False, progress: bool = True) -> Report:
    """Execute ``notebook`` with ``overrides`` into ``html`` and an executed notebook beside it.

    Nothing is left at those paths unless the whole notebook ran: a failed run
    keeps its executed notebook as ``NAME.failed.ipynb`` for reading, and removes
    an older report at the same paths so that it cannot be taken for this one.
    """
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    notebook = Path(notebook).resolve()
    html, changed = _checked_run(notebook, html, overrides)
    executed = html.with_suffix(".ipynb")
    failed = html.with_suffix(".failed.ipynb")
    failed.unlink(missing_ok=True)
    # Temporaries in the destination, made with O_EXCL (never a planted file or link),
    # renamed over the final paths only when complete.
    _remove_stale_temporaries(html)
    prefix = f".{html.stem}.{os.getpid()}."
    handle, partial_ipynb_name = tempfile.mkstemp(dir=html.parent, prefix=prefix, suffix=".ipynb")
    os.close(handle)
    handle, partial_html_name = tempfile.mkstemp(dir=html.parent, prefix=prefix, suffix=".html")
    os.close(handle)
    partial_ipynb, partial_html = Path(partial_ipynb_name), Path(partial_html_name)
    try:
        try:
            papermill.execute_notebook(
                str(notebook),
                str(partial_ipynb),
                parameters=changed,
                cwd=str(html.parent),
                progress_bar=progress,
                report_mode=hide_input,
                kernel_name="python3",
            )
        except papermill.PapermillExecutionError as err:
            partial_ipynb.replace(failed)
            html.unlink(missing_ok=True)
            executed.unlink(missing_ok=True)
            raise _failure(err, failed) from None
        body, _ = HTMLExporter(exclude_input=hide_input).from_notebook_node(nbformat.read(partial_ipynb, as_version=4))
        partial_html.write_text(body, encoding="utf-8")
        partial_ipynb.replace(executed)
        partial_html.replace(html)
    finally:
        partial_ipynb.unlink(missing_ok=True)
        partial_html.unlink(missing_ok=True)
    return Report(html=html, notebook=executed)
