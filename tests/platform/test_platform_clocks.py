"""Clock state inferred from cpufreq/devfreq/EMC, and the --lock-clocks helper around jetson_clocks."""
import pytest
from platform_trees import calls, cpus, gpu, nano_files

from edgebench.platform import clocks
from edgebench.platform.clocks import ClockLock, ClockLockError


def test_clocks_are_unlocked_when_cpu_min_is_below_max(fixture_root):
    state = clocks.read_clock_state(fixture_root("nano_jp46"))
    assert (state["locked"], state["unlocked"]) == (False, ["cpu", "gpu"])


def test_clocks_are_locked_when_every_minimum_equals_its_maximum(fixture_root):
    state = clocks.read_clock_state(fixture_root("agx_orin_jp6"))
    assert (state["locked"], state["unknown"], state["emc"]["locked"]) == (True, [], True)


def test_emc_is_unknown_without_debugfs(fixture_root):
    assert clocks.read_clock_state(fixture_root("nano_jp46"))["unknown"] == ["emc"]


def test_offline_cpus_do_not_count(make_board):
    files = nano_files(cpus=cpus(min_khz=1479000, max_khz=1479000),
                       gpu=gpu(min_hz=921600000, max_hz=921600000))
    files["/sys/devices/system/cpu/cpu3/online"] = "0\n"
    files["/sys/devices/system/cpu/cpu3/cpufreq/scaling_min_freq"] = "102000\n"
    state = clocks.read_clock_state(make_board(files))
    assert (state["locked"], state["cpu"]["cores_checked"]) == (True, 3)


def test_clock_state_is_unknown_without_frequency_files(make_board):
    assert clocks.read_clock_state(make_board({}))["locked"] is None


def test_gpu_devfreq_minimum_below_maximum_is_unlocked(make_board):
    files = nano_files(cpus=cpus(min_khz=1479000, max_khz=1479000))
    assert clocks.read_clock_state(make_board(files))["unlocked"] == ["gpu"]


FAKE_JETSON_CLOCKS = """echo "$@" >> "$EDGEBENCH_TEST_LOG"
if [ "$1" = "--store" ]; then echo "stored" > "$2"; fi
exit 0
"""


def test_lock_stores_the_clocks_then_runs_jetson_clocks(tmp_path, fake_bin):
    fake_bin("jetson_clocks", FAKE_JETSON_CLOCKS)
    store = tmp_path / "state" / "l4t_dfs.conf"
    ClockLock(store).lock()
    assert (calls(fake_bin.log), store.read_text()) == (["--store " + str(store), ""], "stored\n")


def test_restore_runs_restore_with_the_store_file_and_removes_it(tmp_path, fake_bin):
    fake_bin("jetson_clocks", FAKE_JETSON_CLOCKS)
    store = tmp_path / "l4t_dfs.conf"
    lock = ClockLock(store).lock()
    lock.restore()
    assert (calls(fake_bin.log)[-1], store.exists()) == ("--restore " + str(store), False)


def test_context_manager_restores_after_an_exception(tmp_path, fake_bin):
    fake_bin("jetson_clocks", FAKE_JETSON_CLOCKS)
    store = tmp_path / "l4t_dfs.conf"
    with pytest.raises(KeyError):
        with ClockLock(store):
            raise KeyError("sweep failed")
    assert calls(fake_bin.log)[-1] == "--restore " + str(store)


def test_lock_keeps_the_store_file_of_an_interrupted_run(tmp_path, fake_bin):
    fake_bin("jetson_clocks", FAKE_JETSON_CLOCKS)
    store = tmp_path / "l4t_dfs.conf"
    store.write_text("clocks from before the interrupted run\n")
    lock = ClockLock(store).lock()
    assert (calls(fake_bin.log), lock.reused_store, store.read_text()) == (
        [""], True, "clocks from before the interrupted run\n")


def test_restore_does_nothing_when_not_locked(tmp_path, fake_bin):
    fake_bin("jetson_clocks", FAKE_JETSON_CLOCKS)
    ClockLock(tmp_path / "l4t_dfs.conf").restore()
    assert calls(fake_bin.log) == []


def test_missing_jetson_clocks_says_to_drop_lock_clocks(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(clocks, "SYSTEM_BIN_DIRS", ())
    with pytest.raises(ClockLockError, match="drop --lock-clocks"):
        ClockLock(tmp_path / "l4t_dfs.conf").lock()


def test_failing_jetson_clocks_reports_its_message(tmp_path, fake_bin):
    fake_bin("jetson_clocks", 'echo "Error: must be run as root" >&2\nexit 1\n')
    with pytest.raises(ClockLockError, match="must be run as root"):
        ClockLock(tmp_path / "l4t_dfs.conf").lock()


def test_lock_runs_commands_through_an_injected_runner(tmp_path):
    seen = []

    def runner(argv):
        seen.append(argv)
        return clocks.CommandResult(0)
    store = str(tmp_path / "l4t_dfs.conf")
    lock = ClockLock(store, runner=runner, binary="/opt/jetson_clocks").lock()
    lock.restore()
    assert seen == [["/opt/jetson_clocks", "--store", store], ["/opt/jetson_clocks"],
                    ["/opt/jetson_clocks", "--restore", store]]


def test_run_command_captures_output_of_a_real_process(fake_bin):
    path = fake_bin("say", 'echo "hello $1"\n')
    result = clocks.run_command([path, "board"])
    assert (result.returncode, result.stdout) == (0, "hello board\n")
