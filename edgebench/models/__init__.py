"""The model zoo, ONNX export with a dynamic batch axis, and parameter/MAC counting.

``resolve_model(name_or_path, cache_dir)`` is the entry point: it returns a ``PreparedModel`` with
the ONNX file to build engines from and its counted parameters and MACs. Importing this package
does not import torch (exports run in a child process).
"""
from edgebench.models.prepare import PreparedModel, default_cache_dir, resolve_model
from edgebench.models.registry import DEFAULT_MODELS, ZOO, ModelSpec, all_specs, get_spec

__all__ = [
    "DEFAULT_MODELS",
    "ZOO",
    "ModelSpec",
    "PreparedModel",
    "all_specs",
    "default_cache_dir",
    "get_spec",
    "resolve_model",
]
