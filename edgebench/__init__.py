"""edgebench: which network, at which precision and batch size, fits a Jetson's budget.

Importing this package must stay cheap and work with only the core dependencies installed:
torch, onnxruntime, tensorrt and matplotlib are imported lazily by the code that needs them.
"""

__version__ = "0.1.0"
