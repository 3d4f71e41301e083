import json
import os
import threading
import time

import pytest
from power_helpers import write

from edgebench.power import calibration
from edgebench.power.calibration import Calibration, calibrate, calibrated_figures, fit_gain_offset

GAIN = 1.03
OFFSET_W = 0.2
IDLE_W, ACTIVE_W = 1.3, 13.1


class FakeStatLoad(object):
    """Stands in for the CPUs under the load ladder: writes ``<root>/proc/stat`` whose busy share
    follows ``set_level`` (what the kernel's jiffies would show), and remembers when each level began."""

    def __init__(self, root):
        self.root = root
        self.times = [0.0]
        self.levels = [0.0]
        self.busy = 0
        self.total = 0
        self._stop = threading.Event()
        self._write()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _write(self):
        idle = self.total - self.busy
        path = write(self.root, "/proc/stat.new", "cpu  {} 0 0 {} 0 0 0 0 0 0\n".format(self.busy, idle))
        os.replace(path, path[:-len(".new")])  # a reader never sees a half-written file

    def _run(self):
        while not self._stop.wait(0.002):
            self.total += 1000
            self.busy += int(round(1000 * self.levels[-1]))
            self._write()

    def set_level(self, fraction):
        self.levels.append(fraction)  # levels first: a reader never indexes past the end
        self.times.append(time.perf_counter())

    def level_at(self, t_s):
        import numpy as np

        times, levels = np.asarray(self.times), np.asarray(self.levels)
        index = np.searchsorted(times, t_s, side="right") - 1
        return levels[np.clip(index, 0, len(times) - 1)]

    def stop(self):
        pass

    def close(self):
        self._stop.set()
        self._thread.join()


@pytest.fixture
def ladder(tmp_path):
    load = FakeStatLoad(str(tmp_path))
    yield load
    load.close()


def _miscalibrated_probe(emulator, load):
    """A CSV probe emulator that reads the same power as sim:// through GAIN and OFFSET_W."""
    from edgebench.power.emulators.waveform import FunctionWaveform

    def reference_w(t_s):
        return GAIN * (IDLE_W + (ACTIVE_W - IDLE_W) * load.level_at(t_s)) + OFFSET_W

    return emulator("csv", waveform=FunctionWaveform(reference_w))


def test_fit_recovers_an_exact_line_with_zero_uncertainty():
    gain, offset, gain_se, offset_se, rms = fit_gain_offset([1, 2, 4, 8], [1.23, 2.26, 4.32, 8.44])
    assert (gain, offset) == (pytest.approx(1.03), pytest.approx(0.2)) and gain_se == pytest.approx(0, abs=1e-9)


def test_fit_reports_uncertainty_for_noisy_steps():
    _, _, gain_se, offset_se, rms = fit_gain_offset([1, 2, 4, 8], [1.25, 2.24, 4.33, 8.43])
    assert gain_se > 0 and offset_se > 0 and rms > 0


def test_fit_needs_three_steps():
    with pytest.raises(calibration.CalibrationError, match="at least 3"):
        fit_gain_offset([1, 2], [1, 2])


def test_fit_refuses_a_ladder_that_did_not_move_the_board_power():
    with pytest.raises(calibration.CalibrationError, match="moved the board power by only 0.03 W"):
        fit_gain_offset([13.07, 13.1, 13.1], [13.66, 13.69, 13.69])


def test_calibrate_recovers_a_known_gain_and_offset(tmp_path, ladder, emulator, opened):
    import scipy.signal  # noqa: F401  (as the CLI does before opening: a slow import lets probe input pile up)

    board = opened("sim://?idle_w={}&active_w={}".format(IDLE_W, ACTIVE_W), root=str(tmp_path))
    reference = opened(_miscalibrated_probe(emulator, ladder).url)
    cal = calibrate(board, reference, ladder, levels=(0.0, 0.3, 0.6, 1.0), step_s=0.4, settle_s=0.25)
    assert cal.gain == pytest.approx(GAIN, rel=0.005) and cal.offset_w == pytest.approx(OFFSET_W, abs=0.02)
    assert cal.simulated and len(cal.steps) == 4


def test_calibration_round_trips_through_its_file(tmp_path):
    cal = Calibration(1.03, 0.2, gain_se=0.001, offset_se_w=0.01, source="ina3221", reference="wt310",
                      board_serial="X1")
    path = calibration.save_calibration(cal, str(tmp_path / "calibration" / "X1.json"))
    back = calibration.load_calibration(path)
    assert (back.gain, back.offset_w, back.source, back.path) == (1.03, 0.2, "ina3221", path)


def test_calibration_path_is_per_board_serial_under_the_state_dir(tmp_path):
    write(tmp_path, "/proc/device-tree/serial-number", "1422919082257\x00")
    path = calibration.calibration_path(str(tmp_path / "state"), root=str(tmp_path))
    assert path == str(tmp_path / "state" / "calibration" / "1422919082257.json")


def test_a_file_that_is_not_a_calibration_says_so(tmp_path):
    path = write(tmp_path, "/cal.json", json.dumps({"hello": 1}))
    with pytest.raises(calibration.CalibrationError, match="not an edgebench calibration"):
        calibration.load_calibration(path)


def test_no_stored_calibration_is_none(tmp_path):
    assert calibration.load_calibration(state_dir=str(tmp_path), root=str(tmp_path)) is None


def test_calibrated_figures_apply_offset_to_gross_and_only_gain_to_net():
    cal = Calibration(1.03, 0.2, source="ina3221")
    out = calibrated_figures(cal, "ina3221", gross_power_w=10.0, net_power_w=4.0, energy_per_image_j=0.5,
                             net_energy_per_image_j=0.2)
    assert out["gross_power_cal_w"] == pytest.approx(10.5) and out["net_power_cal_w"] == pytest.approx(4.12)
    assert out["energy_per_image_cal_j"] == pytest.approx(0.525)
    assert out["net_energy_per_image_cal_j"] == pytest.approx(0.206) and "1.0300" in out["power_calibration"]


def test_calibrated_figures_are_none_for_another_source():
    out = calibrated_figures(Calibration(1.03, 0.2, source="ina3221"), "rapl", gross_power_w=10.0)
    assert out["gross_power_cal_w"] is None and out["power_calibration"] is None


def test_cli_calibrate_stores_the_fit_per_board(tmp_path, ladder, emulator, monkeypatch, capsys):
    from edgebench.cli import main

    write(tmp_path, "/proc/device-tree/serial-number", "BOARD42\x00")
    monkeypatch.setattr(calibration, "CpuLoad", lambda: ladder)  # the fake CPUs of this test
    probe = _miscalibrated_probe(emulator, ladder)
    status = main(["power", "calibrate", "--power", "sim://?idle_w={}&active_w={}".format(IDLE_W, ACTIVE_W),
                   "--reference", probe.url, "--levels", "0,0.5,1", "--step-seconds", "0.4", "--settle-seconds",
                   "0.3", "--state-dir", str(tmp_path / "state"), "--root", str(tmp_path), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0 and out["path"] == str(tmp_path / "state" / "calibration" / "BOARD42.json")
    assert os.path.exists(out["path"]) and out["gain"] == pytest.approx(GAIN, rel=0.005)


def test_cli_calibrate_refuses_fewer_than_three_levels(capsys):
    from edgebench.cli import main

    status = main(["power", "calibrate", "--power", "sim://", "--reference", "sim://", "--levels", "0,1"])
    assert status == 2 and "at least 3" in capsys.readouterr().err
