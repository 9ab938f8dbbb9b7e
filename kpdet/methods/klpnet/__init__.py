"""KLPNet: category-implicit keypoints and conditional link prediction (Yi-Ge et al.)."""
