"""The local test datacube: synthetic JAXA mosaics indexed in an embedded PostgreSQL."""
