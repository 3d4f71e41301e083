"""``edgebench models``: the zoo with its figures."""
import glob
import json
import os

from edgebench.cliutil import add_json_argument, emit_json


def register(subparsers):
    parser = subparsers.add_parser(
        "models",
        help="list the model zoo",
        description="List the zoo: parameters, MACs, G-Ops, input shape, reference accuracy and its "
        "source. Figures are counted on the exported ONNX graph when a cached export exists, else the "
        "published ones (column 'counted').",
    )
    add_json_argument(parser)
    parser.add_argument("--cache-dir", metavar="DIR", help="cache directory (default $EDGEBENCH_CACHE_DIR "
                        "or ~/.cache/edgebench)")
    parser.set_defaults(func=run)


def _cached_counts(cache_dir):
    """name -> counted figures from sidecars of cached zoo exports (newest wins)."""
    found = {}
    for path in sorted(glob.glob(os.path.join(cache_dir, "onnx", "*.json")), key=os.path.getmtime):
        base = os.path.basename(path)
        if base.startswith("user-"):
            continue
        name = base.rsplit("-", 1)[0]
        try:
            with open(path) as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            continue
        if "params" in data and "macs" in data:
            found[name] = data
    return found


def model_rows(cache_dir):
    from edgebench.models.registry import all_specs

    counted = _cached_counts(cache_dir)
    rows = []
    for spec in all_specs():
        data = counted.get(spec.name)
        params = data["params"] if data else spec.ref_params
        macs = data["macs"] if data else spec.ref_macs
        rows.append(
            {
                "name": spec.name,
                "family": spec.family,
                "params": params,
                "macs": macs,
                "gops": 2.0 * macs / 1e9 if macs is not None else None,
                "input_shape": list(spec.input_shape),
                "top1": spec.top1,
                "top5": spec.top5,
                "source": spec.source,
                "dataset": spec.dataset,
                "default": spec.default,
                "counted": bool(data),
            }
        )
    return rows


def run(args):
    from edgebench.models.prepare import default_cache_dir

    rows = model_rows(args.cache_dir or default_cache_dir())
    if args.json:
        emit_json(rows)
        return 0
    from rich.table import Table

    from edgebench.cliutil import console

    table = Table(title="edgebench model zoo (* = in the default sweep; params and MACs counted on the cached "
                  "ONNX export, or published where marked p)")
    for col, justify in (("model", "left"), ("params", "right"), ("GMACs", "right"), ("G-Ops", "right"),
                         ("input", "left"), ("top-1 %", "right"), ("top-5 %", "right")):
        table.add_column(col, justify=justify, no_wrap=True)
    table.add_column("source", overflow="ellipsis", no_wrap=True, max_width=48)
    for r in rows:
        table.add_row(
            r["name"] + (" *" if r["default"] else ""),
            ("{:,}".format(r["params"]) if r["params"] is not None else "-") + ("" if r["counted"] else " p"),
            ("{:.3f}".format(r["macs"] / 1e9) if r["macs"] is not None else "-") + ("" if r["counted"] else " p"),
            "{:.2f}".format(r["gops"]) if r["gops"] is not None else "-",
            "x".join(str(d) for d in r["input_shape"]),
            "{:.1f}".format(r["top1"]) if r["top1"] is not None else "-",
            "{:.1f}".format(r["top5"]) if r["top5"] is not None else "-",
            r["source"] or "",
        )
    console().print(table)
    return 0
