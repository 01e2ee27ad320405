"""Mosaics in and out: loading from a datacube, decoding chunks, writing COGs."""
