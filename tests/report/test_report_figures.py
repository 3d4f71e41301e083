"""The PNG figures; skipped where matplotlib (the report extra) is not installed."""

import io
import os
import re

import pytest

from edgebench.analysis import synthetic
from edgebench.report import write_report

pytest.importorskip("matplotlib", reason="figures need the report extra: pip install 'edgebench[report]'")

from edgebench.report.figures import FIGURES, Style  # noqa: E402


@pytest.fixture(scope="module")
def report(tmp_path_factory, report_points):
    base = tmp_path_factory.mktemp("figures")
    db = synthetic.write_results_files(report_points(), str(base / "results"))["db"]
    out = str(base / "rep")
    return out, write_report(db, out)


def _pixels(path):
    from matplotlib.image import imread

    return imread(path)


def test_every_figure_is_drawn_with_full_data(report):
    _, written = report
    assert [f["name"] for f in written["figures"] if f["file"]] == [name for name, _ in FIGURES]


def test_every_png_is_a_non_blank_image(report):
    out, written = report
    for f in written["figures"]:
        pixels = _pixels(os.path.join(out, f["file"]))
        assert pixels.shape[0] > 200 and pixels.shape[1] > 300, f["file"]
        assert float(pixels[..., :3].std()) > 0.02, f["file"]


def test_index_html_references_every_png_and_nothing_missing(report):
    out, written = report
    with io.open(os.path.join(out, "index.html"), encoding="utf-8") as handle:
        page = handle.read()
    images = set(re.findall(r'<img src="([^"]+)"', page))
    assert images == {f["file"] for f in written["figures"]}
    assert all(os.path.isfile(os.path.join(out, name)) for name in images)


def test_family_colours_are_fixed_across_figures(report_points):
    style = Style(report_points())
    assert style.colour("resnet18") == style.colour("resnet50")
    assert len({style.colour(m) for m in ("alexnet", "resnet18", "mobilenet_v2")}) == 3


@pytest.fixture(scope="module")
def no_power_report(tmp_path_factory, report_points):
    """A report without power data, written over a folder that holds an earlier power figure."""
    base = tmp_path_factory.mktemp("nopower")
    db = synthetic.write_results_files(report_points(power=False), str(base / "results"))["db"]
    out = str(base / "rep")
    os.makedirs(out)
    with open(os.path.join(out, "power_vs_batch.png"), "wb") as handle:
        handle.write(b"an earlier report's figure")
    return out, write_report(db, out)


def test_power_figures_are_skipped_with_a_reason_without_power_data(no_power_report):
    _, written = no_power_report
    skipped = {f["name"]: f["skipped"] for f in written["figures"] if not f["file"]}
    assert set(skipped) == {"power_vs_batch", "gops_vs_power", "accuracy_vs_energy"}
    assert "power" in skipped["power_vs_batch"]


def test_stale_figures_from_an_earlier_report_are_removed(no_power_report):
    out, _ = no_power_report
    assert not os.path.exists(os.path.join(out, "power_vs_batch.png"))
