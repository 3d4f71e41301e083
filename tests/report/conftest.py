import pytest

import edgebench.cli
from edgebench.analysis import synthetic


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run `edgebench ARGS` through the real entry point with the analysis commands registered.

    Returns (exit status, stdout, stderr).
    """
    monkeypatch.setattr(edgebench.cli, "COMMAND_MODULES", ("edgebench.analysis.cli", "edgebench.report.cli"))

    def run(*argv):
        status = edgebench.cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return status, out, err

    return run


NETS = (
    # model, family, params, gops, top1, ms per image at batch 1
    ("alexnet", "alexnet", 61100840, 1.43, 56.5, 12.0),
    ("resnet18", "resnet", 11689512, 3.63, 69.8, 25.0),
    ("resnet50", "resnet", 25557032, 8.19, 76.1, 60.0),
    ("mobilenet_v2", "mobilenet", 3504872, 0.60, 71.9, 9.0),
)


def report_points(power=True, precisions=("fp32", "int8")):
    points = []
    for model, family, params, gops, top1, ms in NETS:
        static = 200.0 + 1.3 * params * 4 / 1e6
        for precision in precisions:
            speed = 1.0 if precision == "fp32" else 2.5
            for b in (1, 4, 16, 64):
                if model == "alexnet" and b == 64:
                    points.append(
                        synthetic.failed_point(
                            model, b, precision=precision, family=family, params=params, gops=gops, top1=top1
                        )
                    )
                    continue
                values = dict(
                    family=family,
                    params=params,
                    gops=gops,
                    top1=top1,
                    top1_source="torchvision",
                    per_image_ms=ms / speed / b**0.5,
                    system_used_before_mb=800.0,
                    system_used_peak_mb=800.0 + synthetic.knee_curve(b, static, 3.0 + gops, 4.0),
                )
                if power:
                    values.update(net_power_w=11.0 + 0.3 * len(model) % 2 + 0.05 * b, idle_power_w=1.3)
                if precision == "int8":
                    values["top1_measured"] = top1 - 0.7
                points.append(synthetic.ok_point(model, b, precision=precision, **values))
    return points


@pytest.fixture(scope="session", name="report_points")
def report_points_fixture():
    """Build report rows: report_points(power=True, precisions=("fp32", "int8"))."""
    return report_points
