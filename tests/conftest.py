import os
from pathlib import Path

import pytest

from _tiny_coco import write_tiny_coco  # noqa: F401  (re-exported for fixtures below)

SHARED = Path(os.environ.get("KPDET_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real, human-labelled data beside the project. CI must fail, not skip, without it."""
    if not SHARED.is_dir():
        raise FileNotFoundError(f"shared data not found at {SHARED}; set KPDET_SHARED_DATA")
    return SHARED




@pytest.fixture
def tiny_coco(tmp_path):
    """Factory: ``tiny_coco(**kwargs) -> Path`` of a generated COCO JSON under tmp_path."""
    def make(subdir: str = "data", **kwargs) -> Path:
        return write_tiny_coco(tmp_path / subdir, **kwargs)
    return make


@pytest.fixture(scope="session")
def toy_run(tmp_path_factory):
    """Factory: ``toy_run(method="toy") -> Path`` of a run trained for 2 steps on a tiny 3-keypoint
    set (cached per method for the session). The toy methods live in tests/engine/toy_method.py."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "engine"))
    import toy_method  # noqa: F401  registers toy, toy2, toybox

    from kpdet.config import load_config
    from kpdet.engine.trainer import train
    from kpdet.schema import KeypointSchema

    dots = KeypointSchema("dots", ("a", "b", "c"), sigmas=(0.1, 0.1, 0.1))
    root = tmp_path_factory.mktemp("toy_runs")
    runs: dict[str, Path] = {}

    def make(method: str = "toy") -> Path:
        if method not in runs:
            data = write_tiny_coco(root / "data", n_images=8, schema=dots, name="train.json")
            cfg = load_config(None, [f"method.name={method}", f"data.train={data}", f"data.val={data}",
                                     "train.epochs=1", "train.batch_size=4", "train.num_workers=0"])
            train(cfg, root / method)
            runs[method] = root / method
        return runs[method]
    return make
