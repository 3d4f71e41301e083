"""nvpmodel: the query parser, nvpmodel.conf, the status file and when the binary is run."""
from platform_trees import calls, nvpmodel

from edgebench.platform import clocks
from edgebench.platform.clocks import CommandResult


def test_parse_query_reads_the_mode_name_and_id():
    assert clocks.parse_nvpmodel_query("NV Power Mode: MAXN\n0\n") == {"name": "MAXN", "id": 0}


def test_parse_query_skips_warnings_printed_before_the_mode():
    text = "NVPM WARN: fan mode is not set!\nNV Power Mode: MODE_15W\n2\n"
    assert clocks.parse_nvpmodel_query(text) == {"name": "MODE_15W", "id": 2}


def test_parse_query_reads_output_with_a_fan_mode_line():
    text = "NV Fan Mode:quiet\nNV Power Mode: 25W\n1\n"
    assert clocks.parse_nvpmodel_query(text) == {"name": "25W", "id": 1}


def test_parse_query_leaves_the_id_unknown_when_no_number_follows():
    assert clocks.parse_nvpmodel_query("NV Power Mode: MAXN_SUPER\n") == {"name": "MAXN_SUPER", "id": None}


def test_parse_query_returns_none_without_a_power_mode_line():
    assert clocks.parse_nvpmodel_query("nvpmodel: command not supported\n") is None


def test_parse_conf_lists_modes_and_the_default():
    conf = nvpmodel(modes=((0, "MAXN"), (1, "MODE_10W"), (2, "MODE_15W")), default=2)["/etc/nvpmodel.conf"]
    assert clocks.parse_nvpmodel_conf(conf) == {"modes": {0: "MAXN", 1: "MODE_10W", 2: "MODE_15W"},
                                                "default_id": 2}


def test_parse_conf_ignores_commented_out_modes():
    conf = "# < POWER_MODEL ID=9 NAME=HIDDEN >\n< POWER_MODEL ID=0 NAME=MAXN >\n"
    assert clocks.parse_nvpmodel_conf(conf)["modes"] == {0: "MAXN"}


def test_parse_status_reads_the_pmode_number():
    assert clocks.parse_nvpmodel_status("pmode:0002 fmode:quiet\n") == 2


def test_fastest_mode_is_the_maxn_mode():
    assert clocks.fastest_mode_id({0: "15W", 1: "25W", 2: "MAXN_SUPER", 3: "7W"}) == 2


def test_power_mode_of_a_fake_root_comes_from_its_files(fixture_root):
    mode = clocks.read_power_mode(fixture_root("agx_xavier_jp51"))
    assert (mode["id"], mode["name"], mode["source"], mode["default_id"], mode["fastest_id"]) == (
        2, "MODE_15W", "/var/lib/nvpmodel/status", 2, 0)


def test_power_mode_is_none_without_any_nvpmodel_file(fixture_root):
    assert clocks.read_power_mode(fixture_root("tx1_jp46")) is None


def test_power_mode_runs_the_nvpmodel_binary_when_asked(make_board, fake_bin):
    fake_bin("nvpmodel", 'echo "$@" >> "$EDGEBENCH_TEST_LOG"\nprintf "NV Power Mode: 5W\\n1\\n"\n')
    mode = clocks.read_power_mode(make_board(nvpmodel(current=0)), use_binary=True)
    assert (mode["name"], mode["id"], mode["source"], calls(fake_bin.log)) == ("5W", 1, "nvpmodel -q", ["-q"])


def test_power_mode_does_not_run_this_machines_binary_for_a_fake_root(make_board, fake_bin):
    fake_bin("nvpmodel", 'echo "$@" >> "$EDGEBENCH_TEST_LOG"\nprintf "NV Power Mode: 5W\\n1\\n"\n')
    mode = clocks.read_power_mode(make_board(nvpmodel(current=0)))
    assert (mode["name"], calls(fake_bin.log)) == ("MAXN", [])


def test_power_mode_uses_an_injected_runner(make_board):
    seen = []

    def runner(argv):
        seen.append(argv)
        return CommandResult(0, "NV Power Mode: MAXN\n0\n")
    mode = clocks.read_power_mode(make_board({}), runner=runner)
    assert (mode["name"], seen) == ("MAXN", [["nvpmodel", "-q"]])


def test_power_mode_falls_back_to_the_status_file_when_nvpmodel_fails(make_board):
    def runner(argv):
        return CommandResult(1, "", "NVPM ERROR: failed to read\n")
    mode = clocks.read_power_mode(make_board(nvpmodel(current=1)), runner=runner)
    assert (mode["name"], mode["source"]) == ("5W", "/var/lib/nvpmodel/status")


def test_power_mode_names_an_id_only_answer_from_the_conf(make_board):
    def runner(argv):
        return CommandResult(0, "NV Power Mode: \n")
    mode = clocks.read_power_mode(make_board(nvpmodel(current=1)), runner=runner)
    assert mode["name"] == "5W"
