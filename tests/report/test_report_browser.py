"""index.html in a real browser: Debian's headless Chromium (installed by .ci/run).

Where CI runs (CI=true) a missing Chromium is a failure, not a skip: the check must not silently stop.
Chromium's headless flags: https://developer.chrome.com/docs/chromium/headless (--dump-dom prints the
DOM after scripts ran; --virtual-time-budget lets the page's load events fire first).
"""
import json
import os
import re
import shutil
import subprocess

import pytest

from edgebench.analysis import synthetic
from edgebench.report import write_report

pytest.importorskip("matplotlib", reason="figures need the report extra: pip install 'edgebench[report]'")

from edgebench.report.figures import FIGURES  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and os.environ.get("CI") != "true",
                       reason="headless Chromium is not installed (apt-get install chromium)"),
]

# Appended to a copy of the page: after load, record each image's natural width and the order of
# the points table after a click on its "batch" header, in attributes --dump-dom prints.
PROBE = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.map.call(document.images, function (i) {
    return [i.getAttribute("src"), i.complete ? i.naturalWidth : -1];
  });
  document.body.setAttribute("data-images", JSON.stringify(imgs));
  var table = document.getElementById("points");
  var heads = Array.prototype.map.call(table.tHead.rows[0].cells, function (c) { return c.textContent; });
  var col = heads.indexOf("batch");
  table.tHead.rows[0].cells[col].click();
  table.tHead.rows[0].cells[col].click();
  var order = Array.prototype.map.call(table.tBodies[0].rows, function (r) { return r.cells[col].textContent; });
  document.body.setAttribute("data-sorted", JSON.stringify(order));
});
</script>
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory, report_points):
    base = tmp_path_factory.mktemp("browser")
    db = synthetic.write_results_files(report_points(), str(base / "results"))["db"]
    out = str(base / "rep")
    write_report(db, out)
    return out


def _chromium(*args):
    assert os.path.exists(CHROMIUM), "CI needs Debian's chromium: .ci/run installs it (apt-get install chromium)"
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
         "--virtual-time-budget=5000"] + list(args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=180, check=False,
    )


@pytest.fixture(scope="module")
def probed_dom(report):
    page = os.path.join(report, "probe.html")
    with open(os.path.join(report, "index.html"), encoding="utf-8") as fh:
        html = fh.read()
    with open(page, "w", encoding="utf-8") as fh:
        fh.write(html.replace("</body>", PROBE + "</body>"))
    proc = _chromium("--dump-dom", "file://" + page)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _attribute(dom, name):
    match = re.search(r'{}="([^"]*)"'.format(name), dom)
    assert match, "the probe did not run: {}".format(dom[:300])
    return json.loads(match.group(1).replace("&quot;", '"'))


def test_every_figure_loads_in_chromium(probed_dom):
    images = _attribute(probed_dom, "data-images")
    assert sorted(src for src, _ in images) == sorted(name + ".png" for name, _ in FIGURES)
    assert all(width > 0 for _, width in images), images


def test_clicking_the_batch_header_twice_sorts_the_points_descending(probed_dom):
    order = [int(b) for b in _attribute(probed_dom, "data-sorted")]
    assert order == sorted(order, reverse=True) and len(set(order)) > 1


def test_screenshot_shows_the_figures_colours(report, tmp_path):
    from matplotlib.image import imread

    shot = str(tmp_path / "shot.png")
    _chromium("--screenshot=" + shot, "--window-size=1200,2400", "file://" + os.path.join(report, "index.html"))
    assert os.path.exists(shot), "Chromium wrote no screenshot"
    pixels = (imread(shot)[..., :3] * 255).round()
    # #0072B2, the first family colour of every figure: present only where a figure was drawn
    blue = ((abs(pixels[..., 0] - 0x00) < 8) & (abs(pixels[..., 1] - 0x72) < 8) & (abs(pixels[..., 2] - 0xB2) < 8))
    assert int(blue.sum()) > 500
