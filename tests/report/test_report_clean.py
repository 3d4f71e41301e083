"""A report that reads clean: no library warnings, captions from what is drawn, labels of what ran."""
import os
import warnings

import pytest

from edgebench.analysis import synthetic
from edgebench.report import write_report
from edgebench.report.page import index_html
from edgebench.report.text import analyze_tables, render_text

pytest.importorskip("matplotlib", reason="figures need the report extra: pip install 'edgebench[report]'")


def _cpu_fp16_rows(report_points):
    """As ONNX Runtime's CPU provider does: fp16 requested, computed in fp32."""
    rows = report_points(power=False, precisions=("fp32", "fp16"))
    return [dict(r, precision_effective="fp32") if r["status"] == "ok" else r for r in rows]


def _write(tmp_path, rows):
    db = synthetic.write_results_files(rows, str(tmp_path / "results"), formats=("db",))["db"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = write_report(db, str(tmp_path / "rep"))
    return written, [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)]


def test_a_report_without_power_or_accuracy_raises_no_library_warning(tmp_path, report_points):
    rows = [dict(r, top1=None, top1_measured=None) for r in report_points(power=False)]
    _, caught = _write(tmp_path, rows)
    assert caught == []


def test_a_full_report_raises_no_library_warning(tmp_path, report_points):
    _, caught = _write(tmp_path, report_points())
    assert caught == []


def test_time_vs_gops_caption_names_the_batches_drawn(tmp_path, report_points):
    written, _ = _write(tmp_path, report_points())
    (fig,) = [f for f in written["figures"] if f["name"] == "time_vs_gops"]
    assert fig["title"].endswith("at batch 1 and 16")


def test_time_vs_gops_caption_follows_other_batches(tmp_path, report_points):
    rows = [r for r in report_points() if r["batch_size"] in (1, 4)]
    written, _ = _write(tmp_path, rows)
    (fig,) = [f for f in written["figures"] if f["name"] == "time_vs_gops"]
    assert fig["title"].endswith("at batch 1 and 4")


def test_memory_caption_promises_no_knee_when_none_was_fitted(tmp_path, report_points):
    rows = [r for r in report_points() if r["batch_size"] in (1, 4)]
    written, _ = _write(tmp_path, rows)
    (fig,) = [f for f in written["figures"] if f["name"] == "memory_vs_batch"]
    assert "no knee could be fitted" in fig["title"]


def test_tables_label_fp16_points_that_ran_in_fp32_by_what_ran(tmp_path, report_points):
    from edgebench.analysis import analyze

    tables = analyze_tables(analyze(_cpu_fp16_rows(report_points)))
    cells = [row[t["headers"].index("precision")] for t in tables if "precision" in t["headers"] for row in t["rows"]]
    assert "fp16→fp32" in cells and "fp16" not in cells


def test_precisions_figure_is_drawn_for_a_fallen_back_precision(tmp_path, report_points):
    written, _ = _write(tmp_path, _cpu_fp16_rows(report_points))
    assert os.path.exists(os.path.join(written["out_dir"], "precisions.png"))


def test_power_note_without_a_spread_has_no_dangling_plus_minus(report_points):
    from edgebench.analysis import analyze

    rows = [r for r in report_points() if r["model"] == "resnet18" and r["precision"] == "fp32"]
    text = render_text(analyze_tables(analyze(rows)))
    assert "+/- -" not in text and "over 1 model " in text.replace(")", " ").replace(";", " ")


def test_every_table_header_names_its_column(report_points):
    from edgebench.analysis import analyze

    for table in analyze_tables(analyze(report_points())):
        assert all(h for h in table["headers"]), table["title"]


def test_index_html_lists_every_measured_point_and_each_runs_environment(report_points):
    from edgebench.analysis import analyze

    rows = report_points()
    runs = [dict(synthetic.default_run(), environment={"host": "board-7", "python": "3.6.9"})]
    page = index_html(analyze(rows), [], rows=rows, runs=runs)
    assert page.count("<tr>") >= len(rows) and 'id="points"' in page
    assert "board-7" in page and "3.6.9" in page
