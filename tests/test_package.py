import subprocess
import sys

import sar_helpers as sar


def test_every_exported_name_resolves():
    for name in sar.__all__:
        assert callable(getattr(sar, name)), name


def test_the_command_line_does_not_import_plotting_libraries():
    code = "import sys, sar_helpers.cli; print(sorted(m for m in ('matplotlib', 'folium', 'distributed') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
