"""mmpose top-down models from their configs (random init, no weights), timed with kpdet's protocol
at 256×192. Run by benchmarks/speed_table.py with an interpreter that imports mmpose; prints one
JSON line per model (ORT columns only where that interpreter has onnxruntime).

    python benchmarks/peers/mmpose_topdown.py [--quick]

Its environment (never kpdet's): a Python 3.11 venv with the same torch wheel as kpdet, then
``pip install mmcv-lite==2.1.0 mmengine mmpose==1.3.2`` and ``pip install --no-deps mmdet==3.3.0``,
plus ``"setuptools<81"`` (mmengine imports pkg_resources), ``onnx onnxruntime`` (ORT columns) and
``pycocotools shapely terminaltables`` (imported by mmdet); see _stub_mmcv_ops for mmcv's ops.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CONFIGS = {
    "SimpleBaseline-R50": "body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py",
    "RTMPose-t": "body_2d_keypoint/rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py",
}


def _stub_mmcv_ops() -> None:
    """mmcv-lite (what installs here without an 11-minute CUDA-less build) has no compiled
    ``mmcv.ops``; mmpose imports it only for heads these two models do not use (EDPose's
    deformable attention). A stand-in module whose members fail when *called* lets the import go
    through; SimpleBaseline and RTMPose never touch it (a call would raise, not mis-measure)."""
    import importlib.abc
    import importlib.util
    import types

    if importlib.util.find_spec("mmcv") is None:
        return
    try:
        import mmcv.ops  # noqa: F401
        return
    except ImportError:
        pass

    class _Missing:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("mmcv.ops is not built in this environment (mmcv-lite)")

    def stub(fullname: str) -> types.ModuleType:
        module = types.ModuleType(fullname)
        module.__path__ = []  # a package, so that `mmcv.ops.nms` etc. import as stubs too

        def member(name: str):  # PEP 562 module __getattr__
            if name.startswith("__"):
                raise AttributeError(name)
            return _Missing

        module.__getattr__ = member
        return module

    class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, fullname, path, target=None):
            if fullname == "mmcv.ops" or fullname.startswith("mmcv.ops."):
                return importlib.util.spec_from_loader(fullname, self)
            return None

        def create_module(self, spec):
            return stub(spec.name)

        def exec_module(self, module):
            pass

    sys.meta_path.insert(0, _StubFinder())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()

    _stub_mmcv_ops()
    import mmpose
    import torch
    from mmpose.apis import init_model

    from speed_timing import QUICK, Protocol, count_gflops, export_bytes, max_abs_diff, measure, ort_session

    torch.set_num_threads(args.threads)
    protocol = QUICK if args.quick else Protocol()
    root = Path(mmpose.__file__).parent / ".mim" / "configs"

    class Forward(torch.nn.Module):  # the network alone: images → heatmaps / SimCC logits
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            out = self.model(x, None, mode="tensor")
            return tuple(out) if isinstance(out, (list, tuple)) else out

    for name, rel in CONFIGS.items():
        net = Forward(init_model(str(root / rel), None, device="cpu")).eval()  # no checkpoint: random init
        params = sum(p.numel() for p in net.parameters())
        x = torch.rand(1, 3, 256, 192)
        gflops = count_gflops(net, x)
        try:
            session = ort_session(export_bytes(net, x), args.threads)
        except ImportError:
            session = None
        row = measure(net, session, x, args.batch, args.threads, protocol)
        if session is not None:
            with torch.no_grad():
                ref = net(x)
            ref = list(ref) if isinstance(ref, tuple) else [ref]
            row["ort_max_abs_diff"] = max_abs_diff(ref, session.run(None, {"input": x.numpy()}))
        print(json.dumps({"name": f"mmpose {mmpose.__version__} {name}", "input": [256, 192], "params": params,
                          "gflops": gflops, **row}), flush=True)


if __name__ == "__main__":
    main()
