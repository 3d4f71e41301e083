import numpy as np
import onnx
import onnx_models
from onnx import TensorProto, helper, numpy_helper

from edgebench.models.counting import count_model, count_params


def _model(nodes, inputs, outputs, inits):
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    return model


def test_conv_and_gemm_macs_match_the_closed_form(tmp_path):
    path = onnx_models.conv_net(tmp_path / "m.onnx", channels=8, size=16)
    counts = count_model(onnx.load(path))
    assert counts.macs == onnx_models.conv_net_macs(channels=8, size=16)
    assert counts.uncounted == []


def test_gops_are_twice_the_macs_in_billions(tmp_path):
    counts = count_model(onnx.load(onnx_models.conv_net(tmp_path / "m.onnx")))
    assert counts.gops == 2.0 * counts.macs / 1e9


def test_params_count_conv_and_gemm_weights_and_biases(tmp_path):
    model = onnx.load(onnx_models.conv_net(tmp_path / "m.onnx", channels=8))
    assert count_params(model) == 8 * 3 * 9 + 8 + 10 * 8 + 10


def test_params_exclude_batchnorm_running_statistics(tmp_path):
    model = onnx.load(onnx_models.conv_net(tmp_path / "m.onnx", channels=8, bn=True))
    # BN adds its scale and bias (8 + 8), not its running mean and variance
    assert count_params(model) == 8 * 3 * 9 + 8 + 10 * 8 + 10 + 16


def test_matmul_macs_use_the_inner_dimension():
    w = numpy_helper.from_array(np.ones((6, 4), dtype=np.float32), "w")
    model = _model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5, 6])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5, 4])], [w])
    assert count_model(model).macs == 5 * 4 * 6


def test_gemm_with_transposed_a_reads_m_and_k_swapped():
    b = numpy_helper.from_array(np.ones((3, 7), dtype=np.float32), "b")
    model = _model([helper.make_node("Gemm", ["a", "b"], ["y"], transA=1, name="g")],
                   [helper.make_tensor_value_info("a", TensorProto.FLOAT, [3, 2])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 7])], [b])
    assert count_model(model).macs == 2 * 3 * 7


def test_grouped_conv_counts_input_channels_per_group():
    w = numpy_helper.from_array(np.ones((8, 1, 3, 3), dtype=np.float32), "w")
    model = _model([helper.make_node("Conv", ["x", "w"], ["y"], group=8, pads=[1, 1, 1, 1], name="dw")],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8, 10, 10])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8, 10, 10])], [w])
    assert count_model(model).macs == 8 * 10 * 10 * 9


def test_scalar_constants_are_not_parameters():
    lo = numpy_helper.from_array(np.array(0.0, dtype=np.float32), "lo")
    hi = numpy_helper.from_array(np.array(6.0, dtype=np.float32), "hi")
    model = _model([helper.make_node("Clip", ["x", "lo", "hi"], ["y"], name="relu6")],
                   [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])], [lo, hi])
    assert count_params(model) == 0


def test_an_initializer_shared_by_two_nodes_counts_once():
    w = numpy_helper.from_array(np.ones((4, 4), dtype=np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="a"),
             helper.make_node("MatMul", ["h", "w"], ["y"], name="b")]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])], [w])
    counts = count_model(model)
    assert counts.params == 16
    assert counts.macs == 2 * 16


def test_missing_shapes_are_recovered_by_running_the_model():
    # Reshape to a shape computed at run time: shape inference cannot know the MatMul input shape.
    w = numpy_helper.from_array(np.ones((12, 3), dtype=np.float32), "w")
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("ReduceProd", ["s"], ["n"], keepdims=1, name="prod"),
        helper.make_node("Reshape", ["x", "n"], ["flat"], name="reshape"),
        helper.make_node("Unsqueeze", ["flat", "axes"], ["row"], name="unsq"),
        helper.make_node("MatMul", ["row", "w"], ["y"], name="mm"),
    ]
    axes = numpy_helper.from_array(np.array([0], dtype=np.int64), "axes")
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 12])],
                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, axes])
    counts = count_model(model)
    assert counts.node_macs["mm"] == 12 * 3
