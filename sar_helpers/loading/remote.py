"""GDAL settings for reading files over HTTP, in a module of its own (no heavy imports), for the
kernels, ``load_mosaics`` and ``get_client``'s workers, which set them unless already set."""

#: - No folder listing and no probe for side-car files when a file is opened (measured: 13.1
#:   requests a file become 3.9: its size, its header, and its window's blocks, in up to three
#:   ranges asked at once; at 50 ms a request the tutorial's eager ``dc.load`` takes 16 s instead
#:   of 62 s, benchmarks/remote.py).
#: - 128 MiB for GDAL's cache of downloaded bytes (its default is 16 MiB), so that files read many
#:   at once keep their headers until their blocks are read: with a small cache, a file's header
#:   is pushed out by the other files' blocks and fetched again (measured: 60 of 64 files
#:   re-fetched something, 4.2 s instead of 1.7 s). GDAL reads it once, at a process's first read
#:   over HTTP.
#: - Three retries of a request the server answers 429, 500, 502, 503 or 504 (or a connection
#:   dropped), the first after half a second (GDAL's default: none; datacube's cloud defaults: 10).
REMOTE_READING = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_CACHE_SIZE": str(128 * 1024 * 1024),
    "GDAL_HTTP_MAX_RETRY": "3",
    "GDAL_HTTP_RETRY_DELAY": "0.5",
}
