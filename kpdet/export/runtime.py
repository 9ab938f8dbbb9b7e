"""Predict with an exported model: ONNX Runtime runs the forward pass, the method decodes.

::

    import kpdet
    predictor = kpdet.load("model.onnx")      # same Predictor API as for a run directory
    results = predictor.predict(["a.jpg"])

The method is rebuilt from the file's metadata (config, categories, decode-time state; see
kpdet.export.metadata), and its ``forward`` is replaced by :class:`OnnxForward`, so the
method's data pipeline, ``predict_batch`` (test-time augmentation included: each pass runs the
graph), ``decode`` and ``postprocess`` are the ones PyTorch inference uses.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kpdet.engine.checkpoint import CheckpointError, categories_to_schemas
from kpdet.errors import ConfigError
from kpdet.export.metadata import ExportInfo, unpack
from kpdet.export.onnx_export import INPUT


class OnnxForward:
    """Callable standing in for ``method.forward``: images (B, 3, H, W) → the outputs ``decode``
    takes, computed by an ONNX Runtime session. A graph exported with a fixed batch size runs
    the images in chunks of that size."""

    def __init__(self, session, method, info: ExportInfo, source: str):
        self.session, self.method, self.names, self.source = session, method, list(info.outputs), source
        shape = session.get_inputs()[0].shape  # e.g. ['batch', 3, 'height', 'width'] or [1, 3, 256, 256]
        self.batch = shape[0] if isinstance(shape[0], int) else None
        self.size = tuple(shape[2:]) if all(isinstance(v, int) for v in shape[2:]) else None

    def run(self, images: np.ndarray) -> list[np.ndarray]:
        """(B, 3, H, W) float32 → the graph's outputs, in ``self.names`` order."""
        if self.size is not None and tuple(images.shape[2:]) != self.size:
            raise ConfigError(f"{self.source} was exported for {self.size[0]}×{self.size[1]} inputs, got "
                              f"{images.shape[2]}×{images.shape[3]}; export without a fixed size")
        n = self.batch or len(images)
        parts = []
        for s in range(0, len(images), n):
            chunk = images[s: s + n]
            pad = n - len(chunk)
            if pad:
                chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
            parts.append([o[: n - pad] for o in self.session.run(self.names, {INPUT: chunk})])
        return [np.concatenate([p[j] for p in parts]) if len(parts) > 1 else parts[0][j]
                for j in range(len(self.names))]

    def __call__(self, images: torch.Tensor) -> Any:
        x = np.ascontiguousarray(images.detach().float().cpu().numpy())
        outs = self.run(x)
        return self.method.import_outputs({n: torch.from_numpy(o).to(images.device)
                                           for n, o in zip(self.names, outs)})


def session_for(path: str | os.PathLike, *, threads: int | None = None, providers: list[str] | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), opts, providers=providers or ["CPUExecutionProvider"])
    except Exception as e:  # ORT raises its own exception types for unreadable files
        raise CheckpointError(f"{path}: not a readable ONNX model ({type(e).__name__}: {e})") from None


def load_onnx(path: str | os.PathLike, *, device: str | None = "cpu", threads: int | None = None,
              providers: list[str] | None = None):
    """A :class:`kpdet.api.Predictor` whose method runs its forward pass in ONNX Runtime.

    ``device``: where decoding runs (the graph runs on ``providers``, default the CPU; pass
    ``["CUDAExecutionProvider"]`` with onnxruntime-gpu). ``threads``: ONNX Runtime's intra-op threads."""
    from kpdet.api import Predictor
    from kpdet.methods import get_method

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: ONNX model file not found")
    session = session_for(path, threads=threads, providers=providers)
    info = unpack(session.get_modelmeta().custom_metadata_map, str(path))
    method = get_method(info.method).from_config(info.method_config, categories_to_schemas(info.categories))
    own = method.state_dict()
    bad = [f"{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}" if k in own else f"{k}: not in the model"
           for k, v in info.decode_state.items() if k not in own or own[k].shape != v.shape]
    if bad:
        raise CheckpointError(f"{path}: decode state does not fit the rebuilt {info.method} model: " + "; ".join(bad[:5]))
    method.load_state_dict(info.decode_state, strict=False)
    method.eval()
    # an instance attribute shadows Method.forward, so method(x) inside predict_batch runs the graph
    method.forward = OnnxForward(session, method, info, str(path))
    return Predictor(method, device=device, checkpoint=path)
