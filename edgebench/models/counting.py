"""Parameters and multiply-accumulates counted on the ONNX graph an engine is built from.

Conventions (the ones torchvision's ``_ops`` metadata and the seed paper's figures use):

* **MACs** count Conv, ConvTranspose, Gemm and MatMul (and their quantized forms) only: one
  multiply-accumulate per weight per output element; no bias, BN, activation, pooling or
  elementwise adds. G-Ops = 2 x MACs / 1e9 (Canziani et al. counted a multiply and an add).
* **Parameters** are the elements of distinct initializers that feed a node, excluding tensors that
  are not learned: BatchNormalization running mean and variance, quantization scales and zero
  points, and scalars (clip bounds, constants of hard-swish and the like). A BN exported unfolded
  therefore counts its scale and bias, as the framework does.

Shapes come from ONNX shape inference with the batch fixed to 1. Where inference loses a shape
(computed Split sizes, for instance) and onnxruntime is importable, the missing shapes are read from
one real inference of a copy of the model whose intermediate tensors are exposed as outputs.
"""
import logging

from onnx import TensorProto, numpy_helper, shape_inference

LOG = logging.getLogger(__name__)

FLOAT_TYPES = (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16)
QUANT_WEIGHT_TYPES = (TensorProto.INT8, TensorProto.UINT8)

# Inputs that are never parameters, by op type and input position.
NON_PARAM_INPUTS = {
    "BatchNormalization": (3, 4),
    "QuantizeLinear": (1, 2),
    "DequantizeLinear": (1, 2),
    "QLinearConv": (1, 2, 4, 5, 6, 7),
    "QLinearMatMul": (1, 2, 4, 5, 6, 7),
    "ConvInteger": (2, 3),
    "MatMulInteger": (2, 3),
}


class ModelCounts(object):
    def __init__(self, params, macs, node_macs, uncounted):
        self.params = params
        self.macs = macs
        self.node_macs = node_macs  # node name -> MACs per image
        self.uncounted = uncounted  # names of MAC-bearing nodes whose shapes stayed unknown

    @property
    def gops(self):
        return 2.0 * self.macs / 1e9

    def to_dict(self):
        return {
            "params": self.params,
            "macs": self.macs,
            "gops": self.gops,
            "uncounted_nodes": list(self.uncounted),
        }


def _prod(values):
    out = 1
    for v in values:
        out *= v
    return out


def _numel(dims):
    return _prod(int(d) for d in dims)


def count_params(model):
    """Learned parameters in ``model`` (an onnx.ModelProto); see the module docstring."""
    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    excluded = set()
    used = set()
    for node in graph.node:
        skip = NON_PARAM_INPUTS.get(node.op_type, ())
        for pos, name in enumerate(node.input):
            if name not in inits:
                continue
            if pos in skip:
                excluded.add(name)
            else:
                used.add(name)
    total = 0
    for name in used - excluded:
        init = inits[name]
        if init.data_type not in FLOAT_TYPES + QUANT_WEIGHT_TYPES:
            continue
        n = _numel(init.dims)
        if n > 1:
            total += n
    return total


def _skeleton(model):
    """A copy of ``model`` with the batch fixed to 1 and large float initializers replaced by typed
    graph inputs (no data), so shape inference works on models of any size without copying weights."""
    from onnx import helper

    light = type(model)()
    light.CopyFrom(model)
    graph = light.graph
    keep = []
    for init in graph.initializer:
        if init.data_type in FLOAT_TYPES and _numel(init.dims) > 64:
            graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
        else:
            keep.append(init)
    del graph.initializer[:]
    graph.initializer.extend(keep)
    init_names = set(i.name for i in graph.initializer)
    for inp in graph.input:
        if inp.name in init_names:
            continue
        dims = inp.type.tensor_type.shape.dim
        if len(dims) and not dims[0].HasField("dim_value"):
            dims[0].Clear()
            dims[0].dim_value = 1
    del graph.value_info[:]
    return light


def _infer(model):
    try:
        return shape_inference.infer_shapes(model, data_prop=True)
    except TypeError:  # onnx < 1.10 has no data_prop
        return shape_inference.infer_shapes(model)


def _shape_map(model):
    shapes = {}

    def add(value_info):
        tt = value_info.type.tensor_type
        if not tt.HasField("shape"):
            return
        dims = []
        for d in tt.shape.dim:
            dims.append(int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else None)
        shapes[value_info.name] = dims

    for vi in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        add(vi)
    for init in model.graph.initializer:
        shapes[init.name] = [int(d) for d in init.dims]
    return shapes


def _known(shape):
    return shape is not None and all(d is not None for d in shape)


# op type -> (activation input index, weight input index) for MAC counting
_CONV_LIKE = {"Conv": (0, 1), "ConvInteger": (0, 1), "QLinearConv": (0, 3)}
_MATMUL_LIKE = {"MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3)}
MAC_OPS = tuple(_CONV_LIKE) + tuple(_MATMUL_LIKE) + ("Gemm", "ConvTranspose")


def _needed_tensors(node):
    op = node.op_type
    if op in _CONV_LIKE:
        return [node.input[_CONV_LIKE[op][1]], node.output[0]]
    if op == "ConvTranspose":
        return [node.input[0], node.input[1]]
    if op == "Gemm":
        return [node.input[0], node.input[1]]
    if op in _MATMUL_LIKE:
        return [node.input[_MATMUL_LIKE[op][0]], node.output[0]]
    return []


def _node_macs(node, shapes):
    """MACs of one node at batch 1, or None when a needed shape is unknown."""
    op = node.op_type
    get = shapes.get
    if op in _CONV_LIKE:
        w, y = get(node.input[_CONV_LIKE[op][1]]), get(node.output[0])
        if not (_known(w) and _known(y)):
            return None
        return _prod(y) * _prod(w[1:])
    if op == "ConvTranspose":
        x, w = get(node.input[0]), get(node.input[1])
        if not (_known(x) and _known(w)):
            return None
        return _prod(x) * _prod(w[1:])
    if op == "Gemm":
        a, b = get(node.input[0]), get(node.input[1])
        if not (_known(a) and _known(b)) or len(a) != 2 or len(b) != 2:
            return None
        attrs = dict((at.name, at.i) for at in node.attribute)
        m, k = (a[1], a[0]) if attrs.get("transA") else (a[0], a[1])
        n = b[0] if attrs.get("transB") else b[1]
        return m * k * n
    if op in _MATMUL_LIKE:
        a, y = get(node.input[_MATMUL_LIKE[op][0]]), get(node.output[0])
        if not (_known(a) and _known(y)) or not a:
            return None
        return _prod(y) * a[-1]
    return 0


def _shapes_from_runtime(model, names):
    """Run the (batch-1) model once in onnxruntime with ``names`` exposed; return their shapes."""
    try:
        import numpy as np
        import onnxruntime as ort
        from onnx import helper
    except ImportError:
        return {}
    probe = type(model)()
    probe.CopyFrom(model)
    existing = set(o.name for o in probe.graph.output)
    for name in names:
        if name not in existing:
            probe.graph.output.append(helper.make_empty_tensor_value_info(name))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        sess = ort.InferenceSession(probe.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        init_names = set(i.name for i in model.graph.initializer)
        feed = {}
        for inp in sess.get_inputs():
            if inp.name in init_names:
                continue
            shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
            dtype = np.float32 if "float" in inp.type else np.int64
            feed[inp.name] = np.zeros(shape, dtype=dtype)
        outs = sess.run(list(names), feed)
    except Exception as exc:  # onnxruntime raises its own types; counting degrades, it never fails
        LOG.info("runtime shape probe failed: %s", exc)
        return {}
    return dict((name, list(out.shape)) for name, out in zip(names, outs))


def count_model(model):
    """Count parameters and per-image MACs of ``model`` (onnx.ModelProto with initializers)."""
    params = count_params(model)
    light = _skeleton(model)
    try:
        inferred = _infer(light)
    except Exception as exc:  # onnx raises InferenceError and friends; fall back to the runtime probe
        LOG.info("shape inference failed: %s", exc)
        inferred = light
    shapes = _shape_map(inferred)
    macs_by_node = {}
    missing = []
    for index, node in enumerate(model.graph.node):
        if node.op_type not in MAC_OPS:
            continue
        name = node.name or "{}_{}".format(node.op_type, index)
        value = _node_macs(node, shapes)
        macs_by_node[name] = value
        if value is None:
            missing.append((name, node))
    if missing:
        names = []
        for _, node in missing:
            names.extend(n for n in _needed_tensors(node) if not _known(shapes.get(n)))
        runtime = _shapes_from_runtime(_with_weights_batch1(model), sorted(set(names)))
        shapes.update(runtime)
        for name, node in missing:
            macs_by_node[name] = _node_macs(node, shapes)
    uncounted = [name for name, value in macs_by_node.items() if value is None]
    macs = sum(v for v in macs_by_node.values() if v)
    return ModelCounts(params, macs, macs_by_node, uncounted)


def _with_weights_batch1(model):
    fixed = type(model)()
    fixed.CopyFrom(model)
    init_names = set(i.name for i in fixed.graph.initializer)
    for inp in fixed.graph.input:
        if inp.name in init_names:
            continue
        dims = inp.type.tensor_type.shape.dim
        if len(dims) and not dims[0].HasField("dim_value"):
            dims[0].Clear()
            dims[0].dim_value = 1
    return fixed


def initializer_array(model, name):
    for init in model.graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    raise KeyError(name)
