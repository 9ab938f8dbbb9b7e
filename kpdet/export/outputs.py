"""Forward outputs (nested dicts / lists / tuples of tensors) ↔ flat, named tensors.

A graph has a flat list of named outputs; decoders take the method's own nesting. A name is the
path to the tensor, parts joined by dots: ``heatmaps``, ``raw.2`` (list index),
``sparse_tags.0``. Sequences come back as lists. The root is ``_`` when it is not a dict (a
bare tensor ``_``, a list ``_.0``, ``_.1``…), as graph output names cannot be bare numbers.
"""

from __future__ import annotations

from typing import Any

import torch

SEP, ROOT = ".", "_"


def flatten_named(outputs: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """Nested outputs → ``{path: tensor}`` in depth-first order (the graph's output order)."""
    if isinstance(outputs, torch.Tensor):
        return {prefix or ROOT: outputs}
    if isinstance(outputs, dict):
        items = list(outputs.items())
    elif isinstance(outputs, (list, tuple)):
        items = list(enumerate(outputs))
    else:
        raise TypeError(f"{prefix or 'outputs'}: expected tensors in dicts/lists/tuples, got {type(outputs).__name__}")
    named: dict[str, torch.Tensor] = {}
    for key, value in items:
        key = str(key)
        if not key or key == ROOT or SEP in key or key.isdigit() != isinstance(outputs, (list, tuple)):
            raise ValueError(f"output key {key!r} under {prefix or 'outputs'}: dict keys must be non-numeric, "
                             f"free of '{SEP}' and not '{ROOT}'")
        if isinstance(outputs, dict):
            named.update(flatten_named(value, f"{prefix}{SEP}{key}" if prefix else key))
        else:
            named.update(flatten_named(value, f"{prefix or ROOT}{SEP}{key}"))
    return named


def unflatten_named(named: dict[str, Any]) -> Any:
    """Inverse of :func:`flatten_named`: numeric path parts become list indices."""
    root: dict[str, Any] = {}
    for name, value in named.items():
        parts = name.split(SEP)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root[ROOT]) if list(root) == [ROOT] else _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        keys = sorted(node, key=int)
        if [int(k) for k in keys] != list(range(len(keys))):
            raise ValueError(f"output indices {keys} are not 0..{len(keys) - 1}")
        return [_lists(node[k]) for k in keys]
    return {k: _lists(v) for k, v in node.items()}
