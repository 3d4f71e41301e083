"""Boards side by side: the same network and precision measured on several boards.

``compare(sources)`` loads every source (``.db``/``.csv``/``.json`` files, sweep folders, or
``postgresql://`` URLs) and, for each network and precision present on at least two boards, gives
per board (and engine, and environment): the best images/s, the single-image latency, the best
per-image time, the net power at the fastest point, the lowest net energy per image, the memory
knee, and the top-1 accuracy where measured (else the reference, labelled). Then it names which
board wins each budget: throughput, latency, energy per image, net power.

Nothing is fitted across boards: each board's memory knee is fitted on that board's own points
(one environment, as ``analyze`` does). A board is named as :func:`edgebench.results.boards.board_label`
names it (its host name). Simulated power figures are labelled.
"""
from collections import OrderedDict

from edgebench.errors import UsageError
from edgebench.results.boards import board_label, board_model

# budget -> (figure, "max" or "min", what it means)
BUDGETS = OrderedDict((
    ("throughput", ("images_per_s", "max", "most images per second")),
    ("latency", ("latency_ms", "min", "shortest single-image latency (smallest batch measured)")),
    ("energy", ("net_energy_per_image_j", "min", "least net energy per image")),
    ("power", ("net_power_w", "min", "lowest net power at the fastest point")),
))


def _board_of_rows(results):
    """run id -> (board label, board model) for one loaded source."""
    out = {}
    for run in results.runs:
        env = run.get("environment") if isinstance(run.get("environment"), dict) else {}
        out[run.get("id")] = (board_label(env), board_model(env))
    return out


def _best(rows, figure, how):
    rows = [r for r in rows if r.get(figure) is not None]
    if not rows:
        return None
    return (max if how == "max" else min)(rows, key=lambda r: r[figure])


def _entry(board, model_name, env_key, backend, rows, knee, source):
    from edgebench.analysis.points import accuracy_of, is_simulated, net_energy_of, per_image_ms_of

    for r in rows:
        r["_per_image_ms"] = per_image_ms_of(r)
        r["_net_energy_j"] = net_energy_of(r)[0]
    fastest = _best(rows, "images_per_s", "max")
    smallest = min(rows, key=lambda r: r["batch_size"])
    leanest = _best(rows, "_net_energy_j", "min")
    quickest = _best(rows, "_per_image_ms", "min")
    accuracy = [accuracy_of(r) for r in rows]
    measured = [a for a in accuracy if a[1] == "measured"]
    top1, top1_source = (measured or [a for a in accuracy if a[0] is not None] or [(None, None)])[0]
    return OrderedDict((
        ("board", board), ("board_model", model_name), ("backend", backend), ("env_key", env_key),
        ("source", source), ("batches", sorted(r["batch_size"] for r in rows)),
        ("images_per_s", fastest["images_per_s"] if fastest else None),
        ("images_per_s_batch", fastest["batch_size"] if fastest else None),
        ("latency_ms", smallest.get("latency_median_ms")), ("latency_batch", smallest["batch_size"]),
        ("per_image_ms", quickest["_per_image_ms"] if quickest else None),
        ("per_image_ms_batch", quickest["batch_size"] if quickest else None),
        ("net_power_w", fastest.get("net_power_w") if fastest else None),
        ("net_energy_per_image_j", leanest["_net_energy_j"] if leanest else None),
        ("energy_batch", leanest["batch_size"] if leanest else None),
        ("memory_knee_batch", knee.get("knee_batch")), ("memory_static_mb", knee.get("static_mb")),
        ("memory_knee_status", knee.get("status")),
        ("top1", top1), ("top1_source", top1_source),
        ("simulated", any(is_simulated(r) for r in rows)),
        ("points", [OrderedDict((("batch_size", r["batch_size"]), ("per_image_ms", r["_per_image_ms"]),
                                 ("latency_ms", r.get("latency_median_ms")), ("images_per_s", r.get("images_per_s")),
                                 ("net_energy_per_image_j", r["_net_energy_j"])))
                    for r in sorted(rows, key=lambda r: r["batch_size"])]),
    ))


def _entries(results):
    from edgebench.analysis.load import Results
    from edgebench.analysis.points import NO_ENV_KEY, config_key, group_by, select
    from edgebench.analysis.summary import memory_knee

    boards = _board_of_rows(results)
    by_env = group_by(results.measurements, lambda r: r.get("env_key") or NO_ENV_KEY)
    out = []
    for env_key, rows in by_env.items():
        part = Results(rows, results.runs, results.schema_version, results.path, results.format)
        selection = select(part)  # one environment: the latest point per point key, never a mix
        knees = dict(((k["model"], k["backend"], k["precision"]), k) for k in memory_knee(selection))
        for key, group in group_by(selection.ok, config_key).items():
            board, model_name = boards.get(group[0].get("run_id"), ("unknown board", None))
            out.append(((key[0], key[2]), _entry(board, model_name, env_key, key[1], [dict(r) for r in group],
                                                 knees.get(key, {}), results.path)))
    return out


def compare_results(loaded):
    """The ``edgebench compare --json`` document for a list of loaded Results."""
    groups = OrderedDict()
    seen = set()
    warnings = []
    for results in loaded:
        warnings.extend(results.warnings)
        for (model, precision), entry in _entries(results):
            ident = (entry["board"], entry["env_key"], entry["backend"], model, precision)
            if ident in seen:  # the same runs from two sources (a .db and the PostgreSQL it pushed to)
                continue
            seen.add(ident)
            groups.setdefault((model, precision), []).append(entry)
    all_boards = sorted(set(e["board"] for entries in groups.values() for e in entries))
    if len(all_boards) < 2:
        raise UsageError("compare needs results from at least two boards; found {}: pass more RESULTS "
                         "(several .db files, or the postgresql:// URL they were pushed to)".format(
                             ", ".join(all_boards) or "none with an ok point"))
    networks = []
    wins = OrderedDict((b, OrderedDict((name, 0) for name in BUDGETS)) for b in all_boards)
    for (model, precision), entries in sorted(groups.items()):
        if len(set(e["board"] for e in entries)) < 2:
            continue
        entries.sort(key=lambda e: (e["board"], e["backend"], e["env_key"]))
        winners = OrderedDict()
        for name, (figure, how, meaning) in BUDGETS.items():
            best = _best(entries, figure, how)
            winners[name] = OrderedDict((("board", best["board"]), ("backend", best["backend"]), (figure, best[figure]),
                                         ("meaning", meaning))) if best else None
            if best:
                wins[best["board"]][name] += 1
        networks.append(OrderedDict((("model", model), ("precision", precision), ("boards", entries),
                                     ("winners", winners))))
    if not networks:
        raise UsageError("no network and precision was measured on two boards ({}): sweep the same models on "
                         "each board".format(", ".join(all_boards)))
    return OrderedDict((
        ("sources", [r.describe() for r in loaded]), ("boards", all_boards), ("networks", networks),
        ("wins", wins), ("warnings", warnings),
    ))


def compare(sources):
    from edgebench.analysis.load import load_results

    return compare_results([load_results(s) for s in sources])


def _fmt(value, digits=3):
    if value is None:
        return "-"
    if isinstance(value, float):
        return "{:.{}g}".format(value, digits + 1)
    return str(value)


def compare_text(doc):
    """Plain text tables: one per network and precision, then who wins each budget."""
    lines = []
    columns = (("board", "board"), ("backend", "engine"), ("images_per_s", "img/s"), ("images_per_s_batch", "@b"),
               ("latency_ms", "latency ms"), ("per_image_ms", "ms/img"), ("net_power_w", "net W"),
               ("net_energy_per_image_j", "net J/img"), ("memory_knee_batch", "knee b"), ("top1", "top-1 %"))
    for net in doc["networks"]:
        lines.append("{} {}".format(net["model"], net["precision"]))
        rows = [[h for _, h in columns]]
        for e in net["boards"]:
            rows.append([_fmt(e[k]) for k, _ in columns])
            if e["simulated"]:
                rows[-1][0] += " (SIMULATED power)"
        widths = [max(len(r[i]) for r in rows) for i in range(len(columns))]
        for r in rows:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        lines.append("  wins: " + "; ".join("{} {}".format(name, w["board"] if w else "-")
                                             for name, w in net["winners"].items()))
        lines.append("")
    lines.append("budgets won, across networks:")
    for board, won in doc["wins"].items():
        lines.append("  {}: {}".format(board, ", ".join("{} {}".format(n, c) for n, c in won.items())))
    for w in doc["warnings"]:
        lines.append("warning: " + w)
    return "\n".join(lines) + "\n"


def register(subparsers):
    from edgebench.cliutil import add_json_argument

    p = subparsers.add_parser(
        "compare",
        help="boards side by side: each network and precision measured on several boards, and who wins each budget",
        description="For each network and precision present on several boards: images/s, latency, net power, net "
        "energy per image, memory knee and accuracy per board, and which board wins each budget. RESULTS are "
        ".db/.csv/.json files, sweep folders or postgresql:// URLs (?board=&since= filter them).",
    )
    p.add_argument("results", metavar="RESULTS", nargs="+", help="results of the boards to compare")
    add_json_argument(p)
    p.set_defaults(func=run_compare)


def run_compare(args):
    import sys

    from edgebench.cliutil import emit_json

    doc = compare(args.results)
    if args.json:
        emit_json(doc)
    else:
        sys.stdout.write(compare_text(doc))
    return 0
