"""Effective precision: a point requested in fp16 that ran in fp32 is grouped, labelled and fitted as fp32."""
import json

import pytest

from edgebench.analysis import analyze, budget, synthetic
from edgebench.analysis.words import formula, plural

NETS = (("a", 2000000, 1.0, 60.0), ("b", 10000000, 4.0, 70.0), ("c", 50000000, 10.0, 76.0))


def _cpu_fp16_points():
    """fp32 and fp16 points of three models on a CPU provider that computes fp16 in fp32 (ORT's CPU EP)."""
    points = []
    for model, params, gops, top1 in NETS:
        for precision in ("fp32", "fp16"):
            for b in (1, 2, 4, 8, 16):
                static = 200.0 + 1.3 * params * 4 / 1e6
                points.append(synthetic.ok_point(
                    model, b, precision=precision, precision_effective="fp32", params=params, gops=gops,
                    top1=top1, top1_source="ref", per_image_ms=2.0 + 3.0 * gops,
                    peak_rss_mb=synthetic.knee_curve(b, static, 5.0, 4.0),
                    net_power_w=10.0, idle_power_w=1.3,
                ))
    return points


def _summary(tmp_path, points):
    paths = synthetic.write_results_files(points, str(tmp_path))
    return analyze(paths["json"])


def _derived_records(summary):
    yield from summary["memory_knee"]
    yield from summary["memory_vs_params"]["fits"]
    yield from summary["ops_vs_time"]
    yield from summary["power"]["per_model"]
    yield from summary["power"]["by_engine"]
    yield from summary["accuracy_throughput_bound"]["images_per_s"]["envelope"]
    yield from summary["pareto"]["frontier"]


def test_every_derived_record_of_a_cpu_fp16_sweep_says_it_ran_in_fp32(tmp_path):
    records = list(_derived_records(_summary(tmp_path, _cpu_fp16_points())))
    assert records and all(r["precision_effective"] == "fp32" for r in records)


def test_fp16_requests_that_ran_in_fp32_are_labelled_with_the_arrow(tmp_path):
    knees = _summary(tmp_path, _cpu_fp16_points())["memory_knee"]
    assert sorted({k["precision_label"] for k in knees}) == ["fp16→fp32", "fp32"]


def test_no_two_byte_memory_model_is_fitted_to_points_that_ran_in_fp32(tmp_path):
    fits = _summary(tmp_path, _cpu_fp16_points())["memory_vs_params"]["fits"]
    assert [f["bytes_per_param"] for f in fits] == [4, 4]


def test_the_fp16_request_fit_says_why_it_uses_four_bytes(tmp_path):
    fits = _summary(tmp_path, _cpu_fp16_points())["memory_vs_params"]["fits"]
    (fallen,) = [f for f in fits if f["precision"] == "fp16"]
    assert "ran in fp32" in fallen["precision_note"]


def test_fp16_that_really_ran_in_fp16_keeps_two_bytes_per_parameter(tmp_path):
    points = [dict(p, precision_effective="fp16" if p["precision"] == "fp16" else "fp32")
              for p in _cpu_fp16_points()]
    fits = _summary(tmp_path, points)["memory_vs_params"]["fits"]
    assert sorted((f["precision_label"], f["bytes_per_param"]) for f in fits) == [("fp16", 2), ("fp32", 4)]


def test_budget_names_the_fallen_back_precision(tmp_path):
    paths = synthetic.write_results_files(_cpu_fp16_points(), str(tmp_path))
    answer = budget(paths["json"], latency_ms=1000.0)
    assert all(r["precision_effective"] == "fp32" for r in [answer["best"]] + answer["runners_up"])


def test_analyze_json_on_the_cli_carries_precision_effective(tmp_path, cli):
    paths = synthetic.write_results_files(_cpu_fp16_points(), str(tmp_path))
    status, out, _ = cli("analyze", paths["json"], "--json")
    assert status == 0
    assert {k["precision_effective"] for k in json.loads(out)["memory_knee"]} == {"fp32"}


@pytest.mark.parametrize("args, text", [
    ((58.18, -0.0, "images_per_s"), "top1 <= 58.18"),
    ((58.18, -0.5, "images_per_s"), "top1 <= 58.18 - 0.5 * images_per_s"),
    ((58.18, 0.5, "images_per_s"), "top1 <= 58.18 + 0.5 * images_per_s"),
    ((80.0, -120.0, "/ per_image_ms"), "top1 <= 80 - 120 / per_image_ms"),
])
def test_formula_is_written_as_a_person_writes_it(args, text):
    assert formula("top1", "<=", *args) == text


def test_plural_is_singular_for_one():
    assert (plural(1, "model"), plural(3, "model")) == ("1 model", "3 models")
