"""Zoo exports with torch: counted figures must equal the published ones."""
import numpy as np
import onnxruntime as ort
import pytest
from testutil import requires_torch

from edgebench.errors import ModelError
from edgebench.models.prepare import resolve_model

pytestmark = requires_torch


@pytest.fixture(scope="module")
def zoo_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("zoo-cache"))


@pytest.mark.slow  # exports a large network each (vgg16: ~20 s)
@pytest.mark.parametrize(
    "name, params, gmacs",
    [
        ("vgg16", 138357544, 15.47),
        ("resnet50", 25557032, 4.09),
        ("alexnet", 61100840, 0.714),
        ("googlenet", 6624904, 1.498),
    ],
)
def test_counted_figures_match_the_published_ones(zoo_cache, name, params, gmacs):
    prepared = resolve_model(name, zoo_cache)
    assert prepared.params == params
    assert prepared.macs / 1e9 == pytest.approx(gmacs, abs=0.0015)


@pytest.mark.slow  # an export each (5-10 s)
@pytest.mark.parametrize(
    "name",
    ["resnet18", "mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x1_0", "squeezenet1_1",
     "densenet121", "efficientnet_b0", "lenet5", "resnet20", "mobilenet_v1", "bn_nin"],
)
def test_onnx_parameter_count_equals_the_frameworks(zoo_cache, name):
    import json
    import os

    prepared = resolve_model(name, zoo_cache)
    sidecar = os.path.splitext(prepared.onnx_path)[0] + ".json"
    with open(sidecar) as fh:
        torch_params = json.load(fh)["torch_params"]
    assert prepared.params == torch_params
    assert prepared.uncounted_nodes == []


def test_inception_v4_definition_has_the_published_parameter_count():
    from edgebench.models.defs import InceptionV4

    assert sum(p.numel() for p in InceptionV4().parameters()) == 42679816


def test_exported_model_runs_at_any_batch(zoo_cache):
    prepared = resolve_model("resnet20", zoo_cache)
    sess = ort.InferenceSession(prepared.onnx_path, providers=["CPUExecutionProvider"])
    out = sess.run(None, {"input": np.zeros((3, 3, 32, 32), dtype=np.float32)})[0]
    assert out.shape == (3, 10)


def test_second_resolve_reuses_the_cached_export(zoo_cache):
    import os

    first = resolve_model("lenet5", zoo_cache)
    mtime = os.path.getmtime(first.onnx_path)
    second = resolve_model("lenet5", zoo_cache)
    assert second.onnx_path == first.onnx_path and os.path.getmtime(second.onnx_path) == mtime


def test_local_weights_change_the_export_and_clear_the_reference_accuracy(zoo_cache, tmp_path):
    import torch

    from edgebench.models.defs import LeNet5

    torch.manual_seed(3)
    path = tmp_path / "lenet.pt"
    torch.save(LeNet5().state_dict(), str(path))
    default = resolve_model("lenet5", zoo_cache)
    custom = resolve_model("lenet5", zoo_cache, weights=str(path))
    assert custom.onnx_sha256 != default.onnx_sha256
    assert custom.top1 is None and "user weights" in custom.top1_source


def test_weights_for_another_model_are_a_clear_error(zoo_cache, tmp_path):
    import torch

    path = tmp_path / "wrong.pt"
    torch.save({"foo": torch.zeros(3)}, str(path))
    with pytest.raises(ModelError) as info:
        resolve_model("lenet5", zoo_cache, weights=str(path))
    assert "do not fit" in str(info.value)
