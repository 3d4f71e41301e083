"""Small ONNX models built with onnx.helper, runnable by onnxruntime 1.10 (Python 3.6) and newer.

They stand in for the zoo where torch is absent: real graphs, real onnxruntime, known figures.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 7  # onnxruntime 1.10 reads IR up to 8


def _save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="edgebench-tests")
    model.ir_version = IR_VERSION
    onnx.save(model, str(path))
    return str(path)


def _init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def conv_net(path, batch="batch", channels=8, size=16, classes=10, in_channels=3, seed=0, bn=False):
    """Conv(3x3, pad 1) [-> BN] -> Relu -> GlobalAveragePool -> Flatten -> Gemm.

    MACs per image = size*size*channels*in_channels*9 + channels*classes.
    Params = conv weight + conv bias + gemm weight + gemm bias (+ BN scale and bias).
    """
    rng = np.random.RandomState(seed)
    inits = [
        _init("conv_w", rng.standard_normal((channels, in_channels, 3, 3)).astype(np.float32) * 0.1),
        _init("conv_b", rng.standard_normal(channels).astype(np.float32) * 0.1),
        _init("fc_w", rng.standard_normal((classes, channels)).astype(np.float32) * 0.1),
        _init("fc_b", rng.standard_normal(classes).astype(np.float32) * 0.1),
    ]
    nodes = [helper.make_node("Conv", ["input", "conv_w", "conv_b"], ["c"], pads=[1, 1, 1, 1], name="conv")]
    last = "c"
    if bn:
        inits += [
            _init("bn_s", (1 + 0.1 * rng.standard_normal(channels)).astype(np.float32)),
            _init("bn_b", (0.1 * rng.standard_normal(channels)).astype(np.float32)),
            _init("bn_m", (0.1 * rng.standard_normal(channels)).astype(np.float32)),
            _init("bn_v", (1 + 0.1 * np.abs(rng.standard_normal(channels))).astype(np.float32)),
        ]
        nodes.append(helper.make_node("BatchNormalization", ["c", "bn_s", "bn_b", "bn_m", "bn_v"], ["cb"], name="bn"))
        last = "cb"
    nodes += [
        helper.make_node("Relu", [last], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["output"], transB=1, name="fc"),
    ]
    graph = helper.make_graph(
        nodes,
        "conv_net",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, in_channels, size, size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, classes])],
        inits,
    )
    return _save(graph, path)


def conv_net_macs(channels=8, size=16, classes=10, in_channels=3):
    return size * size * channels * in_channels * 9 + channels * classes


def reshape_net(path, batch=1, channels=4, size=8, classes=5, first=1):
    """Conv -> Reshape([first, -1]) -> MatMul: exported with a literal batch in the Reshape target."""
    rng = np.random.RandomState(1)
    flat = channels * size * size
    inits = [
        _init("w", rng.standard_normal((channels, 3, 3, 3)).astype(np.float32) * 0.1),
        _init("shape", np.array([first, -1], dtype=np.int64)),
        _init("m", rng.standard_normal((flat, classes)).astype(np.float32) * 0.1),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Reshape", ["c", "shape"], ["flat"], name="reshape"),
        helper.make_node("MatMul", ["flat", "m"], ["output"], name="matmul"),
    ]
    graph = helper.make_graph(
        nodes,
        "reshape_net",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, size, size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, classes])],
        inits,
    )
    return _save(graph, path)


def batch_mixing_net(path, size=4):
    """Fixed batch 1 whose output sums over the batch axis: cannot be made dynamic honestly."""
    graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["input"], ["output"], keepdims=0, name="sum")],
        "batch_mixing",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [])],
    )
    return _save(graph, path)
