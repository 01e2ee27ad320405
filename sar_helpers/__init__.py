"""Helpers for JAXA's ALOS/ALOS-2 PALSAR and JERS-1 annual mosaics on the Open Data Cube."""

__version__ = "0.1.0"
