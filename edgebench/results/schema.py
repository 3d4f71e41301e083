"""The results schema: one definition used by the store, the CSV/JSON exports and the README.

Units ride in column names. Watts and joules are stored; conversion happens only at the edges.
A column that does not apply to a point is NULL (empty in CSV, null in JSON), never 0.

Schema history (``PRAGMA user_version``; migrations live in ``store.py``):

1 - first release: runs, measurements, accuracy.
2 - ``runs.run_uuid``: a random UUID per run, kept when the run resumes; ``edgebench push`` is
    idempotent by it (a store's run ids collide between boards, UUIDs do not).
3 - the ``latencies`` side table: every ok point's raw per-iteration latencies (see samples.py);
    measurements gain other_cpu_load and stability_note (nullable, added to older stores on open).
"""
from collections import OrderedDict

SCHEMA_VERSION = 3

# Point statuses. ``ok`` is the only one with timing figures.
STATUS_OK = "ok"
STATUS_OOM = "oom"  # out of memory: allocation failure under --memory-limit-mb, or the OOM killer
STATUS_CRASHED = "crashed"  # the worker died (signal, abort) for another reason
STATUS_TIMEOUT = "timeout"  # the worker did not finish in time and was killed
STATUS_UNSUPPORTED = "unsupported"  # the backend cannot build this precision/model here
STATUS_ERROR = "error"  # the model or engine failed with a reported error
STATUS_KILLED = "killed"  # SIGKILL from outside with no sign of the OOM killer (a user, a supervisor)
STATUSES = (STATUS_OK, STATUS_OOM, STATUS_CRASHED, STATUS_TIMEOUT, STATUS_UNSUPPORTED, STATUS_ERROR, STATUS_KILLED)

RUN_RUNNING = "running"
RUN_COMPLETE = "complete"
RUN_INTERRUPTED = "interrupted"
RUN_FAILED = "failed"

# (name, SQL type, description). Order is the CSV column order.
RUN_COLUMNS = (
    ("id", "INTEGER PRIMARY KEY AUTOINCREMENT", "run number within this store"),
    ("started_at", "TEXT NOT NULL", "UTC start, ISO 8601"),
    ("finished_at", "TEXT", "UTC end, ISO 8601; NULL while running"),
    ("status", "TEXT NOT NULL", "running | complete | interrupted | failed"),
    ("edgebench_version", "TEXT NOT NULL", "edgebench version that measured the run"),
    ("plan_json", "TEXT NOT NULL", "the validated sweep plan, as JSON"),
    ("environment_json", "TEXT NOT NULL", "host, CPU, OS, Python, library versions, board"),
    ("power_json", "TEXT", "power source, idle before and after, sample-rate check, warnings; NULL without power"),
    ("note", "TEXT", "why the run ended early, or other remarks"),
    ("run_uuid", "TEXT", "random UUID of the run, the same on every copy (push to PostgreSQL is idempotent by it)"),
)

MEASUREMENT_COLUMNS = (
    # identity of the point
    ("id", "INTEGER PRIMARY KEY AUTOINCREMENT", "row number within this store"),
    ("run_id", "INTEGER NOT NULL", "the run this point belongs to (runs.id)"),
    ("point_key", "TEXT NOT NULL", "model/backend/precision/batch key; unique within a run"),
    ("model", "TEXT NOT NULL", "zoo name, or the file stem of a user ONNX model"),
    ("model_source", "TEXT NOT NULL", "zoo | onnx"),
    ("family", "TEXT", "architecture family (resnet, vgg, ...) for colours and grouping"),
    ("onnx_sha256", "TEXT", "SHA-256 of the ONNX file the engine was built from"),
    ("backend", "TEXT NOT NULL", "onnxruntime | tensorrt | torch2trt"),
    ("provider", "TEXT", "execution provider or device actually used (e.g. CPUExecutionProvider)"),
    ("precision", "TEXT NOT NULL", "requested precision: fp32 | fp16 | int8"),
    ("precision_effective", "TEXT", "what the MAC-bearing layers really ran in: fp32 | fp16 | int8 | mixed"),
    ("fp16_mac_fraction", "REAL", "share of MACs in layers that really ran in reduced precision (0..1)"),
    ("batch_size", "INTEGER NOT NULL", "images per inference call"),
    ("input_shape", "TEXT", "input shape of one image, e.g. 3x224x224"),
    ("status", "TEXT NOT NULL", "ok | oom | crashed | timeout | unsupported | error | killed"),
    ("error", "TEXT", "one-line reason when status is not ok"),
    ("note", "TEXT", "caveats that apply to an ok point (e.g. fp16 computed in fp32 by the provider)"),
    ("env_key", "TEXT", "fingerprint of the comparable environment (host or board, power mode, clocks, versions)"),
    ("started_at", "TEXT", "UTC start of the point, ISO 8601"),
    ("finished_at", "TEXT", "UTC end of the point, ISO 8601"),
    # model figures
    ("params", "INTEGER", "parameters (ONNX initializers feeding layers; BN running stats excluded)"),
    ("macs", "INTEGER", "multiply-accumulates per image (Conv, ConvTranspose, Gemm, MatMul)"),
    ("gops", "REAL", "G-Ops per image = 2 x MACs / 1e9 (the seed paper's convention)"),
    ("top1", "REAL", "reference ImageNet top-1 % of the fp32 model (zoo), NULL if unknown"),
    ("top5", "REAL", "reference top-5 %"),
    ("top1_source", "TEXT", "citation for top1/top5"),
    ("top1_measured", "REAL", "top-1 % measured on this engine, when `edgebench accuracy` ran"),
    ("top5_measured", "REAL", "top-5 % measured on this engine"),
    ("accuracy_data", "TEXT", "fingerprint of the labelled data top1_measured came from"),
    # engine
    ("threads", "INTEGER", "intra-op threads of the engine (CPU backends)"),
    ("load_s", "REAL", "engine load / session creation time (includes a build on a cache miss)"),
    ("build_s", "REAL", "engine build time; NULL when the engine came from the cache"),
    ("engine_cache_hit", "INTEGER", "1 when the engine came from the engine cache, 0 when it was built"),
    ("engine_size_mb", "REAL", "size of the built engine on disk (TensorRT plan, converted ONNX)"),
    ("worker_point", "INTEGER", "this point's place in its worker process: 1 in a fresh worker, 2.. in a reused one"),
    ("first_run_ms", "REAL", "first inference, reported separately and excluded from the statistics"),
    # timing
    ("warmup_iterations", "INTEGER", "runs after the first run and before timing: those that start within "
                                     "--warmup-ms of the first run's start (0 when the first run took longer)"),
    ("iterations", "INTEGER", "timed iterations (at least --iterations AND --duration)"),
    ("duration_s", "REAL", "wall time of the timed loop"),
    ("latency_min_ms", "REAL", "fastest iteration (one call of batch_size images)"),
    ("latency_median_ms", "REAL", "median iteration"),
    ("latency_mean_ms", "REAL", "mean iteration"),
    ("latency_max_ms", "REAL", "slowest iteration"),
    ("latency_p90_ms", "REAL", "90th percentile (linear interpolation between ranks)"),
    ("latency_p95_ms", "REAL", "95th percentile"),
    ("latency_p99_ms", "REAL", "99th percentile"),
    ("latency_std_ms", "REAL", "population standard deviation"),
    ("latency_cv", "REAL", "coefficient of variation = std / mean (0.05 is 5%)"),
    ("stable", "INTEGER", "1 when latency_cv <= the sweep's --unstable-cv (default 0.05), else 0 (unstable)"),
    ("other_cpu_load", "REAL", "share of the machine's CPU used by other processes during the timed loop (0..1)"),
    ("stability_note", "TEXT", "why an unstable point is unstable (CV, likely cause) and what to do"),
    ("per_image_ms", "REAL", "latency_median_ms / batch_size"),
    ("gpu_compute_median_ms", "REAL", "median GPU compute time per call from CUDA events (TensorRT)"),
    ("gpu_compute_mean_ms", "REAL", "mean GPU compute time per call from CUDA events (TensorRT)"),
    ("h2d_median_ms", "REAL", "median host-to-device copy time per call (TensorRT)"),
    ("d2h_median_ms", "REAL", "median device-to-host copy time per call (TensorRT)"),
    ("layers_json", "TEXT", "per-layer profile: JSON list of {name, type, time_ms, share} (--layers)"),
    ("images_per_s", "REAL", "batch_size x iterations / duration_s"),
    # memory
    ("baseline_rss_mb", "REAL", "worker RSS before the model was loaded"),
    ("peak_rss_mb", "REAL", "worker peak RSS (VmHWM) after the timed loop"),
    ("system_used_before_mb", "REAL", "MemTotal - MemAvailable before the model was loaded"),
    ("system_used_peak_mb", "REAL", "peak MemTotal - MemAvailable during warm-up and the timed loop"),
    ("nvmap_used_peak_mb", "REAL", "peak NvMapMemUsed (Jetson GPU allocations) during the timed loop"),
    ("memory_limit_mb", "INTEGER", "address-space limit applied to the worker, NULL if none"),
    # board state (Jetson)
    ("temperature_max_c", "REAL", "hottest thermal zone during the point"),
    ("throttled", "INTEGER", "1 when throttle counters rose or a current alarm fired during the point"),
    # power (filled when a power source is given)
    ("power_source", "TEXT", "power source URL and sensor; SIMULATED sources say so"),
    ("simulated", "INTEGER", "1 when the power figures come from a simulated source"),
    ("power_rate_hz", "REAL", "achieved power sample rate during the timed loop"),
    ("power_samples", "INTEGER", "power samples inside the timed window"),
    ("gross_power_w", "REAL", "mean board power during the timed loop"),
    ("idle_power_w", "REAL", "idle board power measured before the sweep"),
    ("net_power_w", "REAL", "gross_power_w - idle_power_w"),
    ("net_power_ci_w", "REAL", "half-width of the 95% interval of net_power_w"),
    ("energy_per_image_j", "REAL", "gross energy of the timed loop / images"),
    ("net_energy_per_image_j", "REAL", "idle-subtracted energy per image"),
    ("bandwidth_hz", "REAL", "frequency below which 99% of the power signal's AC power lies"),
    ("nyquist_ok", "INTEGER", "1 when the sample rate is at least twice bandwidth_hz"),
    ("power_flags", "TEXT", "problems in the power window (gaps, unparseable lines, probe lost)"),
    # calibrated against a reference meter (`edgebench power calibrate`); the raw columns above stay raw
    ("power_calibration", "TEXT", "the calibration applied (reference meter, date, gain, offset), NULL if none"),
    ("gross_power_cal_w", "REAL", "gross_power_w calibrated: gain x raw + offset"),
    ("net_power_cal_w", "REAL", "net_power_w calibrated: gain x raw"),
    ("energy_per_image_cal_j", "REAL", "energy_per_image_j from the calibrated gross power"),
    ("net_energy_per_image_cal_j", "REAL", "net_energy_per_image_j calibrated: gain x raw"),
)

# Accuracy of a compiled engine on labelled data (`edgebench accuracy`), one row per evaluation.
ACCURACY_COLUMNS = (
    ("id", "INTEGER PRIMARY KEY AUTOINCREMENT", "row number"),
    ("measured_at", "TEXT NOT NULL", "UTC time of the evaluation, ISO 8601"),
    ("model", "TEXT NOT NULL", "zoo name or ONNX file stem"),
    ("onnx_sha256", "TEXT", "SHA-256 of the fp32 ONNX file evaluated"),
    ("backend", "TEXT NOT NULL", "onnxruntime | tensorrt | torch2trt"),
    ("precision", "TEXT NOT NULL", "fp32 | fp16 | int8"),
    ("data_fingerprint", "TEXT NOT NULL", "fingerprint of the labelled data set"),
    ("data_name", "TEXT", "human name of the data set (path or 'digits')"),
    ("samples", "INTEGER NOT NULL", "labelled images evaluated"),
    ("top1", "REAL", "top-1 accuracy %"),
    ("top5", "REAL", "top-5 accuracy %, NULL with fewer than 5 classes"),
    ("delta_top1_vs_fp32", "REAL", "top1 minus the fp32 top1 on the same data, percentage points"),
    ("calibration_fingerprint", "TEXT", "INT8 calibration data fingerprint, NULL for fp32/fp16"),
)
ACCURACY_COLUMN_NAMES = tuple(name for name, _, _ in ACCURACY_COLUMNS)

# Raw samples of a point (schema 3), one row per ok measurement; a side table so that the
# measurements table, its CSV export and older readers stay as they were.
LATENCY_COLUMNS = (
    ("measurement_id", "INTEGER PRIMARY KEY", "the point these samples belong to (measurements.id)"),
    ("run_id", "INTEGER NOT NULL", "the run of that point (runs.id)"),
    ("point_key", "TEXT NOT NULL", "the point's key, as in measurements"),
    ("encoding", "TEXT NOT NULL", "float32le: little-endian IEEE 754 float32 milliseconds, in timing order"),
    ("count", "INTEGER NOT NULL", "timed iterations in samples (= measurements.iterations)"),
    ("samples", "BLOB NOT NULL", "per-iteration latency of each timed call, ms"),
    ("warmup_count", "INTEGER", "warm-up iterations in warmup_samples"),
    ("warmup_samples", "BLOB", "per-iteration latency of each warm-up call, ms (same encoding)"),
)
LATENCY_COLUMN_NAMES = tuple(name for name, _, _ in LATENCY_COLUMNS)

MEASUREMENT_COLUMN_NAMES = tuple(name for name, _, _ in MEASUREMENT_COLUMNS)
RUN_COLUMN_NAMES = tuple(name for name, _, _ in RUN_COLUMNS)

# Columns a worker or the runner fills, i.e. everything but the store's own bookkeeping.
POINT_FIELDS = tuple(n for n in MEASUREMENT_COLUMN_NAMES if n not in ("id", "run_id"))


def empty_point(**values):
    """A measurement row with every column present (NULL by default)."""
    unknown = set(values) - set(POINT_FIELDS)
    if unknown:
        raise KeyError("not measurement columns: {}".format(", ".join(sorted(unknown))))
    row = OrderedDict((name, None) for name in POINT_FIELDS)
    row.update(values)
    return row


def point_key(model, backend, precision, batch_size):
    return "{}/{}/{}/{}".format(model, backend, precision, int(batch_size))
