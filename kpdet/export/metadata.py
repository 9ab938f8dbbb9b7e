"""What a kpdet ONNX file carries beside its graph, in the model's ``metadata_props``.

The ONNX Runtime predictor rebuilds the method from these (no checkpoint needed) and runs only
the forward pass in the graph; the method's own ``decode`` does the rest, so it needs:

    kpdet.format / kpdet.version   marker and format version
    kpdet.method                   method name (the registry key)
    kpdet.method_config            the method section of the run's config (JSON)
    kpdet.categories               COCO categories with keypoints, skeleton, flip pairs, sigmas (JSON)
    kpdet.outputs                  graph output names, in order (JSON); see kpdet.export.outputs
    kpdet.decode_state             ``method.decode_state()`` tensors: safetensors bytes, base64
    kpdet.source                   checkpoint and training step it was exported from (JSON)

safetensors holds plain tensors only, so reading a file never runs code from it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from kpdet.engine.checkpoint import CheckpointError

FORMAT, VERSION = "kpdet-onnx", 1
PREFIX = "kpdet."


@dataclass
class ExportInfo:
    method: str
    method_config: dict[str, Any]
    categories: list[dict[str, Any]]
    outputs: list[str]
    decode_state: dict[str, Any] = field(default_factory=dict)  # {state_dict key: tensor}
    source: dict[str, Any] = field(default_factory=dict)


def decode_state_dict(method) -> dict[str, Any]:
    """The ``state_dict`` entries named by ``method.decode_state()`` (names or module prefixes)."""
    state = method.state_dict()
    out = {}
    for name in method.decode_state():
        hit = {k: v for k, v in state.items() if k == name or k.startswith(name + ".")}
        if not hit:
            raise ValueError(f"{type(method).__name__}.decode_state(): '{name}' names no state_dict entry")
        out.update(hit)
    return {k: v.detach().cpu().clone().contiguous() for k, v in out.items()}


def pack(info: ExportInfo) -> dict[str, str]:
    from safetensors.torch import save

    props = {"format": FORMAT, "version": str(VERSION), "method": info.method,
             "method_config": json.dumps(info.method_config), "categories": json.dumps(info.categories),
             "outputs": json.dumps(info.outputs), "source": json.dumps(info.source)}
    if info.decode_state:
        props["decode_state"] = base64.b64encode(save(info.decode_state)).decode("ascii")
    return {PREFIX + k: v for k, v in props.items()}


def unpack(props: dict[str, str], source: str) -> ExportInfo:
    """ExportInfo from a model's metadata; a clear error for a foreign or newer file."""
    from safetensors.torch import load

    props = {k[len(PREFIX):]: v for k, v in props.items() if k.startswith(PREFIX)}
    if props.get("format") != FORMAT:
        raise CheckpointError(f"{source}: not a kpdet ONNX model (no '{PREFIX}format: {FORMAT}' metadata); "
                              "write one with `kpdet export RUN --format onnx`")
    if props.get("version") != str(VERSION):
        raise CheckpointError(f"{source}: kpdet ONNX format version {props.get('version')}, this kpdet reads {VERSION}")
    try:
        info = ExportInfo(props["method"], json.loads(props["method_config"]), json.loads(props["categories"]),
                          json.loads(props["outputs"]), source=json.loads(props.get("source", "{}")))
        if "decode_state" in props:
            info.decode_state = load(base64.b64decode(props["decode_state"], validate=True))
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{source}: damaged kpdet metadata ({type(e).__name__}: {e})") from None
    return info
