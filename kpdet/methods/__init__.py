"""The method registry: the one place a method's name maps to its class."""

from __future__ import annotations

import importlib

from kpdet.errors import ConfigError

# name -> module that defines and registers it; imported lazily so `kpdet eval` never loads torch.
_MODULES = {
    "topdown": "kpdet.methods.topdown.method",
    "kapao": "kpdet.methods.kapao.method",
    "coke": "kpdet.methods.coke.method",
    "clusternet": "kpdet.methods.clusternet.method",
    "klpnet": "kpdet.methods.klpnet.method",
}
_REGISTRY: dict[str, type] = {}


def register(cls: type) -> type:
    _REGISTRY[cls.name] = cls
    return cls


def get_method(name: str) -> type:
    if name not in _REGISTRY and name in _MODULES:
        importlib.import_module(_MODULES[name])
    if name not in _REGISTRY:
        raise ConfigError(f"unknown method '{name}'; available: {', '.join(sorted(_MODULES))}")
    return _REGISTRY[name]


def method_names() -> list[str]:
    return sorted(_MODULES)
