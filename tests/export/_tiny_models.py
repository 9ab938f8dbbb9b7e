"""Tiny random models of every method for the export tests."""

import torch

from kpdet.commands.models import default_configs_dir
from kpdet.config import load_config
from kpdet.methods import get_method

# small trace/test sizes per method's tiny preset (whole-image methods: multiples of 64)
SMALL = {"topdown": "[64, 64]", "coke": "[64, 64]", "kapao": "128", "clusternet": "[64, 64]", "klpnet": "128"}


def tiny_config(name: str, extra: tuple[str, ...] = ()):
    overrides = [f"method.input_size={SMALL[name]}"] if name in SMALL else []
    return load_config(default_configs_dir() / name / "tiny.yaml", [*overrides, *extra], resolve_paths=False)


def perturb_state(method, seed: int = 7) -> None:
    """Shift every saved float buffer a little, so that state a freshly built model starts with (zero
    prototypes, zero statistics) differs too: a predictor that failed to carry some of it would
    decode differently (parameters differ already: the predictor's model is built under another seed)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        saved = method.state_dict()  # non-persistent buffers come from the config: left alone
        for name, value in method.named_buffers():
            if name in saved and value.is_floating_point():
                value.add_(0.01 * torch.rand(value.shape, generator=g))


def _kapao_favours_poses(method) -> None:
    """An untrained KAPAO's arg-max class is nearly always a keypoint class, so it finds no pose:
    raise the pose classes' logits (outputs 5 … 5 + P of each anchor) so that it does. Its head
    starts with tiny weights, so every anchor would score the same to ~1e-8 and NMS/top-k would
    choose among exact ties by rounding (which differs between thread counts and ONNX Runtime):
    objectness weights large enough for the (small) untrained features make scores differ by anchor."""
    head = method.net.head
    g = torch.Generator().manual_seed(11)
    for conv in head.convs:
        with torch.no_grad():
            conv.bias.view(head.na, head.no)[:, 5: 5 + method.layout.num_pose_classes] += 6.0
            w = conv.weight.view(head.na, head.no, -1)
            w[:, 4] = 30.0 * torch.randn(w[:, 4].shape, generator=g)  # objectness


# methods whose untrained output decodes to nothing get a nudge: the tests need predictions
DETECTS = {"kapao": _kapao_favours_poses}


def build_tiny(name: str, schemas, extra: tuple[str, ...] = ()):
    """(method in eval mode, config): the tiny preset at a small size, random init, perturbed state."""
    cfg = tiny_config(name, extra)
    torch.manual_seed(0)
    method = get_method(name).from_config(cfg.method, schemas).eval()
    perturb_state(method)
    if name in DETECTS:
        DETECTS[name](method)
    return method, cfg
