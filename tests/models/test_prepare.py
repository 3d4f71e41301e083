import os

import onnx
import onnx_models
import pytest

from edgebench.errors import ModelError
from edgebench.models.prepare import resolve_model


def test_user_model_is_counted_and_keeps_its_own_file(tiny_onnx, cache_dir):
    prepared = resolve_model(tiny_onnx, cache_dir)
    assert prepared.onnx_path == os.path.abspath(tiny_onnx)
    assert prepared.macs == onnx_models.conv_net_macs()
    assert prepared.input_shape == (3, 16, 16)
    assert prepared.source == "onnx" and prepared.name == "tiny"


def test_user_model_figures_are_cached_by_content_hash(tiny_onnx, cache_dir):
    first = resolve_model(tiny_onnx, cache_dir)
    sidecar = os.path.join(cache_dir, "onnx", "user-{}.json".format(first.onnx_sha256[:16]))
    assert os.path.exists(sidecar)
    mtime = os.path.getmtime(sidecar)
    second = resolve_model(tiny_onnx, cache_dir)
    assert os.path.getmtime(sidecar) == mtime and second.macs == first.macs


def test_fixed_batch_model_is_rewritten_into_the_cache(tmp_path, cache_dir):
    path = onnx_models.conv_net(tmp_path / "fixed.onnx", batch=1)
    prepared = resolve_model(path, cache_dir)
    assert prepared.onnx_path.startswith(cache_dir) and prepared.onnx_path.endswith("-dynbatch.onnx")
    dims = onnx.load(prepared.onnx_path).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch"
    assert "rewritten" in " ".join(prepared.notes)


def test_missing_file_is_a_model_error(tmp_path, cache_dir):
    with pytest.raises(ModelError):
        resolve_model(str(tmp_path / "nope.onnx"), cache_dir)


def test_weights_with_an_onnx_file_are_refused(tiny_onnx, cache_dir, tmp_path):
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"x")
    with pytest.raises(ModelError):
        resolve_model(tiny_onnx, cache_dir, weights=str(weights))
