"""The published tutorial's DN-to-dB conversion against sar_helpers.to_db, in one run.

    .venv/bin/python benchmarks/calibration.py

On the tutorial load (12 x 811 x 900, hh/hv/mask/date) it prints: the time of each
(median of 15 runs, the two alternated so that both see the same machine) and their
ratio, beside the memory floor (writing the three float32 results once); the transient memory each needs beyond its result (peak
traced by tracemalloc minus the result's size) and their ratio; the largest
difference between the results; and where a notebook's time goes (load, conversion,
observation dates, plotting). Targets: at least 3x faster, at most half the transient
memory, same values to 1e-3 dB.
"""

import time
import tracemalloc

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import sar_helpers as sar
from sar_helpers.cubes.testcube.cube import TestCube

QUERY = dict(x=(31.90, 32.10), y=(30.37, 30.55), time=("2007", "2022"))


def published(ds):
    out = {}
    out["hh_db"] = 10 * np.log10(ds.hh.where(ds.mask.isin([50, 255])) ** 2) - 83.0
    out["hv_db"] = 10 * np.log10(ds.hv.where(ds.mask.isin([50, 255])) ** 2) - 83.0
    out["hvhh_db"] = out["hv_db"] - out["hh_db"]
    return out


def ours(ds):
    return sar.to_db(ds)


def result_bytes(result) -> int:
    return sum(result[name].nbytes for name in ("hh_db", "hv_db", "hvhh_db"))


def memory_floor(ds):
    """Only write the three results' bytes: what any conversion must at least do."""
    out = {}
    for name in ("hh_db", "hv_db", "hvhh_db"):
        out[name] = np.empty(ds.hh.shape, dtype=np.float32)
        out[name].fill(0)
    return out


def median_times(funcs, ds, repeat=15) -> list[float]:
    """Median time of each function, the functions run in turn ``repeat`` times."""
    times = [[] for _ in funcs]
    for _ in range(repeat):
        for func, spent in zip(funcs, times):
            start = time.perf_counter()
            func(ds)
            spent.append(time.perf_counter() - start)
    return [float(np.median(spent)) for spent in times]


def transient_bytes(func, ds) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    result = func(ds)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak - result_bytes(result)


def stage(name, func, timings):
    start = time.perf_counter()
    value = func()
    timings.append((name, time.perf_counter() - start))
    return value


def main() -> None:
    timings = []
    with TestCube().datacube() as dc:
        ds = stage(
            "load (dc.load + platforms)",
            lambda: sar.load_mosaics(dc, "alos_palsar_mosaic", ["hh", "hv", "mask", "date"], **QUERY),
            timings,
        )
    db = stage("conversion (to_db)", lambda: sar.to_db(ds), timings)
    stage("observation dates", lambda: sar.observation_dates(ds), timings)
    ds["hvhh"] = sar.hv_hh_ratio(ds)
    stage(
        "plotting (2 rgb, dates map, histograms)",
        lambda: [
            sar.rgb(ds, ["hh", "hv", "hvhh"], when=[0, 5, 10]),
            sar.rgb(db, ["hh_db", "hv_db", "hvhh_db"], when=[0, 5, 10]),
            sar.plot_observation_dates(ds, when=0),
            sar.histograms(db, ["hh_db", "hv_db", "hvhh_db"]),
        ],
        timings,
    )
    plt.close("all")

    t_pub, t_our, t_floor = median_times([published, ours, memory_floor], ds)
    m_pub, m_our = transient_bytes(published, ds), transient_bytes(ours, ds)
    pub, our = published(ds), ours(ds)
    worst = max(float(np.nanmax(np.abs(pub[n].values - our[n].values))) for n in ("hh_db", "hv_db", "hvhh_db"))
    same_nan = all(bool((np.isnan(pub[n].values) == np.isnan(our[n].values)).all()) for n in pub)

    print(f"tutorial load: {dict(ds.sizes)}")
    print(f"{'':28}{'published':>12}{'to_db':>12}{'ratio':>10}")
    print(f"{'time, median of 15 (s)':28}{t_pub:12.3f}{t_our:12.3f}{t_pub / t_our:9.1f}x   target >= 3x faster")
    print(f"memory floor (writing the three results): {t_floor:.3f} s; to_db takes {t_our / t_floor:.1f}x the floor")
    print(
        f"{'transient memory (MiB)':28}{m_pub / 2**20:12.1f}{m_our / 2**20:12.1f}{m_our / m_pub:9.2f}x   target <= 0.5x"
    )
    print(f"{'result size (MiB)':28}{result_bytes(pub) / 2**20:12.1f}{result_bytes(our) / 2**20:12.1f}")
    print(f"largest difference: {worst:.2e} dB (target <= 1e-3); NaN in the same places: {same_nan}")
    print("where a notebook's time goes:")
    total = sum(t for _, t in timings)
    for name, seconds in timings:
        print(f"  {name:42}{seconds:7.2f} s  {100 * seconds / total:4.0f}%")


if __name__ == "__main__":
    main()
