"""Every registered method × every preset: build → dataset → forward → loss → backward → decode.

Methods are picked up from the registry (kpdet.methods._MODULES) and presets from
configs/<method>/*.yaml, so a new method is covered the moment it registers.

Paper-size presets run at a reduced ``method.input_size`` (crops: longer side 128; whole images:
256) so that CI stays within its budget on 2 cores; their sizes are checked by each method's
parameter-count tests, and everything else in the preset is exercised as written.
"""

import math

import pytest
import torch

from kpdet.commands.models import default_configs_dir, find_presets
from kpdet.config import load_config
from kpdet.data.coco import load_coco
from kpdet.methods import _MODULES, get_method, method_names
from kpdet.schema import COCO17
from kpdet.structures import Prediction

CONFIGS = default_configs_dir()
CASES = [pytest.param(name, path, id=f"{name}/{path.stem}")
         for name in method_names() for path in find_presets(CONFIGS, name)]


def load_method(name: str):
    try:
        return get_method(name)
    except ModuleNotFoundError as e:
        module = _MODULES[name]
        if e.name and (module == e.name or module.startswith(e.name + ".")):
            pytest.skip(f"method '{name}' is listed in kpdet.methods._MODULES but {module} is not on this branch")
        raise


def smoke_overrides(preset) -> list[str]:
    import yaml

    size = (yaml.safe_load(preset.read_text()).get("method") or {}).get("input_size")
    if isinstance(size, int) and size > 256:
        return ["method.input_size=256"]
    if isinstance(size, list) and max(size) > 128:
        f = 128 / max(size)
        return [f"method.input_size=[{', '.join(str(max(32, round(v * f / 32) * 32)) for v in size)}]"]
    return []


def test_registry_lists_methods():
    assert method_names(), "no method is registered in kpdet.methods._MODULES"


@pytest.mark.parametrize("name", method_names())
def test_method_imports_and_has_presets(name):
    cls = load_method(name)
    assert cls.name == name
    assert find_presets(CONFIGS, name), f"method '{name}' has no preset in {CONFIGS / name}"


@pytest.mark.parametrize("name, preset", CASES)
def test_preset_build_forward_loss_backward_decode(name, preset, tiny_coco):
    cls = load_method(name)
    cfg = load_config(preset, smoke_overrides(preset), resolve_paths=False)
    assert cfg.method.name == name
    coco = load_coco(tiny_coco(n_images=2, schema=COCO17, size=(128, 96), instances=2))
    torch.manual_seed(0)
    method = cls.from_config(cfg.method, coco.schemas)

    train_ds = method.build_dataset(coco, train=True)
    assert len(train_ds) > 0
    images, targets, meta = method.collate([train_ds[i] for i in range(min(2, len(train_ds)))])
    assert images.ndim == 4 and images.shape[1] == 3 and all("image_id" in m for m in meta)
    method.train()
    outputs = method(images)
    terms = method.loss(outputs, targets)
    assert terms and all(t.ndim == 0 and math.isfinite(float(t.detach())) for t in terms.values()), terms
    sum(terms.values()).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in method.parameters())
    method.eval()
    with torch.no_grad():
        preds = method.decode(method(images), meta)
    assert all(isinstance(p, Prediction) for p in preds)

    eval_ds = method.build_dataset(coco, train=False)
    images, _, meta = method.collate([eval_ds[i] for i in range(min(2, len(eval_ds)))])
    with torch.no_grad():
        preds = method.predict_batch(images, meta)
    # An untrained detector may keep nothing above its confidence thresholds: empty is valid here;
    # each method's own tests check decoding on planted outputs.
    assert isinstance(preds, list) and all(isinstance(p, Prediction) for p in preds)
    ids = {m["image_id"] for m in meta}
    assert all(p.image_id in ids and p.keypoints.shape == (COCO17.num_keypoints, 3) for p in preds)
    x = cls.example_input(cfg.method)
    assert x.ndim == 4 and x.shape[:2] == (1, 3)
