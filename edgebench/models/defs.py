"""Torch definitions of the zoo models torchvision lacks.

Importing this module imports torch; only the ONNX export child process does that.

* ``lenet5`` - LeCun et al. 1998 as commonly re-implemented: 1x32x32 input, ReLU and max-pool,
  61,706 parameters.
* ``bn_nin`` - the BN Network-in-Network ImageNet model Canziani et al. measured (Torch7
  ``ninbn.lua``): blocks of Conv -> BN -> ReLU -> (1x1 Conv -> BN -> ReLU) x 2.
* ``mobilenet_v1`` - Howard et al. 2017, width 1.0, 224x224.
* ``resnet20`` - He et al. 2016 section 4.2, CIFAR-10, option A (parameter-free) shortcuts.
* ``inception_v4`` - Szegedy et al. 2016, 299x299, no auxiliary head.
"""
import torch
from torch import nn
from torch.nn import functional as F


class LeNet5(nn.Module):
    def __init__(self, num_classes=10):
        super(LeNet5, self).__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(inplace=True),
            nn.Linear(120, 84),
            nn.ReLU(inplace=True),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def _conv_bn_relu(cin, cout, kernel, stride=1, padding=0, eps=1e-5, bias=False):
    return [
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=bias),
        nn.BatchNorm2d(cout, eps=eps),
        nn.ReLU(inplace=True),
    ]


class BNNiN(nn.Module):
    """Each block: Conv(k, s, p) -> BN -> ReLU -> [Conv 1x1 -> BN -> ReLU] x 2 (BN eps 1e-3)."""

    def __init__(self, num_classes=1000):
        super(BNNiN, self).__init__()

        def block(cin, cout, kernel, stride, padding):
            layers = _conv_bn_relu(cin, cout, kernel, stride, padding, eps=1e-3, bias=True)
            layers += _conv_bn_relu(cout, cout, 1, eps=1e-3, bias=True)
            layers += _conv_bn_relu(cout, cout, 1, eps=1e-3, bias=True)
            return layers

        self.features = nn.Sequential(
            *(
                block(3, 96, 11, 4, 5)
                + [nn.MaxPool2d(3, 2, 1)]
                + block(96, 256, 5, 1, 2)
                + [nn.MaxPool2d(3, 2, 1)]
                + block(256, 384, 3, 1, 1)
                + [nn.MaxPool2d(3, 2, 1)]
                + block(384, 1024, 3, 1, 1)
                + [nn.AvgPool2d(7, 1)]
            )
        )
        self.classifier = nn.Linear(1024, num_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class MobileNetV1(nn.Module):
    # (output channels, stride) of the 13 depthwise-separable blocks
    CFG = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]

    def __init__(self, num_classes=1000):
        super(MobileNetV1, self).__init__()
        layers = _conv_bn_relu(3, 32, 3, 2, 1)
        cin = 32
        for cout, stride in self.CFG:
            layers += [
                nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
                nn.BatchNorm2d(cin),
                nn.ReLU(inplace=True),
            ]
            layers += _conv_bn_relu(cin, cout, 1)
            cin = cout
        layers.append(nn.AdaptiveAvgPool2d(1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(1024, num_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class _CifarBasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super(_CifarBasicBlock, self).__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride = stride
        self.pad = cout - cin

    def shortcut(self, x):
        # Option A: subsample spatially and zero-pad the new channels (no parameters).
        if self.stride == 1 and self.pad == 0:
            return x
        x = x[:, :, :: self.stride, :: self.stride]
        half = self.pad // 2
        return F.pad(x, (0, 0, 0, 0, half, self.pad - half))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet20(nn.Module):
    def __init__(self, num_classes=10, blocks_per_stage=3):
        super(ResNet20, self).__init__()
        self.stem = nn.Sequential(*_conv_bn_relu(3, 16, 3, 1, 1))
        layers = []
        cin = 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(blocks_per_stage):
                layers.append(_CifarBasicBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.pool(self.layers(self.stem(x)))
        return self.fc(torch.flatten(x, 1))


class _BasicConv(nn.Sequential):
    def __init__(self, cin, cout, kernel, stride=1, padding=0):
        super(_BasicConv, self).__init__(*_conv_bn_relu(cin, cout, kernel, stride, padding, eps=1e-3))


class _Concat(nn.Module):
    def __init__(self, *branches):
        super(_Concat, self).__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], 1)


def _avg_pool_conv(cin, cout):
    return nn.Sequential(nn.AvgPool2d(3, 1, 1, count_include_pad=False), _BasicConv(cin, cout, 1))


def _inception_a():
    return _Concat(
        _BasicConv(384, 96, 1),
        nn.Sequential(_BasicConv(384, 64, 1), _BasicConv(64, 96, 3, padding=1)),
        nn.Sequential(_BasicConv(384, 64, 1), _BasicConv(64, 96, 3, padding=1), _BasicConv(96, 96, 3, padding=1)),
        _avg_pool_conv(384, 96),
    )


def _reduction_a():
    return _Concat(
        _BasicConv(384, 384, 3, stride=2),
        nn.Sequential(
            _BasicConv(384, 192, 1), _BasicConv(192, 224, 3, padding=1), _BasicConv(224, 256, 3, stride=2)
        ),
        nn.MaxPool2d(3, 2),
    )


def _inception_b():
    return _Concat(
        _BasicConv(1024, 384, 1),
        nn.Sequential(
            _BasicConv(1024, 192, 1),
            _BasicConv(192, 224, (1, 7), padding=(0, 3)),
            _BasicConv(224, 256, (7, 1), padding=(3, 0)),
        ),
        nn.Sequential(
            _BasicConv(1024, 192, 1),
            _BasicConv(192, 192, (7, 1), padding=(3, 0)),
            _BasicConv(192, 224, (1, 7), padding=(0, 3)),
            _BasicConv(224, 224, (7, 1), padding=(3, 0)),
            _BasicConv(224, 256, (1, 7), padding=(0, 3)),
        ),
        _avg_pool_conv(1024, 128),
    )


def _reduction_b():
    return _Concat(
        nn.Sequential(_BasicConv(1024, 192, 1), _BasicConv(192, 192, 3, stride=2)),
        nn.Sequential(
            _BasicConv(1024, 256, 1),
            _BasicConv(256, 256, (1, 7), padding=(0, 3)),
            _BasicConv(256, 320, (7, 1), padding=(3, 0)),
            _BasicConv(320, 320, 3, stride=2),
        ),
        nn.MaxPool2d(3, 2),
    )


class _InceptionC(nn.Module):
    def __init__(self):
        super(_InceptionC, self).__init__()
        self.b0 = _BasicConv(1536, 256, 1)
        self.b1 = _BasicConv(1536, 384, 1)
        self.b1a = _BasicConv(384, 256, (1, 3), padding=(0, 1))
        self.b1b = _BasicConv(384, 256, (3, 1), padding=(1, 0))
        self.b2 = nn.Sequential(
            _BasicConv(1536, 384, 1),
            _BasicConv(384, 448, (3, 1), padding=(1, 0)),
            _BasicConv(448, 512, (1, 3), padding=(0, 1)),
        )
        self.b2a = _BasicConv(512, 256, (1, 3), padding=(0, 1))
        self.b2b = _BasicConv(512, 256, (3, 1), padding=(1, 0))
        self.b3 = _avg_pool_conv(1536, 256)

    def forward(self, x):
        b1 = self.b1(x)
        b2 = self.b2(x)
        return torch.cat([self.b0(x), self.b1a(b1), self.b1b(b1), self.b2a(b2), self.b2b(b2), self.b3(x)], 1)


class _Stem(nn.Module):
    def __init__(self):
        super(_Stem, self).__init__()
        self.convs = nn.Sequential(
            _BasicConv(3, 32, 3, stride=2), _BasicConv(32, 32, 3), _BasicConv(32, 64, 3, padding=1)
        )
        self.mixed_3a = _Concat(nn.MaxPool2d(3, 2), _BasicConv(64, 96, 3, stride=2))
        self.mixed_4a = _Concat(
            nn.Sequential(_BasicConv(160, 64, 1), _BasicConv(64, 96, 3)),
            nn.Sequential(
                _BasicConv(160, 64, 1),
                _BasicConv(64, 64, (1, 7), padding=(0, 3)),
                _BasicConv(64, 64, (7, 1), padding=(3, 0)),
                _BasicConv(64, 96, 3),
            ),
        )
        self.mixed_5a = _Concat(_BasicConv(192, 192, 3, stride=2), nn.MaxPool2d(3, 2))

    def forward(self, x):
        return self.mixed_5a(self.mixed_4a(self.mixed_3a(self.convs(x))))


class InceptionV4(nn.Module):
    def __init__(self, num_classes=1000):
        super(InceptionV4, self).__init__()
        self.features = nn.Sequential(
            _Stem(),
            *(
                [_inception_a() for _ in range(4)]
                + [_reduction_a()]
                + [_inception_b() for _ in range(7)]
                + [_reduction_b()]
                + [_InceptionC() for _ in range(3)]
            )
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(1536, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


BUILDERS = {
    "lenet5": LeNet5,
    "bn_nin": BNNiN,
    "mobilenet_v1": MobileNetV1,
    "resnet20": ResNet20,
    "inception_v4": InceptionV4,
}
