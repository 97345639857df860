"""Building the dataset (paper "Building the dataset"): scenes to tiles, quality control, the leakage audit.

``tiling`` cuts georeferenced scenes into tiles in a source's layout and writes a
tile index; ``qc`` scores every tile against the paper's four rules (image
boundary, label pixel proportion, cloud, seam); ``leakage`` finds tiles that share
content and the groups a leakage-free split must keep together.
"""
