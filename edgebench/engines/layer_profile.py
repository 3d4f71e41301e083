"""Per-layer profiles (``--layers``): one JSON format for every backend, stored in ``layers_json``.

Format: a JSON list in execution order of ``{"name", "type", "time_ms", "share"}`` where
``time_ms`` is the layer's mean time per inference call (the whole batch) and ``share`` its part of
the summed layer time (0..1). ``type`` is the operator when known (TensorRT: the engine inspector's
layer type, else the ONNX operators fused into the layer; ONNX Runtime: ``args.op_name``), else null.

Profiles come from a separate profiling run after the timed loop, so they never perturb the timing;
the first profiled run is dropped as a warm-up when there are more.

* TensorRT: an ``IProfiler`` attached to the execution context reports each layer's time after
  every synchronous ``execute_v2`` call.
* ONNX Runtime: a second session with ``SessionOptions.enable_profiling``; its Chrome-trace JSON has
  one ``cat: "Node"`` event per node and run named ``<node>_kernel_time`` with ``dur`` in
  microseconds and the operator in ``args.op_name`` (same in onnxruntime 1.10 and 1.2x-1.3x).
"""
import json
import logging
import os

LOG = logging.getLogger("edgebench.engines")

PROFILE_RUNS = 10
KERNEL_SUFFIX = "_kernel_time"


def _mean(values):
    return sum(values) / float(len(values)) if values else 0.0


def summarize(order, times, types=None, drop_first=True):
    """Rows of the layer profile from per-run times.

    ``order``: layer names in execution order; ``times``: {name: [ms per run]};
    ``types``: {name: type}. The first run is dropped when a layer has more than one.
    """
    types = types or {}
    means = []
    for name in order:
        runs = list(times.get(name) or [])
        if drop_first and len(runs) > 1:
            runs = runs[1:]
        means.append((name, _mean(runs)))
    total = sum(ms for _, ms in means)
    rows = []
    for name, ms in means:
        rows.append({
            "name": name,
            "type": types.get(name),
            "time_ms": round(ms, 6),
            "share": round(ms / total, 6) if total > 0 else None,
        })
    return rows


def to_json(rows):
    return json.dumps(rows, separators=(",", ":"))


# ----------------------------------------------------------------------------- ONNX names and types


def onnx_op_types(onnx_path):
    """{node name: op_type} of an ONNX file ({} when it cannot be read)."""
    try:
        import onnx

        model = onnx.load(onnx_path, load_external_data=False)
    except Exception as exc:  # only used to label layers
        LOG.debug("cannot read %s for layer types: %s", onnx_path, exc)
        return {}
    return dict((node.name, node.op_type) for node in model.graph.node if node.name)


def fused_parts(layer_name):
    """The ONNX node names a TensorRT layer name is made of ("conv1 + relu1" -> ["conv1", "relu1"])."""
    name = layer_name
    for prefix in ("PWN(", "PointWiseFusion(", "ForeignNode[", "{ForeignNode["):
        if name.startswith(prefix):
            name = name[len(prefix):]
    name = name.rstrip(")]}")
    parts = []
    for piece in name.replace(", ", " + ").split(" + "):
        piece = piece.strip().strip("()[]{}")
        if piece:
            parts.append(piece)
    return parts


def type_from_onnx(layer_name, op_types):
    """'Conv+Relu' for a layer fused from ONNX nodes of those types; None if no part is known."""
    found = []
    for part in fused_parts(layer_name):
        op = op_types.get(part)
        if op and op not in found:
            found.append(op)
    if found:
        return "+".join(found)
    if layer_name.lower().startswith("reformatting"):
        return "Reformat"
    return None


# ----------------------------------------------------------------------------- ONNX Runtime trace


def parse_ort_trace(events):
    """(order, times in ms, types) from ONNX Runtime's profiling trace (a list of event dicts)."""
    order, times, types = [], {}, {}
    for event in events:
        if not isinstance(event, dict) or event.get("cat") != "Node":
            continue
        name = str(event.get("name") or "")
        if not name.endswith(KERNEL_SUFFIX):
            continue
        node = name[: -len(KERNEL_SUFFIX)]
        if node not in times:
            times[node] = []
            order.append(node)
            args = event.get("args") or {}
            types[node] = args.get("op_name") if isinstance(args, dict) else None
        times[node].append(float(event.get("dur") or 0) / 1000.0)
    return order, times, types


def profile_ort_session(make_session, feed, runs=PROFILE_RUNS, prefix_dir=None):
    """Run a profiling ONNX Runtime session ``runs`` times; return the layer rows.

    ``make_session(options_hook)`` must create the session, calling ``options_hook(opts)`` on its
    SessionOptions first. The trace file is removed afterwards.
    """
    import tempfile

    directory = prefix_dir or tempfile.mkdtemp(prefix="edgebench-ortprof-")

    def hook(opts):
        opts.enable_profiling = True
        opts.profile_file_prefix = os.path.join(directory, "ort")

    sess = make_session(hook)
    path = None
    try:
        for _ in range(max(1, int(runs))):
            sess.run(None, feed)
        path = sess.end_profiling()
        with open(path) as fh:
            events = json.load(fh)
    finally:
        if path and os.path.exists(path):
            os.unlink(path)
        if prefix_dir is None:
            try:
                os.rmdir(directory)
            except OSError:
                pass
    if isinstance(events, dict):  # some versions wrap the list
        events = events.get("traceEvents") or []
    order, times, types = parse_ort_trace(events)
    return summarize(order, times, types)
