"""INT8 calibration data and caches, INT8 on ONNX Runtime, the TensorRT calibrator, accuracy.

Importing this package is cheap (no numpy, no vendor library). The modules:

* ``sources``        calibration data: image folders, .npy/.npz tensors, ``digits``, ``synthetic``;
                     deterministic order, batches, fingerprints
* ``preprocess``     decode, resize, centre-crop, normalise (Pillow, imported lazily)
* ``cache``          ``<cache_dir>/calibration/``: atomic writes, manifests, corrupt entries rebuilt
* ``ort_int8``       ONNX Runtime static QDQ quantization (``prepare_int8_onnx``) and the report of
                     what really runs in int8 (``int8_execution_report``)
* ``trt_calibrator`` ``make_int8_calibrator`` (TensorRT IInt8EntropyCalibrator2) and torch2trt's
                     ``Torch2trtCalibDataset``
* ``accuracy``       labelled data (folder per class, .npz, ``digits``) and ``evaluate``
* ``digits``         ``lenet5_digits``: LeNet-5 trained offline on scikit-learn's digits
* ``cli``            ``edgebench accuracy`` and ``edgebench calibrate``
"""

DEFAULT_CALIB_IMAGES = 500
ALGORITHMS = ("minmax", "entropy", "percentile")  # ONNX Runtime calibration methods
DEFAULT_ALGORITHM = "minmax"
