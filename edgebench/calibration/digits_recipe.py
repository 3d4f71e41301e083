"""The lenet5_digits recipe: constants only (no numpy), so the zoo registry can key its cache on it.

Changing anything in RECIPE changes ``recipe_key()``, which invalidates the cached trained weights
and the cached ONNX export of ``lenet5_digits``.
"""
import hashlib
import json

MODEL_NAME = "lenet5_digits"
IMAGE_SIZE = 32
NUM_CLASSES = 10
DIGITS_MEAN = (0.3053,)  # mean and std of the upsampled [0, 1] images (all 1,797)
DIGITS_STD = (0.3236,)
SPLIT_SEED = 2016
TEST_SIZE = 360

RECIPE = {
    "version": 1,
    "architecture": "edgebench.models.defs.LeNet5",
    "data": "sklearn load_digits, /16, bilinear 8->32, mean 0.3053 std 0.3236",
    "split_seed": SPLIT_SEED,
    "test_size": TEST_SIZE,
    "torch_seed": 0,
    "shuffle_seed": 1,
    "optimizer": "Adam",
    "lr": 0.002,
    "epochs": 15,
    "batch_size": 32,
    "weight_decay": 0.0,
}


def recipe_key():
    """SHA-256 of the recipe, canonically encoded (the same encoding as calibration.cache.key_of)."""
    blob = json.dumps(RECIPE, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()
