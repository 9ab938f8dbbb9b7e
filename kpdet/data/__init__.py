"""Datasets: COCO-format keypoint files, importers, synthetic generators, transforms."""
