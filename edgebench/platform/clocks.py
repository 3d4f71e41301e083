"""Power mode (nvpmodel) and clock locking (jetson_clocks) on a Jetson.

* **nvpmodel**: ``nvpmodel -q`` prints ``NV Power Mode: <NAME>`` followed by a line holding the
  numeric id. It is run only on the real root (a fake tree under ``--root`` is described by its
  files): ``<root>/var/lib/nvpmodel/status`` holds the active id as ``pmode:0000`` and
  ``<root>/etc/nvpmodel.conf`` maps ids to names (``< POWER_MODEL ID=0 NAME=MAXN >``) and names
  the boot default (``< PM_CONFIG DEFAULT=0 >``).
* **jetson_clocks** has no "status" file; its effect is inferred like jetson-stats does: every
  online CPU's cpufreq ``scaling_min_freq == scaling_max_freq``, the GPU devfreq
  ``min_freq == max_freq``, and the EMC at its maximum rate (readable only through debugfs, i.e.
  as root; otherwise EMC is reported unknown and left out of the verdict).
* :class:`ClockLock` implements ``--lock-clocks``: ``jetson_clocks --store FILE`` then
  ``jetson_clocks``; later ``jetson_clocks --restore FILE``. Commands go through an injectable
  runner, so tests use a fake ``jetson_clocks`` script on ``PATH`` (never one in ``/usr/bin``).
  When jetson-stats' service is running and this user may use it, the lock goes through it
  instead (:mod:`edgebench.platform.jetson_stats`): its service is root, so an unprivileged
  process (the agent) can pin the clocks; restoring stops jetson_clocks only if this run started it.
* :class:`PowerMode` implements a power-mode switch for a run (``--power-mode MODE``): through
  jetson-stats' service when it is running, else ``nvpmodel -m ID`` (root); the previous mode is
  put back afterwards.
"""
import logging
import os
import re
import shutil
import subprocess

from edgebench.errors import EdgebenchError
from edgebench.platform import gpu, sysfs

log = logging.getLogger(__name__)

NVPMODEL_CONF_PATH = "/etc/nvpmodel.conf"
NVPMODEL_STATUS_PATH = "/var/lib/nvpmodel/status"
# Where JetPack installs its tools, searched after PATH because `sudo` often trims PATH.
SYSTEM_BIN_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")
COMMAND_TIMEOUT_S = 20.0

_POWER_MODE_RE = re.compile(r"NV Power Mode:\s*(\S+)")
_CONF_MODEL_RE = re.compile(r"<\s*POWER_MODEL\s+ID=(\d+)\s+NAME=([^\s>]+)")
_CONF_DEFAULT_RE = re.compile(r"<\s*PM_CONFIG\s+DEFAULT=(\d+)")
_STATUS_RE = re.compile(r"pmode:\s*(\d+)")


class ClockLockError(EdgebenchError):
    """``jetson_clocks`` is missing or failed; the message says what to do instead."""


class CommandResult(object):
    """What a runner returns: ``returncode`` (None on timeout), ``stdout``, ``stderr``."""

    def __init__(self, returncode, stdout="", stderr=""):
        self.returncode = returncode
        self.stdout = stdout or ""
        self.stderr = stderr or ""

    @property
    def ok(self):
        return self.returncode == 0


def run_command(argv, timeout_s=COMMAND_TIMEOUT_S):
    """Default runner: run ``argv`` and capture its text output. Raises OSError if it cannot start."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        message = "\n{} timed out after {:.0f} s".format(argv[0], timeout_s)
        return CommandResult(None, out, (err or "") + message)
    return CommandResult(proc.returncode, out, err)


def find_binary(name):
    """Absolute path of ``name`` on PATH or in the system bin directories, or None."""
    found = shutil.which(name)
    if found:
        return found
    for directory in SYSTEM_BIN_DIRS:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


# -- nvpmodel ---------------------------------------------------------------------------------------

def parse_nvpmodel_query(text):
    """Parse ``nvpmodel -q`` output into ``{"name", "id"}`` (``id`` None if absent), or None.

    >>> parse_nvpmodel_query("NV Power Mode: MAXN\\n0\\n")
    {'name': 'MAXN', 'id': 0}
    """
    if not text:
        return None
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = _POWER_MODE_RE.search(line)
        if not match:
            continue
        mode_id = None
        for following in lines[index + 1:]:
            stripped = following.strip()
            if not stripped:
                continue
            if stripped.isdigit():
                mode_id = int(stripped)
            break
        return {"name": match.group(1), "id": mode_id}
    return None


def parse_nvpmodel_conf(text):
    """Parse ``nvpmodel.conf`` into ``{"modes": {id: name}, "default_id": id or None}``."""
    modes = {}
    default_id = None
    for line in (text or "").splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        match = _CONF_MODEL_RE.search(stripped)
        if match:
            modes.setdefault(int(match.group(1)), match.group(2))
            continue
        match = _CONF_DEFAULT_RE.search(stripped)
        if match:
            default_id = int(match.group(1))
    return {"modes": modes, "default_id": default_id}


def parse_nvpmodel_status(text):
    """``"pmode:0002 fmode:quiet"`` -> 2; None when unparsable."""
    match = _STATUS_RE.search(text or "")
    return int(match.group(1)) if match else None


def fastest_mode_id(modes):
    """The id of the MAXN-style mode (``MAXN``, ``MAXN_SUPER``), or None when there is none."""
    for mode_id in sorted(modes):
        if modes[mode_id].upper().startswith("MAXN"):
            return mode_id
    return None


def read_power_mode(root=None, runner=None, use_binary=None):
    """The active nvpmodel power mode, or None when it cannot be told.

    Returns ``{"id", "name", "source", "default_id", "fastest_id", "modes"}`` (``modes`` maps ids, as
    strings, to names; JSON-safe). ``use_binary`` defaults to "only on the real root"; a ``runner``
    given explicitly is always used.
    """
    conf = parse_nvpmodel_conf(sysfs.read_text(root, NVPMODEL_CONF_PATH))
    modes = conf["modes"]
    current = None
    source = None
    if use_binary is None:
        use_binary = runner is not None or sysfs.is_real_root(root)
    if use_binary:
        binary = find_binary("nvpmodel") if runner is None else "nvpmodel"
        if binary:
            try:
                result = (runner or run_command)([binary, "-q"])
            except OSError as err:
                log.debug("nvpmodel -q could not run: %s", err)
                result = None
            if result is not None and result.ok:
                current = parse_nvpmodel_query(result.stdout)
                source = "nvpmodel -q"
    if current is None:
        mode_id = parse_nvpmodel_status(sysfs.read_text(root, NVPMODEL_STATUS_PATH))
        if mode_id is not None:
            current = {"id": mode_id, "name": modes.get(mode_id)}
            source = NVPMODEL_STATUS_PATH
    if current is None:
        return None
    if current.get("name") is None and current.get("id") in modes:
        current["name"] = modes[current["id"]]
    if current.get("id") is None and current.get("name"):
        by_name = [mode_id for mode_id, name in modes.items() if name == current["name"]]
        current["id"] = by_name[0] if by_name else None
    return {
        "id": current.get("id"),
        "name": current.get("name"),
        "source": source,
        "default_id": conf["default_id"],
        "fastest_id": fastest_mode_id(modes),
        "modes": {str(mode_id): name for mode_id, name in sorted(modes.items())},
    }


# -- clock state (is jetson_clocks in effect?) -------------------------------------------------------

def read_cpu_frequencies(root=None):
    """Per online CPU: ``{"cpu", "min_hz", "max_hz", "cur_hz", "hw_max_hz", "governor"}``."""
    cpus = []
    for cpufreq in sysfs.glob_board(root, "/sys/devices/system/cpu/cpu[0-9]*/cpufreq"):
        cpu_dir = os.path.dirname(cpufreq)
        if sysfs.read_int(root, cpu_dir + "/online", default=1) == 0:
            continue
        min_khz = sysfs.read_int(root, cpufreq + "/scaling_min_freq")
        max_khz = sysfs.read_int(root, cpufreq + "/scaling_max_freq")
        if min_khz is None or max_khz is None:
            continue
        cur_khz = sysfs.read_int(root, cpufreq + "/scaling_cur_freq")
        hw_max_khz = sysfs.read_int(root, cpufreq + "/cpuinfo_max_freq")
        cpus.append({
            "cpu": os.path.basename(cpu_dir),
            "min_hz": min_khz * 1000,
            "max_hz": max_khz * 1000,
            "cur_hz": cur_khz * 1000 if cur_khz is not None else None,
            "hw_max_hz": hw_max_khz * 1000 if hw_max_khz is not None else None,
            "governor": sysfs.read_text(root, cpufreq + "/scaling_governor"),
        })
    return cpus


def read_emc_state(root=None):
    """``{"cur_hz", "max_hz", "locked", "source"}`` for the memory controller, or None (needs debugfs)."""
    bpmp = "/sys/kernel/debug/bpmp/debug/clk/emc"  # Xavier, Orin
    rate = sysfs.read_int(root, bpmp + "/rate")
    max_rate = sysfs.read_int(root, bpmp + "/max_rate")
    if rate is not None and max_rate is not None:
        return {"cur_hz": rate, "max_hz": max_rate, "locked": rate == max_rate, "source": bpmp}
    # TX1/Nano (tegra210): jetson_clocks pins EMC through the override clock.
    override_state = sysfs.read_int(root, "/sys/kernel/debug/clk/override.emc/clk_state")
    rate = sysfs.read_int(root, "/sys/kernel/debug/clk/emc/clk_rate")
    max_rate = sysfs.read_int(root, "/sys/kernel/debug/tegra_bwmgr/emc_max_rate")
    if rate is not None and max_rate is not None:
        locked = rate == max_rate or override_state == 1
        return {"cur_hz": rate, "max_hz": max_rate, "locked": locked, "source": "/sys/kernel/debug/clk/emc"}
    return None


def read_clock_state(root=None):
    """Whether clocks are pinned (jetson_clocks in effect), per domain and overall.

    Returns ``{"locked": True/False/None, "cpu": {...} or None, "gpu": {...} or None,
    "emc": {...} or None, "unlocked": [domain, ...], "unknown": [domain, ...]}``. ``locked`` is
    None when neither CPU nor GPU frequencies are readable; unknown domains do not count against it.
    """
    cpus = read_cpu_frequencies(root)
    cpu = None
    if cpus:
        cpu = {
            "locked": all(item["min_hz"] == item["max_hz"] for item in cpus),
            "cores_checked": len(cpus),
            "min_hz": min(item["min_hz"] for item in cpus),
            "max_hz": max(item["max_hz"] for item in cpus),
        }
    gpu_freq = gpu.read_gpu_frequencies(root)
    gpu_state = None
    if gpu_freq:
        gpu_state = dict(gpu_freq)
        gpu_state["locked"] = gpu_freq["min_hz"] == gpu_freq["max_hz"]
    emc = read_emc_state(root)
    domains = (("cpu", cpu), ("gpu", gpu_state), ("emc", emc))
    unlocked = [name for name, state in domains if state is not None and not state["locked"]]
    unknown = [name for name, state in domains if state is None]
    if cpu is None and gpu_state is None:
        locked = None
    else:
        locked = not unlocked
    return {"locked": locked, "cpu": cpu, "gpu": gpu_state, "emc": emc, "unlocked": unlocked,
            "unknown": unknown}


# -- --lock-clocks ------------------------------------------------------------------------------------

def default_store_path():
    """Where ``--lock-clocks`` keeps the clock state to restore: ``$XDG_STATE_HOME/edgebench``."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "edgebench", "jetson_clocks.conf")


class ClockLock(object):
    """Pin the clocks with ``jetson_clocks`` for a sweep and put them back afterwards.

    ``lock()`` runs ``jetson_clocks --store FILE`` then ``jetson_clocks``; ``restore()`` runs
    ``jetson_clocks --restore FILE`` and removes FILE. If FILE already exists, a previous run was
    interrupted after storing: it holds the clocks from *before* that run, so it is kept and reused
    instead of being overwritten with the pinned state. Also a context manager.

    ``runner(argv) -> CommandResult`` runs the commands (default :func:`run_command`).
    """

    def __init__(self, store_path=None, runner=None, binary=None, use_jtop=None):
        self.store_path = str(store_path or default_store_path())
        self.runner = runner or run_command
        self._binary = binary
        self.locked = False
        self.reused_store = False
        self.commands = []
        # None: through jetson-stats when its service is usable (and no runner/binary was injected)
        self.use_jtop = use_jtop if use_jtop is not None else (runner is None and binary is None)
        self.via = None  # "jetson_clocks" or "jtop" once locked
        self._jtop = None

    def _jtop_usable(self):
        if not self.use_jtop:
            return False
        from edgebench.platform import jetson_stats

        return jetson_stats.usable()

    @property
    def binary(self):
        """jetson_clocks' path (checked before a sweep); jtop's socket when only jtop can lock."""
        if self._binary is None:
            self._binary = find_binary("jetson_clocks")
            if self._binary is None and self._jtop_usable():
                from edgebench.platform import jetson_stats

                self._binary = jetson_stats.service_status()["socket"]
            if self._binary is None:
                raise ClockLockError(
                    "jetson_clocks not found on PATH or in /usr/bin: --lock-clocks works only on a "
                    "Jetson with JetPack's tools installed; drop --lock-clocks to run with the "
                    "clocks as they are")
        return self._binary

    def _run(self, *args):
        argv = [self.binary] + list(args)
        self.commands.append(argv)
        try:
            result = self.runner(argv)
        except OSError as err:
            raise ClockLockError("could not run {}: {}; drop --lock-clocks to run with the clocks as "
                                 "they are".format(" ".join(argv), err))
        if not result.ok:
            detail = (result.stderr or result.stdout).strip().splitlines()
            detail = detail[-1] if detail else "exit status {}".format(result.returncode)
            hint = ("rerun as root (sudo), or install jetson-stats (its service pins the clocks for the jtop "
                    "group)") if os.geteuid() != 0 else "check the message above"
            raise ClockLockError("{} failed: {}; {} or drop --lock-clocks".format(
                " ".join(argv), detail, hint))
        return result

    def lock(self):
        """Store the current clocks (unless a stored state is pending) and pin them to maximum."""
        if self._jtop_usable():
            return self._lock_via_jtop()
        directory = os.path.dirname(self.store_path)
        if directory and not os.path.isdir(directory):
            os.makedirs(directory)
        if os.path.exists(self.store_path):
            self.reused_store = True
            log.warning("%s exists from an interrupted run; keeping it so that restore puts back the "
                        "clocks from before that run", self.store_path)
        else:
            self._run("--store", self.store_path)
        self._run()
        self.locked = True
        self.via = "jetson_clocks"
        return self

    def _lock_via_jtop(self):
        from edgebench.platform import jetson_stats

        control = jetson_stats.JtopControl(lock_clocks=True)
        try:
            control.apply()
        except jetson_stats.JtopUnavailable as err:
            raise ClockLockError("--lock-clocks through jetson-stats: {}; or drop --lock-clocks".format(err))
        self._jtop = control
        self.locked = True
        self.via = "jtop"
        self.commands.append(["jtop", "jetson_clocks", "on" if control.changed else "already on"])
        return self

    def restore(self):
        """Put back the stored clocks and forget the stored state. Safe to call twice."""
        if not self.locked:
            return
        if self.via == "jtop":
            from edgebench.platform import jetson_stats

            try:
                self._jtop.restore()
            except jetson_stats.JtopUnavailable as err:
                raise ClockLockError("could not restore the clocks through jetson-stats: {}; run: sudo "
                                     "jetson_clocks --restore (or reboot)".format(err))
            finally:
                self.locked = False
            return
        self._run("--restore", self.store_path)
        self.locked = False
        try:
            os.remove(self.store_path)
        except OSError:
            pass

    def __enter__(self):
        return self.lock()

    def __exit__(self, exc_type, exc, tb):
        self.restore()
        return False


# -- --power-mode -------------------------------------------------------------------------------------

class PowerModeError(EdgebenchError):
    """The power mode cannot be set (or put back); the message says what to do instead."""


class PowerMode(object):
    """Switch the nvpmodel power mode for a run and put the previous one back afterwards.

    ``mode`` is an id (``0``) or a name (``MAXN``, case-insensitive). Through jetson-stats' service
    when it is running and usable (unprivileged callers such as the agent), else ``nvpmodel -m ID``
    through ``runner`` (needs root). ``apply()`` raises :class:`PowerModeError` before anything is
    measured; ``restore()`` is safe to call twice. Also a context manager.
    """

    def __init__(self, mode, root=None, runner=None, use_jtop=None):
        self.mode = mode
        self.root = root
        self.runner = runner or run_command
        self.use_jtop = use_jtop if use_jtop is not None else runner is None
        self.via = None
        self.previous_id = None
        self.target_id = None
        self._jtop = None

    def apply(self):
        from edgebench.platform import jetson_stats

        if self.use_jtop and jetson_stats.usable():
            control = jetson_stats.JtopControl(power_mode=self.mode)
            try:
                control.apply()
            except jetson_stats.JtopUnavailable as err:
                raise PowerModeError("--power-mode through jetson-stats: {}".format(err))
            self._jtop, self.via = control, "jtop"
            self.previous_id = control.before.get("power_mode")
            return self
        current = read_power_mode(self.root, runner=self.runner, use_binary=True)
        if current is None:
            raise PowerModeError("no nvpmodel here (nvpmodel -q gave nothing): --power-mode works only on a "
                                 "Jetson; drop it")
        names = [current["modes"][key] for key in sorted(current["modes"], key=int)]
        try:
            self.target_id = jetson_stats.resolve_mode(self.mode, names)
        except jetson_stats.JtopUnavailable as err:
            raise PowerModeError(str(err))
        self.previous_id, self.via = current["id"], "nvpmodel"
        if self.target_id != self.previous_id:
            self._set(self.target_id)
        return self

    def _set(self, mode_id):
        binary = find_binary("nvpmodel") or "nvpmodel"
        try:
            result = self.runner([binary, "-m", str(mode_id)])
        except OSError as err:
            raise PowerModeError("could not run nvpmodel: {}; drop --power-mode".format(err))
        if not result.ok:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise PowerModeError("nvpmodel -m {} failed: {}; rerun as root (sudo), or install jetson-stats "
                                 "(its service sets the mode for the jtop group)".format(
                                     mode_id, detail[-1] if detail else "exit status {}".format(result.returncode)))
        now = read_power_mode(self.root, runner=self.runner, use_binary=True)
        if now is None or now["id"] != mode_id:
            raise PowerModeError("nvpmodel still reports mode {} after nvpmodel -m {} (a change of online "
                                 "CPU cores needs a reboot): sudo nvpmodel -m {} and reboot".format(
                                     None if now is None else now["id"], mode_id, mode_id))

    def restore(self):
        if self.via == "jtop":
            from edgebench.platform import jetson_stats

            try:
                self._jtop.restore()
            except jetson_stats.JtopUnavailable as err:
                raise PowerModeError("could not put the power mode back through jetson-stats: {}; run: sudo "
                                     "nvpmodel -m {}".format(err, self.previous_id))
            finally:
                self.via = None
        elif self.via == "nvpmodel":
            self.via = None
            if self.previous_id is not None and self.previous_id != self.target_id:
                self._set(self.previous_id)

    def __enter__(self):
        return self.apply()

    def __exit__(self, exc_type, exc, tb):
        self.restore()
        return False
