import json

import pytest

from edgebench.analysis import analyze, synthetic
from edgebench.analysis.fits import linear_upper_bound
from edgebench.errors import UsageError

# model, family, params, gops, top1
NETS = (("a", "fa", 2000000, 1.0, 60.0), ("b", "fb", 10000000, 4.0, 70.0), ("c", "fc", 50000000, 10.0, 76.0))


def _relation_points(power=True):
    points = []
    for i, (model, family, params, gops, top1) in enumerate(NETS):
        static = 200.0 + 1.30 * params * 4 / 1e6
        for b in (1, 2, 4, 8, 16, 32):
            values = dict(
                family=family,
                params=params,
                gops=gops,
                top1=top1,
                top1_source="ref",
                per_image_ms=2.0 + 3.0 * gops / (1 if b == 1 else 2),
                system_used_before_mb=500.0,
                system_used_peak_mb=500.0 + synthetic.knee_curve(b, static, 5.0, 8.0),
            )
            if power:
                values.update(net_power_w=10.0 + i + 0.01 * b, idle_power_w=1.3)
            points.append(synthetic.ok_point(model, b, **values))
    return points


def _summary(tmp_path, points, **kwargs):
    paths = synthetic.write_results_files(points, str(tmp_path))
    return analyze(paths["json"], **kwargs)


def test_memory_vs_params_recovers_floor_and_slope(tmp_path):
    (fit,) = _summary(tmp_path, _relation_points())["memory_vs_params"]["fits"]
    assert fit["floor_mb"] == pytest.approx(200.0) and fit["slope_mb_per_param_mb"] == pytest.approx(1.30)
    assert fit["r2"] == pytest.approx(1.0)


def test_ops_vs_time_fits_each_batch_size(tmp_path):
    fits = {f["batch_size"]: f for f in _summary(tmp_path, _relation_points())["ops_vs_time"]}
    assert fits[1]["ms_per_gop"] == pytest.approx(3.0) and fits[1]["intercept_ms"] == pytest.approx(2.0)
    assert fits[16]["ms_per_gop"] == pytest.approx(1.5) and fits[16]["r2"] == pytest.approx(1.0)


def test_power_mean_and_std_across_models_at_largest_feasible_batch(tmp_path):
    power = _summary(tmp_path, _relation_points())["power"]
    agg = power["across_models"]
    assert [e["batch_size"] for e in power["per_model"]] == [32, 32, 32]
    assert agg["mean_net_power_w"] == pytest.approx(11.32)
    assert agg["std_net_power_w"] == pytest.approx(1.0)


def test_power_vs_batch_is_listed_per_model(tmp_path):
    entry = _summary(tmp_path, _relation_points())["power"]["per_model"][0]
    assert [p["batch_size"] for p in entry["vs_batch"]] == [1, 2, 4, 8, 16, 32]


def test_simulated_power_is_labelled_everywhere_it_appears(tmp_path):
    summary = _summary(tmp_path, _relation_points())
    power = summary["power"]
    assert power["label"] == "SIMULATED" and power["across_models"]["label"] == "SIMULATED"
    assert all(e["label"] == "SIMULATED" for e in power["per_model"])
    assert all(p["label"] == "SIMULATED" for e in power["per_model"] for p in e["vs_batch"])
    assert all(p["label"] == "SIMULATED" for p in summary["pareto"]["frontier"])


def test_power_section_says_why_without_power_data(tmp_path):
    summary = _summary(tmp_path, _relation_points(power=False))
    assert summary["power"]["available"] is False and "power source" in summary["power"]["reason"]
    assert summary["pareto"]["available"] is False


def test_upper_bound_is_the_envelope_line_not_least_squares():
    # Envelope on top1 = 80 - 0.1 * x; everything else well below it.
    x = [10, 50, 100, 20, 60, 90, 30]
    y = [79, 75, 70, 60, 55, 50, 65]
    bound = linear_upper_bound(x, y)
    assert (bound["intercept"], bound["slope"]) == pytest.approx((80.0, -0.1))
    assert all(bound["intercept"] + bound["slope"] * a >= c - 1e-9 for a, c in zip(x, y))


def test_upper_bound_touches_two_envelope_points():
    bound = linear_upper_bound([10, 50, 100, 20], [79, 75, 70, 60])
    assert len(bound["touching"]) >= 2


def test_accuracy_throughput_bound_has_linear_and_hyperbolic_forms(tmp_path):
    bound = _summary(tmp_path, _relation_points())["accuracy_throughput_bound"]
    lin, hyp = bound["images_per_s"], bound["per_image_ms"]
    assert lin["slope_top1_per_unit"] <= 0
    assert hyp["k_top1_ms"] == pytest.approx(-1000.0 * hyp["slope_top1_per_unit"])
    assert "/ per_image_ms" in hyp["relation"]


def test_information_density_is_ranked_by_top1_per_million_parameters(tmp_path):
    dens = _summary(tmp_path, _relation_points())["information_density"]
    assert [e["model"] for e in dens] == ["a", "b", "c"]
    assert dens[0]["top1_per_mparams"] == pytest.approx(30.0) and dens[0]["rank"] == 1


def test_measured_accuracy_is_preferred_and_labelled(tmp_path):
    points = _relation_points()
    for p in points:
        if p["model"] == "c":
            p["top1_measured"] = 74.0
    dens = {e["model"]: e for e in _summary(tmp_path, points)["information_density"]}
    assert dens["c"]["top1"] == 74.0 and dens["c"]["top1_source"] == "measured"
    assert dens["a"]["top1_source"] == "reference: ref"


def test_pareto_frontier_of_accuracy_vs_net_energy(tmp_path):
    points = synthetic.four_network_points()
    frontier = _summary(tmp_path, points)["pareto"]["frontier"]
    assert [(p["model"], p["batch_size"]) for p in frontier] == [
        ("tinynet", 16),
        ("smallnet", 16),
        ("midnet", 16),
        ("bignet", 16),
    ]


def _two_env_points(tmp_path):
    points = _relation_points()
    for p in points:
        if p["model"] == "c":
            p["env_key"] = "other-env"
            p["run_id"] = 2
    runs = [
        synthetic.default_run(1),
        synthetic.default_run(
            2,
            environment=dict(
                synthetic.SYNTHETIC_ENVIRONMENT, versions={"edgebench": "0.1.0", "onnxruntime": "1.16.3"}
            ),
        ),
    ]
    return synthetic.write_results_files(points, str(tmp_path), runs=runs)


def test_mixed_environments_are_refused_and_what_differs_is_named(tmp_path):
    paths = _two_env_points(tmp_path)
    with pytest.raises(UsageError) as err:
        analyze(paths["db"])
    assert "--force" in str(err.value) and "versions.onnxruntime" in str(err.value)


def test_force_fits_across_environments_with_a_warning(tmp_path):
    paths = _two_env_points(tmp_path)
    summary = analyze(paths["db"], force=True)
    assert summary["environment"]["forced_across_environments"] is True
    assert any("--force" in w for w in summary["warnings"])


def test_env_key_keeps_one_environment(tmp_path):
    paths = _two_env_points(tmp_path)
    summary = analyze(paths["db"], env_key="other")
    assert {k["model"] for k in summary["memory_knee"]} == {"c"}


def test_a_point_measured_again_keeps_the_latest(tmp_path):
    points = _relation_points()
    again = dict(points[0], per_image_ms=99.0, run_id=2)
    paths = synthetic.write_results_files(
        points + [again], str(tmp_path), runs=[synthetic.default_run(1), synthetic.default_run(2)]
    )
    summary = analyze(paths["db"])
    (fit,) = [f for f in summary["ops_vs_time"] if f["batch_size"] == 1]
    assert [p["per_image_ms"] for p in fit["points"] if p["model"] == "a"] == [99.0]
    assert summary["environment"]["superseded_points"] == 1


def test_analyze_json_is_valid_json_with_documented_keys(tmp_path, cli):
    paths = synthetic.write_results_files(_relation_points(), str(tmp_path))
    status, out, _ = cli("analyze", paths["csv"], "--json")
    doc = json.loads(out)
    assert status == 0
    assert set(doc) == {
        "schema_version",
        "source",
        "environment",
        "points",
        "warnings",
        "memory_knee",
        "memory_vs_params",
        "ops_vs_time",
        "power",
        "accuracy_throughput_bound",
        "information_density",
        "pareto",
        "paper",
    }


def test_analyze_text_output_names_each_section(tmp_path, cli):
    paths = synthetic.write_results_files(_relation_points(), str(tmp_path))
    status, out, _ = cli("analyze", paths["db"])
    assert status == 0
    for title in (
        "Memory vs batch",
        "Static memory vs parameter size",
        "Per-image time vs G-Ops",
        "Net power",
        "Accuracy vs throughput",
        "Information density",
        "Accuracy vs net energy",
    ):
        assert title in out


def test_only_failed_points_is_one_line_and_exit_2(tmp_path, cli):
    points = [synthetic.failed_point("m", b, error="CUDA out of memory") for b in (1, 2)]
    paths = synthetic.write_results_files(points, str(tmp_path))
    status, out, err = cli("analyze", paths["db"])
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "all 2 point(s) failed" in err and "CUDA out of memory" in err


def test_mixed_environments_exit_2_without_traceback(tmp_path, cli):
    paths = _two_env_points(tmp_path)
    status, _, err = cli("analyze", paths["db"])
    assert status == 2 and "Traceback" not in err and err.count("\n") == 1
