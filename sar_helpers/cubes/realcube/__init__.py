"""A local datacube of real mosaics, indexed from a STAC API: Digital Earth Africa's (the default)
or Microsoft Planetary Computer's (``--source planetary-computer``, :mod:`.sources`).

``sar-helpers realcube up --bbox W S E N --years 2015-2022`` searches the source's catalog for the
product's items over that area and those years, rewrites them into our products' shape, converts
each with datacube's own STAC converter, and indexes it against the product definitions in an
embedded PostgreSQL of its own (``.realcube/``). Pixels stay where they are published and are read
on demand over HTTPS (Planetary Computer's through URLs signed when opened, :mod:`.signing`);
``--download`` copies the COGs for offline work.
"""
