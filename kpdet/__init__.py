"""kpdet: keypoint detection for people, animals, faces and multi-class rigid objects."""

__version__ = "0.1.0"
