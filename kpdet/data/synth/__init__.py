"""Synthetic keypoint datasets (NumPy + OpenCV only, no torch): ``figures`` and ``objects``.

See dataset.py for the files written, scene.py for the labelling rules, occlusion.py for the
occlusion levels.
"""
