"""The model zoo: name -> how to build it, its input, and what accuracy it is known to reach.

Nothing here imports torch. Each entry records the published figures (parameters, MACs, top-1/top-5)
with their source, so ``edgebench models`` can answer without building anything; the figures a
sweep stores are counted from the exported ONNX graph (``counting.py``).

Accuracies are reference figures of the trained fp32 model; the zoo builds random weights (nothing
is downloaded), so an engine's own accuracy is measured separately (``edgebench accuracy``).
"""
import difflib

from edgebench.calibration import digits_recipe
from edgebench.errors import ModelError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)

TV = "torchvision IMAGENET1K_V1 weights metadata (acc@1/acc@5, single 224 crop)"


class ModelSpec(object):
    """One zoo entry. ``builder`` is ``torchvision:<fn>`` or ``edgebench:<fn>`` (models/defs.py)."""

    __slots__ = (
        "name",
        "family",
        "builder",
        "builder_kwargs",
        "input_shape",
        "num_classes",
        "top1",
        "top5",
        "source",
        "ref_params",
        "ref_macs",
        "mean",
        "std",
        "resize_size",
        "dataset",
        "default",
    )

    def __init__(
        self,
        name,
        family,
        builder,
        input_shape=(3, 224, 224),
        top1=None,
        top5=None,
        source=None,
        ref_params=None,
        ref_macs=None,
        builder_kwargs=None,
        num_classes=1000,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        resize_size=256,
        dataset="ImageNet-1k",
        default=False,
    ):
        self.name = name
        self.family = family
        self.builder = builder
        self.builder_kwargs = dict(builder_kwargs or {})
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.top1 = top1
        self.top5 = top5
        self.source = source
        self.ref_params = ref_params
        self.ref_macs = ref_macs
        self.mean = tuple(mean)
        self.std = tuple(std)
        self.resize_size = resize_size
        self.dataset = dataset
        self.default = default

    def to_dict(self):
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self):
        return "ModelSpec({!r})".format(self.name)


def _tv(name, family, top1, top5, params, gmacs, default=False, **kw):
    return ModelSpec(
        name,
        family,
        "torchvision:" + name,
        top1=top1,
        top5=top5,
        source=TV,
        ref_params=params,
        ref_macs=int(round(gmacs * 1e9)),
        default=default,
        **kw
    )


# Canziani et al. (2016) measured AlexNet, BN-NIN, GoogLeNet, VGG-16/19, ResNet-18..152 and
# Inception-v3/v4 (plus BN-AlexNet and ENet, which have no public definitions); those form the
# default sweep. Figures: torchvision 0.29.1 weight metadata unless the source says otherwise.
_ENTRIES = [
    _tv("alexnet", "alexnet", 56.522, 79.066, 61100840, 0.714, default=True),
    _tv("vgg11", "vgg", 69.020, 88.628, 132863336, 7.609),
    _tv("vgg11_bn", "vgg", 70.370, 89.810, 132868840, 7.609),
    _tv("vgg13", "vgg", 69.928, 89.246, 133047848, 11.308),
    _tv("vgg13_bn", "vgg", 71.586, 90.374, 133053736, 11.308),
    _tv("vgg16", "vgg", 71.592, 90.382, 138357544, 15.470, default=True),
    _tv("vgg16_bn", "vgg", 73.360, 91.516, 138365992, 15.470),
    _tv("vgg19", "vgg", 72.376, 90.876, 143667240, 19.632, default=True),
    _tv("vgg19_bn", "vgg", 74.218, 91.842, 143678248, 19.632),
    ModelSpec(
        "googlenet",
        "inception",
        "torchvision:googlenet",
        top1=69.778,
        top5=89.530,
        source=TV + "; no auxiliary heads",
        ref_params=6624904,
        ref_macs=1498000000,
        builder_kwargs={"aux_logits": False, "init_weights": False},
        default=True,
    ),
    ModelSpec(
        "inception_v3",
        "inception",
        "torchvision:inception_v3",
        input_shape=(3, 299, 299),
        top1=77.294,
        top5=93.450,
        source="torchvision IMAGENET1K_V1 weights metadata (acc@1/acc@5, 342->299 crop); no auxiliary head",
        ref_params=23834568,
        ref_macs=5713000000,
        builder_kwargs={"aux_logits": False, "init_weights": False},
        resize_size=342,
        default=True,
    ),
    _tv("resnet18", "resnet", 69.758, 89.078, 11689512, 1.814, default=True),
    _tv("resnet34", "resnet", 73.314, 91.420, 21797672, 3.664, default=True),
    _tv("resnet50", "resnet", 76.130, 92.862, 25557032, 4.089, default=True),
    _tv("resnet101", "resnet", 77.374, 93.546, 44549160, 7.801, default=True),
    _tv("resnet152", "resnet", 78.312, 94.046, 60192808, 11.514, default=True),
    _tv("densenet121", "densenet", 74.434, 91.972, 7978856, 2.834),
    _tv("densenet161", "densenet", 77.138, 93.560, 28681000, 7.728),
    _tv("densenet169", "densenet", 75.600, 92.806, 14149480, 3.360),
    _tv("densenet201", "densenet", 76.896, 93.370, 20013928, 4.291),
    _tv("squeezenet1_0", "squeezenet", 58.092, 80.420, 1248424, 0.819),
    _tv("squeezenet1_1", "squeezenet", 58.178, 80.624, 1235496, 0.349),
    _tv("mobilenet_v2", "mobilenet", 71.878, 90.286, 3504872, 0.301),
    _tv("mobilenet_v3_small", "mobilenet", 67.668, 87.402, 2542856, 0.057),
    _tv("mobilenet_v3_large", "mobilenet", 74.042, 91.340, 5483032, 0.217),
    _tv("shufflenet_v2_x1_0", "shufflenet", 69.362, 88.316, 2278604, 0.145),
    ModelSpec(
        "efficientnet_b0",
        "efficientnet",
        "torchvision:efficientnet_b0",
        top1=77.692,
        top5=93.532,
        source="torchvision IMAGENET1K_V1 weights metadata (acc@1/acc@5, 256->224 bicubic)",
        ref_params=5288548,
        ref_macs=386000000,
    ),
    # Our own definitions of what torchvision lacks (edgebench/models/defs.py).
    ModelSpec(
        "lenet5",
        "lenet",
        "edgebench:lenet5",
        input_shape=(1, 32, 32),
        num_classes=10,
        top1=99.05,
        source="LeCun et al. 1998, Proc. IEEE 86(11): 0.95% test error on MNIST (not ImageNet)",
        ref_params=61706,
        ref_macs=416520,
        mean=(0.1307,),
        std=(0.3081,),
        resize_size=32,
        dataset="MNIST",
    ),
    ModelSpec(
        digits_recipe.MODEL_NAME,
        "lenet",
        "python:edgebench.calibration.digits:build_lenet5_digits",
        input_shape=(1, digits_recipe.IMAGE_SIZE, digits_recipe.IMAGE_SIZE),
        num_classes=digits_recipe.NUM_CLASSES,
        top1=99.72,
        top5=100.0,
        source="measured by edgebench, not published: LeNet-5 trained on first use on scikit-learn's digits "
        "(8x8 upsampled to 32x32; 1,437 train / 360 test images); fp32 top-1 on the test split "
        "(edgebench accuracy --model lenet5_digits --data digits)",
        ref_params=61706,
        ref_macs=416520,
        builder_kwargs={"recipe": digits_recipe.recipe_key()[:16]},
        mean=digits_recipe.DIGITS_MEAN,
        std=digits_recipe.DIGITS_STD,
        resize_size=digits_recipe.IMAGE_SIZE,
        dataset="scikit-learn digits (32x32)",
    ),
    ModelSpec(
        "bn_nin",
        "nin",
        "edgebench:bn_nin",
        top1=62.6,
        source="BN Network-in-Network, soumith/imagenet-multiGPU.torch models/ninbn.lua: "
        "62.6% top-1 at 35 epochs (the model of Canziani et al. 2016)",
        ref_params=8655336,
        ref_macs=1260000000,
        default=True,
    ),
    ModelSpec(
        "mobilenet_v1",
        "mobilenet",
        "edgebench:mobilenet_v1",
        top1=70.6,
        source="Howard et al. 2017, arXiv:1704.04861, Table 8 (1.0 MobileNet-224)",
        ref_params=4231976,
        ref_macs=569000000,
    ),
    ModelSpec(
        "resnet20",
        "resnet",
        "edgebench:resnet20",
        input_shape=(3, 32, 32),
        num_classes=10,
        top1=91.25,
        source="He et al. 2016, arXiv:1512.03385 sec. 4.2: 8.75% error on CIFAR-10 (not ImageNet)",
        ref_params=269722,
        ref_macs=40551040,
        mean=(0.4914, 0.4822, 0.4465),
        std=(0.2470, 0.2435, 0.2616),
        resize_size=32,
        dataset="CIFAR-10",
    ),
    ModelSpec(
        "inception_v4",
        "inception",
        "edgebench:inception_v4",
        input_shape=(3, 299, 299),
        top1=80.0,
        top5=95.0,
        source="Szegedy et al. 2016, arXiv:1602.07261, Table 2 (single crop)",
        ref_params=42679816,
        ref_macs=12254000000,
        mean=INCEPTION_MEAN,
        std=INCEPTION_STD,
        resize_size=342,
        default=True,
    ),
]

ZOO = dict((spec.name, spec) for spec in _ENTRIES)
DEFAULT_MODELS = tuple(spec.name for spec in _ENTRIES if spec.default)


def register(spec):
    """Add (or replace) a zoo entry; used for models defined by other subpackages."""
    ZOO[spec.name] = spec
    if spec not in _ENTRIES:
        _ENTRIES.append(spec)


def all_specs():
    return list(_ENTRIES)


def get_spec(name):
    """Return the zoo entry for ``name`` or raise ModelError naming the close matches."""
    try:
        return ZOO[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(ZOO), n=4, cutoff=0.5)
        hint = " (did you mean {}?)".format(", ".join(close)) if close else ""
        raise ModelError(
            "unknown model {!r}{}; `edgebench models` lists the zoo, or pass --model FILE.onnx".format(
                name, hint
            )
        )
