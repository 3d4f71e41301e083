"""Build a zoo model with torch and export it to ONNX with a dynamic batch axis.

This module imports torch and runs only in a child process (``prepare.py`` starts it), so the
sweep's parent process never holds torch or the model's weights in memory.

Random weights: nothing is downloaded. Tensors a fresh model holds at one constant value (zero
biases, unit BN scales, running statistics) get small deterministic noise, because the ONNX exporter
merges initializers with equal values and the exported graph would then under-count parameters.
Batch normalization is exported unfolded (as trained frameworks ship it); engines fuse it anyway.
"""
import inspect
import warnings

OPSET = 13  # TensorRT 8.2 (JetPack 4.6) parses opsets up to 13; ONNX Runtime 1.10 up to 15
EXPORT_BATCH = 2  # trace with 2 so that no dimension of size 1 is mistaken for the batch


def _torchvision_builder(fn_name, kwargs):
    import torchvision

    fn = getattr(torchvision.models, fn_name)
    params = inspect.signature(fn).parameters
    try:
        if "weights" in params:
            return fn(weights=None, **kwargs)
        return fn(pretrained=False, **kwargs)  # torchvision < 0.13 (JetPack 4.6 ships 0.11)
    except TypeError:
        # Older torchvision builders may not accept init_weights; it only changes the start values.
        kwargs = dict((k, v) for k, v in kwargs.items() if k != "init_weights")
        if "weights" in params:
            return fn(weights=None, **kwargs)
        return fn(pretrained=False, **kwargs)


def build_module(builder, kwargs=None, cache_dir=None):
    """Instantiate the torch module named by a zoo ``builder`` string."""
    kwargs = dict(kwargs or {})
    kind, _, fn_name = builder.partition(":")
    if kind == "torchvision":
        return _torchvision_builder(fn_name, kwargs)
    if kind == "edgebench":
        from edgebench.models import defs

        return defs.BUILDERS[fn_name](**kwargs)
    if kind == "python":  # "python:package.module:function", called with cache_dir
        import importlib

        module_name, _, attr = fn_name.partition(":")
        return getattr(importlib.import_module(module_name), attr)(cache_dir=cache_dir, **kwargs)
    raise ValueError("unknown builder {!r}".format(builder))


def perturb_constant_tensors(module, seed=0):
    """Give every tensor that holds a single repeated value small deterministic noise."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        tensors = list(module.named_parameters()) + list(module.named_buffers())
        for name, tensor in tensors:
            if not tensor.is_floating_point() or tensor.numel() < 2:
                continue
            flat = tensor.detach().reshape(-1)
            if not bool((flat == flat[0]).all()):
                continue
            noise = (torch.rand(tensor.shape, generator=gen) - 0.5) * 0.02
            if name.endswith("running_var"):
                tensor.copy_(1.0 + noise.abs())
            elif name.endswith("weight"):
                tensor.copy_(1.0 + noise)
            else:
                tensor.copy_(noise)


def load_weights(module, path):
    """Load a local state dict (``--weights PATH``) into ``module``; strict, with a clear error."""
    import torch

    kwargs = {"map_location": "cpu"}
    if "weights_only" in inspect.signature(torch.load).parameters:
        kwargs["weights_only"] = True  # tensors only: a weights file must not be able to run code
    try:
        state = torch.load(path, **kwargs)
    except Exception as exc:  # torch raises many types for a bad file
        raise ValueError("cannot read weights {}: {}".format(path, exc))
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError("{} does not hold a state dict (got {})".format(path, type(state).__name__))
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ValueError("weights {} do not fit the model: {}".format(path, first))


def export_onnx(module, input_shape, path, opset=OPSET):
    """Export ``module`` (eval mode) to ``path`` with input ``input`` and a dynamic batch axis."""
    import torch

    module.eval()
    example = torch.randn((EXPORT_BATCH,) + tuple(input_shape))
    kwargs = dict(
        opset_version=opset,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        do_constant_folding=True,
    )
    params = inspect.signature(torch.onnx.export).parameters
    if "training" in params:
        kwargs["training"] = torch.onnx.TrainingMode.PRESERVE  # keep BN unfolded (see docstring)
    if "dynamo" in params:
        kwargs["dynamo"] = False  # the TorchScript exporter: no onnxscript needed, opset 13 allowed
    if "external_data" in params:
        kwargs["external_data"] = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad():
            torch.onnx.export(module, (example,), path, **kwargs)
