"""User ONNX models: read, find the batch axis, make a fixed batch of 1 dynamic, verify.

A sweep needs the first dimension of every graph input to be the batch. Many exported files fix it
to 1. We rewrite it to a symbolic ``batch`` (inputs and outputs), turn Reshape targets whose first
entry is a literal 1 into 0 ("copy the input's dimension"), then prove the result with onnxruntime:
batch 1 must give the original model's output, batch 2 must give two rows. If the proof fails the
model is refused with the reason; nothing guesses silently.
"""
import logging

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from edgebench.errors import ModelError

LOG = logging.getLogger(__name__)
BATCH_PARAM = "batch"

_NP_TYPES = {
    TensorProto.FLOAT: np.float32,
    TensorProto.FLOAT16: np.float16,
    TensorProto.DOUBLE: np.float64,
    TensorProto.INT64: np.int64,
    TensorProto.INT32: np.int32,
    TensorProto.INT8: np.int8,
    TensorProto.UINT8: np.uint8,
    TensorProto.BOOL: np.bool_,
}


def load_onnx(path):
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError, OSError, ...
        raise ModelError(
            "cannot read {} as an ONNX model ({}: {}); check the file is a complete .onnx export".format(
                path, type(exc).__name__, str(exc).strip().splitlines()[0] if str(exc).strip() else "corrupt"
            )
        )
    if not model.graph.node:
        raise ModelError("{} holds no ONNX graph (no nodes); is it really an ONNX model?".format(path))
    return model


def graph_inputs(model):
    """The real (non-initializer) inputs as dicts: name, dims (first = batch), elem_type."""
    init_names = set(i.name for i in model.graph.initializer)
    inputs = []
    for vi in model.graph.input:
        if vi.name in init_names:
            continue
        tt = vi.type.tensor_type
        dims = []
        for d in tt.shape.dim:
            if d.HasField("dim_value"):
                dims.append(int(d.dim_value))
            else:
                dims.append(d.dim_param or "?")
        inputs.append({"name": vi.name, "dims": dims, "elem_type": tt.elem_type})
    return inputs


def describe_inputs(model):
    """Per-image input descriptions for workers: name, shape without batch, numpy dtype name."""
    out = []
    for inp in graph_inputs(model):
        if not inp["dims"]:
            raise ModelError("input {!r} is a scalar; a batch axis is needed".format(inp["name"]))
        rest = inp["dims"][1:]
        if any(not isinstance(d, int) or d <= 0 for d in rest):
            raise ModelError(
                "input {!r} has non-batch dimensions that are not fixed ({}); export the model with "
                "fixed image sizes".format(inp["name"], "x".join(str(d) for d in inp["dims"]))
            )
        dtype = _NP_TYPES.get(inp["elem_type"])
        if dtype is None:
            raise ModelError(
                "input {!r} has element type {} which edgebench cannot feed".format(
                    inp["name"], TensorProto.DataType.Name(inp["elem_type"])
                )
            )
        out.append({"name": inp["name"], "shape": list(rest), "dtype": np.dtype(dtype).name})
    return out


def batch_status(model):
    """'dynamic', 'fixed1' or raise ModelError for a fixed batch other than 1."""
    inputs = graph_inputs(model)
    if not inputs:
        raise ModelError("the model has no inputs to feed")
    status = "dynamic"
    for inp in inputs:
        if not inp["dims"]:
            raise ModelError("input {!r} is a scalar; a batch axis is needed".format(inp["name"]))
        first = inp["dims"][0]
        if isinstance(first, int):
            if first == 1:
                status = "fixed1"
            else:
                raise ModelError(
                    "input {!r} has a fixed batch of {}; re-export it with a dynamic batch axis, e.g. "
                    "torch.onnx.export(..., dynamic_axes={{'{}': {{0: 'batch'}}}})".format(
                        inp["name"], first, inp["name"]
                    )
                )
    return status


def make_batch_dynamic(model):
    """Return a copy of ``model`` whose inputs and outputs have a symbolic first dimension."""
    new = onnx.ModelProto()
    new.CopyFrom(model)
    graph = new.graph
    init_names = set(i.name for i in graph.initializer)
    for vi in list(graph.input) + list(graph.output):
        if vi.name in init_names:
            continue
        dims = vi.type.tensor_type.shape.dim
        if len(dims):
            dims[0].Clear()
            dims[0].dim_param = BATCH_PARAM
    del graph.value_info[:]  # stale shapes with the old batch would contradict the new one
    inits = dict((i.name, i) for i in graph.initializer)
    for node in graph.node:
        if node.op_type != "Reshape" or len(node.input) < 2 or node.input[1] not in inits:
            continue
        if any(a.name == "allowzero" and a.i for a in node.attribute):
            continue
        init = inits[node.input[1]]
        target = numpy_helper.to_array(init).copy()
        if target.ndim == 1 and target.size >= 2 and target[0] == 1:
            target[0] = 0  # 0 = copy the input's first dimension (the batch)
            init.CopyFrom(numpy_helper.from_array(target.astype(np.int64), init.name))
    return new


def _random_feed(inputs, batch, seed=0):
    rng = np.random.RandomState(seed)
    feed = {}
    for inp in inputs:
        shape = [batch] + list(inp["shape"])
        dtype = np.dtype(inp["dtype"])
        if dtype.kind == "f":
            feed[inp["name"]] = rng.standard_normal(shape).astype(dtype)
        else:
            feed[inp["name"]] = np.zeros(shape, dtype=dtype)
    return feed


def _session(model_bytes):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])


def verify_dynamic(original, rewritten, path):
    """Prove the rewritten model is the original with a working batch axis, else ModelError."""
    inputs = describe_inputs(rewritten)
    try:
        orig_out = _session(original.SerializeToString()).run(None, _random_feed(inputs, 1))
        sess = _session(rewritten.SerializeToString())
        new_out = sess.run(None, _random_feed(inputs, 1))
        two = sess.run(None, _random_feed(inputs, 2))
    except Exception as exc:  # onnxruntime's own exception types
        raise ModelError(
            "{} has a fixed batch of 1 and does not run with a dynamic batch ({}); re-export it "
            "with a dynamic batch axis".format(path, str(exc).strip().splitlines()[0][:300])
        )
    for a, b in zip(orig_out, new_out):
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-4, atol=1e-5, equal_nan=True):
            raise ModelError(
                "{} has a fixed batch of 1 and making it dynamic changes its output; re-export it "
                "with a dynamic batch axis".format(path)
            )
    if not two or not two[0].shape or two[0].shape[0] != 2:
        raise ModelError(
            "{} has a fixed batch of 1 and its output does not follow the batch after rewriting "
            "(batch 2 gave shape {}); re-export it with a dynamic batch axis".format(
                path, tuple(two[0].shape) if two else None
            )
        )


def check_runs(model, path):
    """One batch-2 inference to prove a user model runs at all (corrupt graphs fail here)."""
    inputs = describe_inputs(model)
    try:
        outs = _session(model.SerializeToString()).run(None, _random_feed(inputs, 2))
    except Exception as exc:
        raise ModelError(
            "{} does not run in onnxruntime: {}".format(path, str(exc).strip().splitlines()[0][:300])
        )
    if outs and outs[0].shape and outs[0].shape[0] != 2:
        raise ModelError(
            "{}: the first output does not follow the batch (batch 2 gave shape {}); the first "
            "dimension of every input and output must be the batch".format(path, tuple(outs[0].shape))
        )
