"""Prediction over whole scenes of any size, into probability and mask rasters and landslide polygons."""
