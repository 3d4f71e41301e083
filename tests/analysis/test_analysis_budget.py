"""Budgets on four networks with known accuracy and energy.

Net energy per image (mJ) at batch 1 / 4 / 16: tinynet 10 / 5 / 2.5 (top-1 55), smallnet
40 / 20 / 10 (65), midnet 200 / 100 / 50 (75), bignet 1000 / 500 / 250 (80). Latency of one call
(ms) at batch 1 / 4 / 16: tinynet 2 / 4 / 8, smallnet 5 / 10 / 20, midnet 20 / 40 / 80, bignet
80 / 160 / 320.
"""

import json

import pytest

from edgebench.analysis import budget, derived_columns, synthetic


@pytest.fixture
def four(tmp_path):
    return synthetic.write_results_files(synthetic.four_network_points(), str(tmp_path))["db"]


@pytest.fixture
def four_without_power(tmp_path):
    return synthetic.write_results_files(synthetic.four_network_points(with_power=False), str(tmp_path))["db"]


def _config(rec):
    return rec["model"], rec["batch_size"]


def test_energy_budget_picks_the_most_accurate_configuration_that_fits(four):
    answer = budget(four, energy_mj=50)
    assert _config(answer["best"]) == ("midnet", 16)
    assert answer["best"]["top1"] == 75.0 and answer["best"]["net_energy_per_image_j"] == pytest.approx(0.05)


def test_best_has_the_documented_keys(four):
    best = budget(four, energy_mj=50)["best"]
    for key in (
        "model",
        "backend",
        "precision",
        "batch_size",
        "top1",
        "top1_source",
        "net_energy_per_image_j",
        "images_per_s",
        "latency_ms",
    ):
        assert key in best
    assert best["top1_source"] == "reference: synthetic reference"


def test_runners_up_are_the_cheapest_fitting_point_of_each_other_network(four):
    runners = budget(four, energy_mj=50)["runners_up"]
    assert [_config(r) for r in runners] == [("smallnet", 16), ("tinynet", 16)]


def test_energy_budget_accuracy_bound_follows_the_fitted_envelope(four):
    # Envelope in images per joule: (4, 80) ... (400, 55); at 50 mJ = 20 images/J the line gives
    # 80 - 25 * 16 / 396.
    bound = budget(four, energy_mj=50)["accuracy_bound"]
    assert bound["top1"] == pytest.approx(80.0 - 25.0 * 16.0 / 396.0)


def test_nothing_fits_is_an_answer_naming_the_cheapest_configuration(four):
    answer = budget(four, energy_mj=1)
    assert answer["best"] is None and _config(answer["cheapest"]) == ("tinynet", 16)
    assert "nothing fits" in answer["message"]


def test_power_and_rate_budget_needs_both_the_rate_and_the_power(four):
    answer = budget(four, power_w=10, fps=200)
    assert _config(answer["best"]) == ("midnet", 16)
    assert answer["best"]["net_power_at_fps_w"] == pytest.approx(10.0)


def test_power_budget_below_every_configuration_names_the_closest(four):
    answer = budget(four, power_w=0.1, fps=100)
    assert answer["best"] is None and _config(answer["cheapest"]) == ("tinynet", 16)


def test_latency_budget_works_without_power_data(four_without_power):
    answer = budget(four_without_power, latency_ms=10)
    assert _config(answer["best"]) == ("smallnet", 1)
    assert answer["best"]["latency_ms"] == pytest.approx(5.0)


def test_energy_budget_without_power_data_exits_2_and_suggests_latency(four_without_power, cli):
    status, out, err = cli("budget", four_without_power, "--energy-mj", "50")
    assert status == 2 and out == "" and "no power data" in err and "--latency-ms" in err


def test_negative_budget_is_one_line_and_exit_2(four, cli):
    status, _, err = cli("budget", four, "--energy-mj", "-5")
    assert status == 2 and err.count("\n") == 1 and "positive number" in err


def test_power_without_rate_is_refused(four, cli):
    status, _, err = cli("budget", four, "--power-w", "5")
    assert status == 2 and "--fps" in err


def test_budget_json_has_the_documented_keys(four, cli):
    status, out, _ = cli("budget", four, "--energy-mj", "50", "--json")
    doc = json.loads(out)
    assert status == 0 and {"best", "accuracy_bound", "runners_up"} <= set(doc)


def test_budget_text_labels_simulated_energy(four, cli):
    status, out, _ = cli("budget", four, "--energy-mj", "50")
    assert status == 0 and "SIMULATED" in out


def test_derived_columns_gives_knee_and_energy_per_point():
    rows = synthetic.knee_points(net_power_w=10.0, idle_power_w=1.3, top1=70.0)
    derived = derived_columns(rows)
    point = derived["kneenet/tensorrt/fp32/8"]
    assert point["knee_batch"] == pytest.approx(8.0)
    assert point["net_energy_per_image_j"] == pytest.approx(10.0 / 100.0)


def test_derived_columns_marks_the_pareto_points():
    derived = derived_columns(synthetic.four_network_points())
    on = sorted(k for k, v in derived.items() if v["on_pareto"])
    assert on == sorted(
        "{}/onnxruntime/fp32/16".format(m) for m in ("tinynet", "smallnet", "midnet", "bignet")
    )


def test_derived_columns_tolerates_rows_without_figures():
    rows = [synthetic.failed_point("m", 1), synthetic.ok_point("m", 2)]
    derived = derived_columns(rows)
    assert derived["m/onnxruntime/fp32/2"]["knee_status"] == "no_memory_data"
    assert derived["m/onnxruntime/fp32/2"]["net_energy_per_image_j"] is None
