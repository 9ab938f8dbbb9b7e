"""CoKe: contrastive keypoint learning with keypoint and clutter banks (Bai et al.)."""
