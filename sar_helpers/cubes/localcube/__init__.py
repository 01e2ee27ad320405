"""A datacube of our own on this machine: an embedded PostgreSQL, an index, a config file.

Shared by the synthetic test cube (``sar_helpers.cubes.testcube``) and the cube of real
mosaics indexed from a STAC API (``sar_helpers.cubes.realcube``).
"""
