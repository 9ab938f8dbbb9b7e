import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import toy_method  # noqa: E402,F401  registers the "toy" methods

from toy_method import DOTS  # noqa: E402


@pytest.fixture
def toy_data(tiny_coco):
    """(train.json, val.json) of a tiny 3-keypoint set."""
    train = tiny_coco("data", n_images=10, schema=DOTS, name="train.json")
    val = tiny_coco("data", n_images=4, schema=DOTS, seed=1, name="val.json")
    return train, val


@pytest.fixture
def toy_overrides(toy_data):
    """Overrides that make a complete, fast toy config (3 batches of 4 per epoch)."""
    train, val = toy_data
    return ["method.name=toy", f"data.train={train}", f"data.val={val}", "train.epochs=2",
            "train.batch_size=4", "train.num_workers=0", "train.log_every=1", "train.eval_every=1",
            "train.optimizer.lr=0.01"]
