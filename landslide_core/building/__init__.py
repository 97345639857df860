"""Building the dataset (paper "Building the dataset"): scenes to tiles, quality control, the leakage audit.

``tiling`` cuts georeferenced scenes into tiles in a source's layout and writes a
tile index; ``qc`` scores every tile for the four challenges the paper's Table 3
names (image boundary, label pixel proportion, cloud, seam) and flags it by the
rules quoted in :mod:`.qc.flags`; ``leakage`` finds tiles that share
content and the groups a leakage-free split must keep together.
"""
