"""The agent's layered config (TOML read by tomllib, or tomli before Python 3.11)."""
import pytest

from edgebench.agent.config import AgentConfig, load_config
from edgebench.errors import UsageError


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_layers_system_file_then_config_file_then_flags(tmp_path):
    root = tmp_path / "root"
    _write(root / "etc/edgebench/agent.toml", 'state_dir = "/srv/eb"\nmax_attempts = 4\npower = "ina3221"\n')
    extra = _write(tmp_path / "extra.toml", "max_attempts = 6\nmetrics_port = 9000\n")
    config = load_config({"metrics_port": 9100, "power": None}, extra, root=str(root))
    assert config.state_dir == "/srv/eb" and config.sources["state_dir"].endswith("etc/edgebench/agent.toml")
    assert config.max_attempts == 6 and config.sources["max_attempts"] == extra
    assert config.metrics_port == 9100 and config.sources["metrics_port"] == "command line"
    assert config.power == "ina3221"  # a flag left unset (None) does not override
    assert config.poll_interval_s == 2.0 and config.sources["poll_interval_s"] == "default"
    assert config.socket_path == "/srv/eb/agent.sock"
    assert config.cache_path == "/srv/eb/cache" and config.store_path == "/srv/eb/results.db"
    assert config.root == str(root)


def test_the_real_etc_is_never_read_when_a_root_is_given(tmp_path):
    config = load_config({}, None, root=str(tmp_path))  # no etc/edgebench/agent.toml under tmp_path
    assert config.warnings == [] and all(src in ("default", "--root") for src in config.sources.values())


def test_unknown_keys_are_warned_about_not_ignored_silently(tmp_path):
    extra = _write(tmp_path / "a.toml", "max_attempt = 2\nstate_dir = \"/x\"\n")
    config = load_config({}, extra, root=str(tmp_path))
    assert len(config.warnings) == 1
    assert "unknown key 'max_attempt'" in config.warnings[0] and extra in config.warnings[0]
    assert config.max_attempts == 3 and config.state_dir == "/x"


@pytest.mark.parametrize("text, words", [
    ('max_attempts = "three"\n', "max_attempts must be a whole number"),
    ("max_attempts = 0\n", "at least 1"),
    ("poll_interval_s = -1\n", "zero or positive"),
    ("metrics_port = 70000\n", "1..65535"),
    ('log_level = "loud"\n', "log_level must be one of"),
    ("state_dir = 3\n", "state_dir must be a string"),
    ("[agent]\n", "tables"),
])
def test_bad_values_are_usage_errors_naming_file_and_key(tmp_path, text, words):
    extra = _write(tmp_path / "bad.toml", text)
    with pytest.raises(UsageError) as info:
        load_config({}, extra, root=str(tmp_path))
    assert words in str(info.value) and "bad.toml" in str(info.value)


def test_missing_config_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        load_config({}, str(tmp_path / "nope.toml"), root=str(tmp_path))


def test_integer_where_a_float_is_expected_is_accepted(tmp_path):
    extra = _write(tmp_path / "a.toml", "poll_interval_s = 3\n")
    assert load_config({}, extra, root=str(tmp_path)).poll_interval_s == 3.0


def test_state_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGEBENCH_STATE_DIR", "/from/env")
    assert load_config({}, None, root=str(tmp_path)).state_dir == "/from/env"
    assert load_config({"state_dir": "/flag"}, None, root=str(tmp_path)).state_dir == "/flag"


def test_defaults_without_any_layer():
    config = AgentConfig()
    assert config.state_dir == "/var/lib/edgebench" and config.max_attempts == 3 and config.metrics_port == 0


SAMPLE = """
# the agent's config
state_dir = "/var/lib/edgebench"   # trailing comment
socket = '/run/edgebench/agent.sock'
max_attempts = 5
poll_interval_s = 0.25
sensor_interval_s = 1e1
metrics_port = 9_464
"""


def test_a_config_file_is_read_as_toml(tmp_path):
    config = load_config({}, _write(tmp_path / "agent.toml", SAMPLE), system_config=str(tmp_path / "none.toml"))
    assert (config.socket, config.max_attempts, config.sensor_interval_s, config.metrics_port) == (
        "/run/edgebench/agent.sock", 5, 10.0, 9464)


@pytest.mark.parametrize("text", ["x = hello\n", "x = 1\nx = 2\n", "x = \"open\n"])
def test_a_file_that_is_not_toml_is_a_usage_error_naming_the_file_and_line(tmp_path, text):
    path = _write(tmp_path / "agent.toml", text)
    with pytest.raises(UsageError) as info:
        load_config({}, path, system_config=str(tmp_path / "none.toml"))
    assert path in str(info.value) and "line" in str(info.value)


def test_tables_are_refused_with_the_way_out(tmp_path):
    with pytest.raises(UsageError, match="keep the agent config flat"):
        load_config({}, _write(tmp_path / "agent.toml", "[agent]\nx = 1\n"), system_config=str(tmp_path / "n"))
