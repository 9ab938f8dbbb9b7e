"""kpdet: keypoint detection for people, animals, faces and multi-class rigid objects."""

__version__ = "0.1.0"

__all__ = ["load", "Predictor"]


def __getattr__(name: str):
    # Lazy: `import kpdet` stays torch-free; `kpdet.load` imports the API on first use.
    if name in ("load", "Predictor"):
        from kpdet import api

        return getattr(api, name)
    raise AttributeError(f"module 'kpdet' has no attribute {name!r}")
