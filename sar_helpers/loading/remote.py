"""GDAL settings for reading files over HTTP, in a module of its own (no heavy imports), for the
kernels, ``load_mosaics`` and ``get_client``'s workers, which set them unless already set."""

#: No folder listing and no probe for side-car files when a file is opened (measured: 15 requests a
#: file become 5; at 50 ms a request the tutorial's eager load takes 21 s instead of 72 s,
#: benchmarks/remote.py).
REMOTE_READING = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}
