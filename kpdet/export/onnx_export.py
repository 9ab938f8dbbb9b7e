"""Export a method's forward pass to ONNX: the graph returns ``method.export_outputs(method(images))``.

Input ``input``: images (B, 3, H, W) float32 in [0, 1], exactly what ``method(images)`` takes (the
normalisation is inside the graph). H and W are dynamic unless ``dynamic_size=False`` (a
rectangular letterbox, for one, feeds varying sizes); B is 1 unless ``dynamic_batch``.

We trace with torch's TorchScript-based exporter (``dynamo=False``): it exports kpdet's tiny
presets in 1–4 s against 13–41 s for the dynamo exporter on one core, with identical outputs.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from kpdet.errors import ConfigError, KpdetError
from kpdet.export.metadata import ExportInfo, decode_state_dict, pack
from kpdet.fileio import atomic_open

INPUT = "input"  # not "images": a method may return (normalised) images as an output of that name
OPSET = 17


class ExportGraph(nn.Module):
    """images (B, 3, H, W) → the method's exported outputs as a tuple (ONNX graphs are flat)."""

    def __init__(self, method: nn.Module):
        super().__init__()
        self.method = method

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.method.export_outputs(self.method(images)).values())


def check_output_path(out: str | os.PathLike) -> Path:
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"{out}: is a directory; give the .onnx file to write")
    if not out.parent.is_dir():
        raise ConfigError(f"{out}: the output directory {out.parent} does not exist")
    return out


def require_onnxsim():
    try:
        import onnxsim
    except ImportError:
        raise ConfigError("--simplify needs the onnxsim package (pip install onnxsim)") from None
    return onnxsim


def export_onnx(method, out: str | os.PathLike, *, dynamic_batch: bool = False, dynamic_size: bool = True,
                simplify: bool = False, opset: int = OPSET, input_size: tuple[int, int] | None = None,
                source: dict | None = None) -> Path:
    """Write ``out`` (atomically) and return its path. ``input_size`` (H, W) overrides the trace
    size of ``method.example_input`` (the size of a fixed-size graph)."""
    import onnx

    from kpdet.engine.checkpoint import schemas_to_categories

    out = check_output_path(out)
    onnxsim = require_onnxsim() if simplify else None
    x = type(method).example_input(method.cfg)  # (1, 3, H, W)
    if input_size is not None:
        x = torch.zeros(1, 3, *input_size)
    if dynamic_batch:
        x = x.expand(2, -1, -1, -1).contiguous()  # a batch of 2 keeps the trace from fixing B = 1
    was_training = method.training
    method.eval()
    try:
        with torch.no_grad():
            names = list(method.export_outputs(method(x)))
        if INPUT in names:
            raise ValueError(f"{type(method).__name__}.export_outputs: '{INPUT}' is the graph's input name")
        axes = {0: "batch"} if dynamic_batch else {}
        dynamic = {INPUT: {**axes, **({2: "height", 3: "width"} if dynamic_size else {})}}
        dynamic.update({n: dict(axes) for n in names})
        buf = io.BytesIO()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's deprecation notice and tracer remarks
            torch.onnx.export(ExportGraph(method).eval(), (x,), buf, dynamo=False, input_names=[INPUT],
                              output_names=names, dynamic_axes=dynamic, opset_version=opset,
                              do_constant_folding=True)
    finally:
        method.train(was_training)
    model = onnx.load_from_string(buf.getvalue())
    if onnxsim is not None:
        model, ok = onnxsim.simplify(model)
        if not ok:
            raise KpdetError(f"{out}: onnxsim could not check the simplified graph against the original")
    info = ExportInfo(method.name, method.cfg.model_dump(mode="json"), schemas_to_categories(method.schemas),
                      names, decode_state_dict(method), dict(source or {}))
    del model.metadata_props[:]
    for key, value in pack(info).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    try:
        data = model.SerializeToString()
    except ValueError as e:  # protobuf's 2 GiB limit
        raise KpdetError(f"{out}: the model is too large for a single ONNX file ({e})") from None
    with atomic_open(out, "wb") as f:
        f.write(data)
    return out
