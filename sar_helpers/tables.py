"""Per-pixel table look-ups: the cheapest way to map small integer types (uint8 classes,
uint16 DNs) to anything, with one indexing operation per pixel and no temporaries."""

from __future__ import annotations

import numpy as np


def lookup(values: np.ndarray, invalid: np.ndarray | None = None, *, table: np.ndarray) -> np.ndarray:
    """``table[values]``, with NaN where ``invalid`` (for float tables)."""
    out = table[values]
    if invalid is not None:
        np.putmask(out, invalid, np.float32(np.nan))
    return out
