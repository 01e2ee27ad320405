"""A local datacube of Digital Earth Africa's real mosaics, indexed from their STAC API.

``sar-helpers realcube up --bbox W S E N --years 2015-2022`` searches the catalog for the
product's items over that area and those years, converts each with datacube's own STAC
converter, and indexes it against Digital Earth Africa's product definitions in an
embedded PostgreSQL of its own (``.realcube/``). Pixels stay in the public bucket and
are read on demand over HTTPS; ``--download`` copies the COGs for offline work.
"""
