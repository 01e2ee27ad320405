"""Figures and maps of the mosaics: RGB composites, histograms, date maps, folium maps."""
