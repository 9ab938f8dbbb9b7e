"""ONNX export of a method's forward pass, and an ONNX Runtime predictor that feeds the graph's
outputs to the method's own ``decode`` (kpdet keeps one decoder per method).

* :func:`kpdet.export.onnx_export.export_onnx` writes ``model.onnx``: the graph of
  ``method.export_outputs(method(images))`` plus, in its metadata, what the predictor needs to
  rebuild the method without the checkpoint (config, categories, the decode-time state).
* :func:`kpdet.export.runtime.load_onnx` (also ``kpdet.load("model.onnx")``) returns a
  :class:`kpdet.api.Predictor` whose method runs its forward in ONNX Runtime.
"""
