"""edgebench: batch-size, power, energy and memory sweeps of neural networks on NVIDIA Jetson boards."""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "edgebench" / "__init__.py").read_text(), re.M
).group(1)

# The core must install from wheels on every JetPack Python, on the board (aarch64) and on a host
# (x86_64): JetPack 4.6 (TX1, Nano) is CPython 3.6, JetPack 5 is 3.8, JetPack 6 is 3.10. pip skips a
# release whose Requires-Python excludes the interpreter, but a release that still accepts it and
# publishes only an sdist for it is *picked* and built from source (onnx 1.12.0 on 3.6: cmake and an
# hour on a Nano, or a failure). Each requirement below was checked with the real pip on 3.6, 3.8
# and 3.10 (x86_64, and aarch64 via --platform): tests/install/test_wheel_resolution.py (CI).
# Newest wheels on CPython 3.6, by requirement: numpy 1.19.5, scipy 1.5.4, onnx 1.11.0, onnxruntime
# 1.10.0, protobuf 3.19.6, pillow 8.4.0, rich 12.6.0, tomli 1.2.3, psutil 7.x (cp36-abi3).
CORE = [
    "numpy>=1.19.5",
    "scipy>=1.5.4",
    "rich>=12.6",
    "pyserial>=3.5",
    # onnx 1.12.0 still accepts 3.6 but has no cp36 wheel (sdist only): cap it there.
    'onnx>=1.11.0,<1.12; python_version < "3.7"',
    'onnx>=1.11.0; python_version >= "3.7"',
    "onnxruntime>=1.10.0",
    # protobuf 3.19.6 is the last for 3.6. The cap says so up front: protobuf 4.21.0's wheel declares
    # Requires-Python >=3.7 only in its metadata (not on the index), and pip 21.3 on 3.6 stops at it
    # ("requires a different Python") instead of trying an older one when it is the only candidate
    'protobuf>=3.12.2,<3.20; python_version < "3.7"',
    'protobuf>=3.12.2; python_version >= "3.7"',
    # int8 calibration from image folders, and folder-per-class accuracy data (cp36 aarch64 wheels: 8.4)
    "pillow>=8.4",
    # onnxruntime < 1.12's quantization tools import six without declaring it
    "six",
    'dataclasses>=0.8; python_version < "3.7"',
    # the agent's TOML config (tomllib from 3.11 on; tomli 1.2.3 is the last for Python 3.6)
    'tomli>=1.2.3; python_version < "3.11"',
    # finding the sweep's worker processes (cp36-abi3 wheels for x86_64 and aarch64)
    "psutil>=5.8",
]

EXTRAS = {
    # torch and torchvision build the zoo; on a board they come from NVIDIA's Jetson wheels.
    "zoo": ["torch>=1.10", "torchvision>=0.11"],
    # TensorRT itself ships with JetPack (python3-libnvinfer) and is never a pip requirement.
    "jetson": ["pycuda>=2020.1", "jetson-stats>=4.2"],
    "report": ["matplotlib>=3.3"],
    # a lab of boards: `edgebench push` / postgresql:// readers (2.9.5 is the last psycopg2-binary with
    # cp36 wheels, x86_64 and aarch64) and prometheus-client (0.17.1 still supports 3.6; the agent's
    # /metrics needs no dependency, this is for checking it and for users' own exporters)
    "fleet": [
        'psycopg2-binary>=2.9.5,<2.9.6; python_version < "3.7"',
        'psycopg2-binary>=2.9.5; python_version >= "3.7"',
        'prometheus-client>=0.17.1,<0.18; python_version < "3.7"',
        'prometheus-client>=0.17.1; python_version >= "3.7"',
    ],
    # lenet5_digits and `edgebench accuracy --data digits` use scikit-learn's bundled digits
    "digits": ["scikit-learn>=0.24"],
    "test": [
        "pytest>=7.0",
        "hypothesis>=6.31",
        "scikit-learn>=0.24",
        "pillow>=8.4",
    ],
}

setup(
    name="edgebench",
    version=VERSION,
    description=__doc__,
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.6",
    packages=find_packages(include=["edgebench", "edgebench.*"]),
    package_data={"edgebench": ["systemd/*"]},
    install_requires=CORE,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["edgebench = edgebench.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.6",
        "Operating System :: POSIX :: Linux",
        "Topic :: System :: Benchmark",
    ],
)
