"""``python -m sar_helpers``: the ``sar-helpers`` command line."""

import sys

from sar_helpers.tools.cli import main

sys.exit(main())
