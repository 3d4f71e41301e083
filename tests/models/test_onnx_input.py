import numpy as np
import onnx
import onnx_models
import onnxruntime as ort
import pytest

from edgebench.errors import ModelError
from edgebench.models import onnx_input


def _run(model, batch):
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    x = np.random.RandomState(0).standard_normal((batch, 3, 8, 8)).astype(np.float32)
    return sess.run(None, {"input": x})[0]


def test_dynamic_batch_is_reported_dynamic(tiny_onnx):
    assert onnx_input.batch_status(onnx.load(tiny_onnx)) == "dynamic"


def test_fixed_batch_of_one_is_reported_fixed(tmp_path):
    model = onnx.load(onnx_models.conv_net(tmp_path / "m.onnx", batch=1))
    assert onnx_input.batch_status(model) == "fixed1"


def test_fixed_batch_above_one_is_refused_with_the_export_hint(tmp_path):
    model = onnx.load(onnx_models.conv_net(tmp_path / "m.onnx", batch=8))
    with pytest.raises(ModelError) as info:
        onnx_input.batch_status(model)
    assert "fixed batch of 8" in str(info.value) and "dynamic_axes" in str(info.value)


def test_reshape_with_literal_batch_runs_at_batch_two_after_rewrite(tmp_path):
    original = onnx.load(onnx_models.reshape_net(tmp_path / "m.onnx"))
    dynamic = onnx_input.make_batch_dynamic(original)
    onnx_input.verify_dynamic(original, dynamic, "m.onnx")
    assert _run(dynamic, 2).shape == (2, 5)


def test_rewritten_model_gives_the_original_output_at_batch_one(tmp_path):
    original = onnx.load(onnx_models.reshape_net(tmp_path / "m.onnx"))
    dynamic = onnx_input.make_batch_dynamic(original)
    np.testing.assert_allclose(_run(dynamic, 1), _run(original, 1), rtol=1e-6)


def test_model_that_mixes_the_batch_cannot_be_made_dynamic(tmp_path):
    original = onnx.load(onnx_models.batch_mixing_net(tmp_path / "m.onnx"))
    with pytest.raises(ModelError) as info:
        onnx_input.verify_dynamic(original, onnx_input.make_batch_dynamic(original), "m.onnx")
    assert "re-export" in str(info.value)


def test_corrupt_file_is_a_model_error_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07\x12garbage that is not protobuf" * 10)
    with pytest.raises(ModelError) as info:
        onnx_input.load_onnx(str(bad))
    assert "bad.onnx" in str(info.value)


def test_per_image_input_description_drops_the_batch(tiny_onnx):
    assert onnx_input.describe_inputs(onnx.load(tiny_onnx)) == [
        {"name": "input", "shape": [3, 16, 16], "dtype": "float32"}
    ]
