import pytest

from edgebench.errors import ModelError
from edgebench.models.registry import DEFAULT_MODELS, ZOO, get_spec


def test_unknown_model_error_names_close_matches():
    with pytest.raises(ModelError) as info:
        get_spec("resnet15")
    assert "resnet152" in str(info.value) or "resnet18" in str(info.value)


def test_every_entry_carries_input_shape_family_and_cited_accuracy():
    for spec in ZOO.values():
        assert len(spec.input_shape) == 3, spec.name
        assert spec.family, spec.name
        assert spec.top1 is None or spec.source, spec.name


def test_default_sweep_is_the_seed_papers_model_set():
    for name in ("alexnet", "bn_nin", "googlenet", "vgg16", "vgg19", "resnet18", "resnet152",
                 "inception_v3", "inception_v4"):
        assert name in DEFAULT_MODELS


def test_inception_models_take_299_pixel_inputs():
    assert get_spec("inception_v3").input_shape == (3, 299, 299)
    assert get_spec("inception_v4").input_shape == (3, 299, 299)


def test_zoo_lists_every_network_the_issue_names():
    wanted = ("alexnet vgg11 vgg11_bn vgg13 vgg13_bn vgg16 vgg16_bn vgg19 vgg19_bn googlenet inception_v3 "
              "resnet18 resnet34 resnet50 resnet101 resnet152 densenet121 densenet161 densenet169 densenet201 "
              "squeezenet1_0 squeezenet1_1 mobilenet_v2 mobilenet_v3_small mobilenet_v3_large "
              "shufflenet_v2_x1_0 efficientnet_b0 lenet5 bn_nin mobilenet_v1 resnet20 inception_v4").split()
    assert sorted(set(wanted) - set(ZOO)) == []
