"""Top-down keypoint estimation: box → crop → heatmaps (SimpleBaseline; CCM builds on it)."""
