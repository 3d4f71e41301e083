"""Turn a model reference (zoo name or ONNX file) into a prepared ONNX file plus its figures.

Parent side (``resolve_model``): compute a content key, look in the cache, and only on a miss start
a child process (``python -m edgebench.models.prepare REQUEST.json``) that builds and exports with
torch, or validates a user file, then counts parameters and MACs. The child writes a JSON sidecar
next to the ONNX file; the parent reads only JSON. torch never enters the sweep's own process.

Cache layout (``<cache_dir>/onnx/``)::

    <name>-<key16>.onnx / .json      zoo exports, key = hash of builder, versions, weights, format
    user-<sha16>.json                 a user model's figures, keyed by the file's SHA-256
    <stem>-<sha16>-dynbatch.onnx      a user model whose fixed batch of 1 was made dynamic
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Optional

from edgebench._files import atomic_write_json, read_json, sha256_file
from edgebench._helpers import die_with_parent
from edgebench.errors import ModelError
from edgebench.platform.versions import distribution_version as dist_version

FORMAT_VERSION = 1  # bump when export or counting conventions change: invalidates the cache
CACHE_ENV = "EDGEBENCH_CACHE_DIR"


def default_cache_dir():
    env = os.environ.get(CACHE_ENV)
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "edgebench")


@dataclass
class PreparedModel(object):
    """A model ready to be built into engines: its ONNX file and counted figures. JSON round-trips (no pickle).

    ``inputs``: [{name, shape (per image)}]; ``params``/``macs``/``gops`` counted on the ONNX graph;
    ``node_macs`` MACs per MAC-bearing node (for the effective-precision verdict); ``top1``/``top5``/
    ``top1_source`` the zoo's reference accuracy (None for user models); ``notes`` caveats carried
    into every point.
    """

    name: str
    source: str  # zoo | onnx
    onnx_path: str
    onnx_sha256: str
    inputs: List[Dict[str, Any]] = field(default_factory=list)
    params: Optional[int] = None
    macs: Optional[int] = None
    gops: Optional[float] = None
    uncounted_nodes: List[str] = field(default_factory=list)
    node_macs: Dict[str, int] = field(default_factory=dict)
    family: Optional[str] = None
    top1: Optional[float] = None
    top5: Optional[float] = None
    top1_source: Optional[str] = None
    num_classes: Optional[int] = None
    weights: Optional[str] = None
    notes: List[str] = field(default_factory=list)

    @property
    def input_shape(self):
        """Per-image shape of the first input, e.g. (3, 224, 224)."""
        return tuple(self.inputs[0]["shape"]) if self.inputs else ()

    @property
    def spec(self):
        if self.source != "zoo":
            return None
        from edgebench.models.registry import ZOO

        return ZOO.get(self.name)

    def to_dict(self):
        return dict((f.name, getattr(self, f.name)) for f in fields(self))

    @classmethod
    def from_dict(cls, data):
        """From the JSON sidecar the preparing child wrote (keys it does not know are older fields)."""
        known = set(f.name for f in fields(cls))
        values = dict((k, v) for k, v in data.items() if k in known)
        for name in ("inputs", "uncounted_nodes", "notes"):
            values[name] = list(values.get(name) or [])
        values["node_macs"] = dict(values.get("node_macs") or {})
        return cls(**values)


def _onnx_dir(cache_dir):
    path = os.path.join(cache_dir, "onnx")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise ModelError(
            "cannot create the cache directory {} ({}); pass --cache-dir DIR or set {}".format(
                path, exc.strerror or exc, CACHE_ENV
            )
        )
    return path


def is_onnx_reference(ref):
    return str(ref).lower().endswith(".onnx") or os.path.sep in str(ref) or os.path.isfile(str(ref))


def zoo_key(spec, weights_sha256=None):
    from edgebench.models.export import OPSET

    material = {
        "format": FORMAT_VERSION,
        "name": spec.name,
        "builder": spec.builder,
        "kwargs": spec.builder_kwargs,
        "input_shape": list(spec.input_shape),
        "opset": OPSET,
        "torch": dist_version("torch"),
        "torchvision": dist_version("torchvision"),
        "weights": weights_sha256,
    }
    blob = json.dumps(material, sort_keys=True).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


REQUEST_PREFIX = ".request-"  # .request-<parent pid>-XXXX.json: the child's input, removed by the child


def _remove_orphan_requests(directory):
    """Request files whose parent died before its child could remove them (SIGKILL, power loss)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not name.startswith(REQUEST_PREFIX):
            continue
        try:
            pid = int(name[len(REQUEST_PREFIX):].split("-", 1)[0])
            os.kill(pid, 0)
            continue  # its parent lives: in use
        except ProcessLookupError:
            pass
        except (ValueError, PermissionError):
            continue  # an old name without a pid, or another user's process
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass


def _run_child(request, cache_dir, what):
    directory = _onnx_dir(cache_dir)
    _remove_orphan_requests(directory)
    fd, req_path = tempfile.mkstemp(prefix="{}{}-".format(REQUEST_PREFIX, os.getpid()), suffix=".json",
                                    dir=directory)
    with os.fdopen(fd, "w") as fh:
        json.dump(request, fh)
    try:
        proc = subprocess.Popen(
            # the child dies with this process (PDEATHSIG), so a killed sweep or agent stops the export too
            [sys.executable, "-m", "edgebench.models.prepare", req_path, str(os.getpid())],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            universal_newlines=True,
        )
        try:
            output, _ = proc.communicate()
        except BaseException:  # Ctrl-C, SIGTERM: the export does not outlive its sweep
            proc.kill()
            proc.wait()
            raise
    finally:
        try:
            os.unlink(req_path)
        except FileNotFoundError:
            pass  # the child removed it once read
    result_path = request["result_path"]
    result = read_json(result_path)
    if result is None or proc.returncode != 0 or "error" in result:
        if result and "error" in result:
            os.unlink(result_path)
            raise ModelError(result["error"])
        tail = " ".join((output or "").strip().splitlines()[-3:])
        raise ModelError(
            "preparing {} failed (exit status {}): {}".format(what, proc.returncode, tail or "no output")
        )
    return result


def _resolve_zoo(name, cache_dir, weights=None):
    from edgebench.models.registry import get_spec

    spec = get_spec(name)
    weights_sha = None
    if weights:
        if not os.path.isfile(weights):
            raise ModelError("weights file {} does not exist".format(weights))
        weights_sha = sha256_file(weights)
    key = zoo_key(spec, weights_sha)
    onnx_dir = _onnx_dir(cache_dir)
    stem = os.path.join(onnx_dir, "{}-{}".format(spec.name, key))
    sidecar = stem + ".json"
    data = read_json(sidecar) if os.path.exists(stem + ".onnx") else None  # a corrupt sidecar is a cache miss
    if data is None:
        if dist_version("torch") is None:
            raise ModelError(
                "building zoo model {!r} needs torch and torchvision: pip install 'edgebench[zoo]' "
                "(or pass --model FILE.onnx)".format(spec.name)
            )
        data = _run_child(
            {
                "kind": "zoo",
                "name": spec.name,
                "builder": spec.builder,
                "kwargs": spec.builder_kwargs,
                "input_shape": list(spec.input_shape),
                "weights": os.path.abspath(weights) if weights else None,
                "onnx_path": stem + ".onnx",
                "result_path": sidecar,
                "cache_dir": cache_dir,
            },
            cache_dir,
            "zoo model {!r}".format(spec.name),
        )
    data.update(
        name=spec.name,
        source="zoo",
        family=spec.family,
        top1=spec.top1,
        top5=spec.top5,
        top1_source=spec.source,
        num_classes=spec.num_classes,
        weights=os.path.abspath(weights) if weights else None,
    )
    if weights:
        data["top1"] = data["top5"] = None
        data["top1_source"] = "user weights {}: accuracy unknown until measured".format(weights)
    return PreparedModel.from_dict(data)


def _resolve_onnx(path, cache_dir):
    if not os.path.exists(path):
        raise ModelError("model file {} does not exist".format(path))
    if os.path.isdir(path):
        raise ModelError("{} is a directory; pass the .onnx file".format(path))
    try:
        sha = sha256_file(path)
    except OSError as exc:
        raise ModelError("cannot read {}: {}".format(path, exc.strerror or exc))
    onnx_dir = _onnx_dir(cache_dir)
    sidecar = os.path.join(onnx_dir, "user-{}.json".format(sha[:16]))
    stem = os.path.splitext(os.path.basename(path))[0]
    data = None
    data = read_json(sidecar)  # None when missing or corrupt: prepared again
    if data is not None and data.get("rewritten") and not os.path.exists(str(data.get("onnx_path"))):
        data = None
    if data is None:
        data = _run_child(
            {
                "kind": "onnx",
                "path": os.path.abspath(path),
                "sha256": sha,
                "rewrite_path": os.path.join(onnx_dir, "{}-{}-dynbatch.onnx".format(stem, sha[:16])),
                "result_path": sidecar,
            },
            cache_dir,
            path,
        )
    if not data.get("rewritten"):
        data["onnx_path"] = os.path.abspath(path)
        data["onnx_sha256"] = sha
    data.update(name=stem, source="onnx", family=stem, top1=None, top5=None, top1_source=None)
    return PreparedModel.from_dict(data)


def resolve_model(ref, cache_dir=None, weights=None):
    """Prepare one model: a zoo name or a path to an ``.onnx`` file."""
    cache_dir = cache_dir or default_cache_dir()
    if is_onnx_reference(ref):
        if weights:
            raise ModelError("--weights applies to zoo models; {} is an ONNX file".format(ref))
        return _resolve_onnx(str(ref), cache_dir)
    return _resolve_zoo(str(ref), cache_dir, weights)


# ----------------------------------------------------------------------------- child process


def _child_zoo(request):
    import onnx
    import torch

    from edgebench.models import export
    from edgebench.models.counting import count_model
    from edgebench.models.onnx_input import describe_inputs

    torch.manual_seed(0)
    module = export.build_module(request["builder"], request["kwargs"], cache_dir=request.get("cache_dir"))
    if request.get("weights"):
        export.load_weights(module, request["weights"])
    else:
        export.perturb_constant_tensors(module)
    torch_params = sum(p.numel() for p in module.parameters())
    tmp = request["onnx_path"] + ".part"
    export.export_onnx(module, request["input_shape"], tmp)
    del module
    model = onnx.load(tmp)
    counts = count_model(model)
    inputs = describe_inputs(model)
    del model
    os.replace(tmp, request["onnx_path"])
    return {
        "onnx_path": request["onnx_path"],
        "onnx_sha256": sha256_file(request["onnx_path"]),
        "inputs": inputs,
        "params": counts.params,
        "macs": counts.macs,
        "gops": counts.gops,
        "uncounted_nodes": counts.uncounted,
        "node_macs": counts.node_macs,
        "torch_params": torch_params,
        "notes": [],
    }


def _child_onnx(request):
    import onnx

    from edgebench.models import onnx_input
    from edgebench.models.counting import count_model

    path = request["path"]
    model = onnx_input.load_onnx(path)
    notes = []
    rewritten = False
    out_path = path
    if onnx_input.batch_status(model) == "fixed1":
        dynamic = onnx_input.make_batch_dynamic(model)
        onnx_input.verify_dynamic(model, dynamic, path)
        out_path = request["rewrite_path"]
        tmp = out_path + ".part"
        onnx.save(dynamic, tmp)
        os.replace(tmp, out_path)
        model = dynamic
        rewritten = True
        notes.append("fixed batch of 1 rewritten to a dynamic batch axis")
    else:
        onnx_input.check_runs(model, path)
    counts = count_model(model)
    if counts.uncounted:
        notes.append("MACs of {} layers unknown (shapes not inferable)".format(len(counts.uncounted)))
    return {
        "onnx_path": out_path,
        "onnx_sha256": sha256_file(out_path) if rewritten else request["sha256"],
        "rewritten": rewritten,
        "inputs": onnx_input.describe_inputs(model),
        "params": counts.params,
        "macs": counts.macs,
        "gops": counts.gops,
        "uncounted_nodes": counts.uncounted,
        "node_macs": counts.node_macs,
        "notes": notes,
    }


def _child_main(argv):
    die_with_parent(int(argv[1]) if len(argv) > 1 else None)
    with open(argv[0]) as fh:
        request = json.load(fh)
    try:
        os.unlink(argv[0])  # read: nothing is left behind, whatever happens next
    except OSError:
        pass
    try:
        if request["kind"] == "zoo":
            result = _child_zoo(request)
        else:
            result = _child_onnx(request)
    except (ModelError, ValueError) as exc:
        result = {"error": str(exc)}
    except MemoryError:
        result = {"error": "out of memory while preparing the model"}
    atomic_write_json(request["result_path"], result)
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
