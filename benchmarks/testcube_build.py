"""Build the tutorial test datacube from nothing and time it; prints one table.

    .venv/bin/python benchmarks/testcube_build.py

Measures, in a throw-away folder: the first `sar-helpers testcube up` (targets: under
60 s on 2 cores), its size on disk, a second `up` (target: under 5 s), and the
published tutorial's dc.load (12 x 811 x 900, hh/hv/mask/date).
"""

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sar_helpers.cubes.testcube.cube import TestCube


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def folder_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="sarcube-bench-"))
    up = [sys.executable, "-m", "sar_helpers", "testcube", "up", "--quiet", "--dir", str(folder)]
    try:
        first = timed(up)
        second = timed(up)
        cube = TestCube(folder)
        with cube.datacube() as dc:
            loads = []
            for _ in range(3):
                start = time.perf_counter()
                dc.load(
                    product="alos_palsar_mosaic",
                    x=(31.90, 32.10),
                    y=(30.37, 30.55),
                    time=("2007", "2022"),
                    measurements=["hh", "hv", "mask", "date"],
                )
                loads.append(time.perf_counter() - start)
        rows = [
            ("first up (build from nothing)", f"{first:.1f} s", "target < 60 s"),
            ("second up (nothing to do)", f"{second:.1f} s", "target < 5 s"),
            ("data files on disk", f"{folder_mib(folder / 'data'):.0f} MiB", ""),
            ("PostgreSQL folder on disk", f"{folder_mib(cube.server.data):.0f} MiB", ""),
            ("tutorial dc.load, best of 3", f"{min(loads):.2f} s", ""),
        ]
        for name, value, note in rows:
            print(f"{name:32} {value:>10}  {note}")
    finally:
        TestCube(folder).server.remove()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
