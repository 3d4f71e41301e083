"""`edgebench compare`: the same network on several boards, and which board wins each budget."""
import pytest
from cli_helpers import edgebench, edgebench_json
from fleet_stores import two_boards

from edgebench.analysis.compare import compare
from edgebench.results import schema
from edgebench.results.store import ResultStore


def _store(path, host, points, model="net"):
    """A store whose run was measured on ``host``; ``points``: [(batch, per_image_ms, net_energy_j, net_w)]."""
    with ResultStore(str(path)) as store:
        run_id = store.create_run({"models": [model]}, {"host": host, "board": {"model": host.upper()}})
        for batch, ms, energy_j, net_w in points:
            store.add_point(run_id, schema.empty_point(
                point_key=schema.point_key(model, "onnxruntime", "fp32", batch), model=model, model_source="onnx",
                backend="onnxruntime", precision="fp32", batch_size=batch, status="ok", env_key="env-" + host,
                per_image_ms=ms, latency_median_ms=ms * batch, images_per_s=1000.0 / ms,
                net_energy_per_image_j=energy_j, net_power_w=net_w, top1_measured=71.5 if host == "b" else None))
        store.finish_run(run_id, schema.RUN_COMPLETE)
    return str(path)


@pytest.fixture
def fast_and_lean(tmp_path):
    """Board "a" is faster, board "b" needs less energy per image and less power."""
    a = _store(tmp_path / "a.db", "a", [(1, 2.0, 0.020, 10.0), (4, 1.0, 0.012, 12.0)])
    b = _store(tmp_path / "b.db", "b", [(1, 5.0, 0.010, 2.0), (4, 3.0, 0.006, 2.0)])
    return a, b


def test_each_board_gets_its_best_figures(fast_and_lean):
    doc = compare(fast_and_lean)
    (net,) = doc["networks"]
    a, b = net["boards"]
    assert (a["board"], a["images_per_s"], a["images_per_s_batch"], a["latency_ms"]) == ("a", 1000.0, 4, 2.0)
    assert (b["net_energy_per_image_j"], b["energy_batch"], b["net_power_w"]) == (0.006, 4, 2.0)
    assert (b["top1"], b["top1_source"]) == (71.5, "measured") and a["top1"] is None


def test_the_winner_of_each_budget_is_named(fast_and_lean):
    winners = compare(fast_and_lean)["networks"][0]["winners"]
    assert dict((k, w["board"]) for k, w in winners.items()) == {
        "throughput": "a", "latency": "a", "energy": "b", "power": "b"}


def test_wins_are_counted_across_networks(fast_and_lean, tmp_path):
    extra = _store(tmp_path / "a2.db", "a", [(1, 9.0, 0.5, 20.0)], model="other")
    extra_b = _store(tmp_path / "b2.db", "b", [(1, 1.0, 0.1, 1.0)], model="other")
    doc = compare(list(fast_and_lean) + [extra, extra_b])
    assert doc["wins"]["b"] == {"throughput": 1, "latency": 1, "energy": 2, "power": 2}


def test_a_network_on_one_board_only_is_left_out(fast_and_lean, tmp_path):
    alone = _store(tmp_path / "c.db", "a", [(1, 1.0, 0.1, 1.0)], model="only-on-a")
    doc = compare(list(fast_and_lean) + [alone])
    assert [n["model"] for n in doc["networks"]] == ["net"]


def test_one_board_is_exit_2_asking_for_more(fast_and_lean):
    proc = edgebench("compare", fast_and_lean[0])
    assert proc.returncode == 2 and "at least two boards" in proc.stderr and "Traceback" not in proc.stderr


def test_text_output_lists_both_boards_and_the_wins(fast_and_lean):
    proc = edgebench("compare", *fast_and_lean)
    assert proc.returncode == 0, proc.stderr
    assert "wins: throughput a; latency a; energy b; power b" in proc.stdout


@pytest.fixture(scope="module")
def real_boards(tmp_path_factory):
    return two_boards(tmp_path_factory)


@pytest.mark.slow
def test_two_fake_boards_from_real_sweeps_side_by_side(real_boards):
    doc = edgebench_json("compare", *real_boards.values(), "--json")
    assert doc["boards"] == ["agx-orin", "jetson-nano"]
    (net,) = doc["networks"]
    assert (net["model"], net["precision"]) == ("tiny", "fp32")
    assert all(e["images_per_s"] > 0 and e["batches"] == [1, 2] for e in net["boards"])


@pytest.mark.slow
def test_compare_reads_postgres_and_skips_runs_given_twice(real_boards, pg_url):
    pytest.importorskip("psycopg2")
    for path in real_boards.values():
        edgebench_json("push", path, pg_url, "--json")
    doc = edgebench_json("compare", pg_url, real_boards["agx_orin_jp6"], "--json")
    assert doc["boards"] == ["agx-orin", "jetson-nano"]
    assert len(doc["networks"][0]["boards"]) == 2
