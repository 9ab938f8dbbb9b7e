"""Cluster-wise learning network (Zhao et al., Pattern Recognition 2020): bottom-up, associative embedding."""
