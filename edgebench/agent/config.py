"""The agent's configuration: defaults, then ``/etc/edgebench/agent.toml``, then ``--config FILE``, then flags.

Each layer overrides the one before it; a key a file does not set keeps the lower layer's value.
Unknown keys are reported (logged, and listed in ``edgebench status`` as ``config_warnings``), never
silently ignored; a value of the wrong type is an error that names the file and the key. The
system file is read under the filesystem root (``--root`` / ``EDGEBENCH_ROOT``), so tests point it
at a fake tree and never read the real ``/etc``.

The files are flat TOML, read by ``tomllib`` (Python 3.11+) or ``tomli`` (a core dependency before 3.11;
1.2.3 is the last release for Python 3.6)::

    # /etc/edgebench/agent.toml
    state_dir = "/var/lib/edgebench"
    max_attempts = 3
    power = "ina3221"          # live board power for `edgebench monitor` while idle
    metrics_port = 9464        # Prometheus text format on 127.0.0.1:9464/metrics (0 = off)
    push_to = "postgresql://edgebench@db.lab/fleet"   # push each finished run (password: ~/.pgpass)
"""
import os

from edgebench._files import DEFAULT_STATE_DIR, STATE_DIR_ENV
from edgebench.errors import UsageError
from edgebench.platform.root import under

SYSTEM_CONFIG = "/etc/edgebench/agent.toml"

# key -> (type, default, help). ``None`` defaults mean "derived" (see AgentConfig properties).
KEYS = (
    ("state_dir", str, DEFAULT_STATE_DIR, "results store, engine cache, job spool and socket live here"),
    ("socket", str, "", "agent socket path (default <state_dir>/agent.sock)"),
    ("socket_group", str, "edgebench", "group that may use the socket (mode 0660) when it exists"),
    ("cache_dir", str, "", "ONNX and engine cache (default <state_dir>/cache)"),
    ("max_attempts", int, 3, "starts without progress before a job that keeps stopping the agent fails"),
    ("poll_interval_s", float, 2.0, "how often the spool is scanned for new jobs"),
    ("sensor_interval_s", float, 2.0, "how often board sensors are read for status and monitor (0 = never)"),
    ("power", str, "none", "power source URL read for the live view while no job runs (none = off)"),
    ("power_rate_hz", float, 10.0, "sample rate of the live power view (a job's own power uses full rate)"),
    ("history_points", int, 60, "readings kept per rail for the monitor's sparklines"),
    ("metrics_port", int, 0, "Prometheus metrics on metrics_address:PORT/metrics (0 = off)"),
    ("metrics_address", str, "127.0.0.1", "address the metrics server binds"),
    ("stop_timeout_s", float, 20.0, "on SIGTERM, wait this long for the job thread before exiting anyway"),
    ("root", str, "", "filesystem root board sensors are read under (default /)"),
    ("log_level", str, "info", "debug | info | warning | error"),
    ("push_to", str, "", "postgresql:// URL each finished run is pushed to; queued while unreachable (empty = off)"),
    ("push_retry_s", float, 60.0, "how often a queued push is retried while the server does not answer"),
)
KEY_NAMES = tuple(k for k, _, _, _ in KEYS)
_TYPES = dict((k, t) for k, t, _, _ in KEYS)
LOG_LEVELS = ("debug", "info", "warning", "error")


class AgentConfig(object):
    """Effective settings (attributes named like the keys), plus where each came from."""

    def __init__(self, values=None, sources=None, warnings=None):
        for key, _, default, _ in KEYS:
            setattr(self, key, default)
        self.sources = dict((key, "default") for key in KEY_NAMES)
        self.warnings = list(warnings or [])
        for key, value in (values or {}).items():
            setattr(self, key, value)
            self.sources[key] = (sources or {}).get(key, "?")

    @property
    def state_path(self):
        return os.path.abspath(self.state_dir)

    @property
    def socket_path(self):
        return self.socket or os.path.join(self.state_path, "agent.sock")

    @property
    def cache_path(self):
        return os.path.abspath(self.cache_dir) if self.cache_dir else os.path.join(self.state_path, "cache")

    @property
    def store_path(self):
        return os.path.join(self.state_path, "results.db")

    @property
    def root_or_none(self):
        return self.root or None

    def to_dict(self):
        return dict((key, getattr(self, key)) for key in KEY_NAMES)


def check_value(key, value, where):
    """Coerce ``value`` to the key's type or raise UsageError naming ``where``."""
    kind = _TYPES[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise UsageError("{}: {} must be {}, got {!r}".format(
            where, key, {str: "a string", int: "a whole number", float: "a number"}[kind], value))
    if kind in (int, float) and value < 0:
        raise UsageError("{}: {} must be zero or positive, got {!r}".format(where, key, value))
    if key == "max_attempts" and value < 1:
        raise UsageError("{}: max_attempts must be at least 1".format(where))
    if key == "metrics_port" and value > 65535:
        raise UsageError("{}: metrics_port must be 0 (off) or 1..65535".format(where))
    if key in ("poll_interval_s", "power_rate_hz") and value <= 0:
        raise UsageError("{}: {} must be positive".format(where, key))
    if key == "push_to" and value and not value.startswith(("postgresql://", "postgres://")):
        raise UsageError("{}: push_to must be a postgresql:// URL (or empty for no push)".format(where))
    if key == "push_retry_s" and value <= 0:
        raise UsageError("{}: push_retry_s must be positive".format(where))
    if key == "log_level" and value.lower() not in LOG_LEVELS:
        raise UsageError("{}: log_level must be one of {}".format(where, ", ".join(LOG_LEVELS)))
    return value


def _toml_library():
    try:
        import tomllib
    except ImportError:
        import tomli as tomllib  # Python < 3.11 (setup.py installs it there)
    return tomllib


def read_config_file(path, required):
    """``(values, warnings)`` from one TOML file; a missing optional file gives ``({}, [])``."""
    toml = _toml_library()
    try:
        with open(path, "rb") as fh:
            text = fh.read().decode("utf-8")
    except FileNotFoundError:
        if required:
            raise UsageError("config file {} does not exist".format(path))
        return {}, []
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError("cannot read config file {}: {}".format(path, getattr(exc, "strerror", None) or exc))
    try:
        raw = toml.loads(text)
    except toml.TOMLDecodeError as exc:
        raise UsageError("config file {} is not valid TOML: {}".format(path, exc))
    values, warnings = {}, []
    for key in sorted(raw):
        if isinstance(raw[key], dict):
            raise UsageError("config file {}: tables ([{}]) are not used; keep the agent config flat "
                             "(key = value lines)".format(path, key))
        if key not in _TYPES:
            warnings.append("{}: unknown key {!r} ignored (known keys: {})".format(path, key, ", ".join(KEY_NAMES)))
            continue
        values[key] = check_value(key, raw[key], path)
    return values, warnings


def load_config(flags=None, config_file=None, root=None, system_config=None):
    """Build the effective AgentConfig from the layers.

    ``flags``: command-line values (None = not given). ``config_file``: ``--config FILE`` (must
    exist). ``system_config``: path of the system file; default ``<root>/etc/edgebench/agent.toml``.
    """
    values, sources, warnings = {}, {}, []
    env_state = os.environ.get(STATE_DIR_ENV)
    if env_state:
        values["state_dir"], sources["state_dir"] = env_state, "$" + STATE_DIR_ENV
    system_path = system_config or under(root, SYSTEM_CONFIG)
    for path, required in ((system_path, False), (config_file, True)):
        if not path:
            continue
        layer, layer_warnings = read_config_file(path, required)
        warnings.extend(layer_warnings)
        for key, value in layer.items():
            values[key], sources[key] = value, path
    for key, value in (flags or {}).items():
        if value is None:
            continue
        if key not in _TYPES:
            raise ValueError("not an agent config key: {}".format(key))
        values[key], sources[key] = check_value(key, value, "--" + key.replace("_", "-")), "command line"
    if root and "root" not in values:
        values["root"], sources["root"] = str(root), "--root"
    config = AgentConfig(values, sources, warnings)
    config.log_level = config.log_level.lower()
    return config
