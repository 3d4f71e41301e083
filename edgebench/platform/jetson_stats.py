"""jetson-stats (jtop) where it is installed: clocks, power mode and board power through its service.

jetson-stats runs a root service (``jtop.service``) that serves clients over a multiprocessing
manager socket, ``/run/jtop.sock`` (mode 660, group ``jtop``); a client in that group may ask it to
start or stop ``jetson_clocks`` and to change the nvpmodel power mode, which an unprivileged
process (edgebench's agent under its hardened unit) cannot do itself. The client API used here is
jetson-stats' public one (rbonghi/jetson_stats ``jtop/jtop.py``): ``jtop(interval)`` with
``start()``/``ok()``/``close()``; ``jetson.jetson_clocks`` (truthy when running; assigning a bool
asks the service); ``jetson.nvpmodel`` (``.id``, ``.name``, ``.models``; assigning an id asks the
service, which refuses a mode whose CPU-core mask differs unless forced -- a reboot-class change);
``jetson.power`` (``{"rail": {name: {"power": mW, ...}}, "tot": {"power": mW, "name"?: rail}}``).

Never required: nothing here is imported unless jetson-stats is, and every failure is a
:class:`JtopUnavailable` whose message says what to do instead. The vendor import stays inside
this module.
"""
import os
import stat
import time

from edgebench.errors import EdgebenchError

JTOP_INTERVAL_S = 0.5  # the service's own advice: intervals below 0.5 s are unstable (issue #414)
WAIT_S = 20.0  # jetson_clocks and nvpmodel run in the service's threads; give them this long


class JtopUnavailable(EdgebenchError):
    """jetson-stats is missing, its service is not reachable, or it refused a request."""


def _client():
    """The ``jtop`` package, or raise :class:`JtopUnavailable` (also for a broken install)."""
    try:
        import jtop
        import jtop.service  # noqa: F401 -- JTOP_PIPE lives here
    except Exception as err:  # noqa: BLE001 -- ImportError or a broken vendor install alike
        raise JtopUnavailable("jetson-stats is not importable ({}): pip install jetson-stats, or go on "
                              "without it".format(err))
    return jtop


def service_status():
    """``{"installed", "version", "running", "socket", "accessible", "reason"}``; never raises.

    ``running`` means the service's socket exists (the service removes it on exit);
    ``accessible`` whether this user may open it (the ``jtop`` group).
    """
    status = {"installed": False, "version": None, "running": False, "socket": None, "accessible": False,
              "reason": None}
    try:
        module = _client()
    except JtopUnavailable as err:
        status["reason"] = str(err)
        return status
    status["installed"] = True
    status["version"] = getattr(module, "__version__", None)
    path = module.service.JTOP_PIPE
    status["socket"] = path
    try:
        mode = os.stat(path).st_mode
    except OSError:
        status["reason"] = ("jtop's service is not running ({} is missing): sudo systemctl enable --now "
                            "jtop.service".format(path))
        return status
    status["running"] = stat.S_ISSOCK(mode)
    if not status["running"]:
        status["reason"] = "{} is not a socket: sudo systemctl restart jtop.service".format(path)
        return status
    status["accessible"] = os.access(path, os.R_OK | os.W_OK)
    if not status["accessible"]:
        status["reason"] = ("no access to {}: sudo usermod -aG jtop $USER (then log in again)".format(path))
    return status


def usable():
    """True when jtop's service is running and this user may talk to it."""
    status = service_status()
    return status["running"] and status["accessible"]


class JtopSession(object):
    """One connection to jtop's service; a context manager."""

    def __init__(self, interval_s=JTOP_INTERVAL_S, wait_s=WAIT_S):
        self.interval_s = float(interval_s)
        self.wait_s = float(wait_s)
        self.client = None

    def open(self):
        module = _client()
        try:
            client = module.jtop(interval=self.interval_s)
            client.start()
        except module.JtopException as err:
            raise JtopUnavailable("jtop's service: {}".format(" ".join(str(err).split())))
        except (OSError, EOFError) as err:
            raise JtopUnavailable("cannot talk to jtop's service ({}): sudo systemctl restart jtop.service"
                                  .format(err))
        self.client = client
        return self

    def close(self):
        if self.client is not None:
            try:
                self.client.close()
            except Exception:  # noqa: BLE001 -- closing must not hide the caller's own error
                pass
            self.client = None

    def __enter__(self):
        return self.open()

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def _fresh(self):
        """Wait for the next sample from the service; raise if the connection is gone."""
        try:
            alive = self.client.ok()
        except Exception as err:  # noqa: BLE001 -- the client re-raises its reader thread's error
            raise JtopUnavailable("lost jtop's service: {}".format(err))
        if not alive:
            raise JtopUnavailable("jtop's service stopped answering: sudo systemctl restart jtop.service")

    def _wait_for(self, done, what):
        deadline = time.monotonic() + self.wait_s
        while True:
            self._fresh()
            if done():
                return
            if time.monotonic() > deadline:
                raise JtopUnavailable("jtop's service did not {} within {:.0f} s".format(what, self.wait_s))

    # -- jetson_clocks ------------------------------------------------------------------------------

    def clocks_locked(self):
        """True/False as jtop infers it (every clock pinned), None when jtop has no jetson_clocks."""
        jc = self.client.jetson_clocks
        return None if jc is None else bool(jc)

    def set_clocks(self, enable):
        """Ask the service to start (or stop) jetson_clocks and wait until its clocks say so."""
        if self.client.jetson_clocks is None:
            raise JtopUnavailable("jtop reports no jetson_clocks on this board: drop --lock-clocks")
        try:
            self.client.jetson_clocks = bool(enable)
        except Exception as err:  # noqa: BLE001 -- JtopException: e.g. clocks pinned outside jtop
            raise JtopUnavailable("jtop cannot {} jetson_clocks: {}".format(
                "start" if enable else "stop", " ".join(str(err).split())))
        self._wait_for(lambda: self.clocks_locked() is bool(enable),
                       "{} jetson_clocks".format("start" if enable else "stop"))

    # -- nvpmodel -----------------------------------------------------------------------------------

    def power_mode(self):
        """``{"id", "name", "modes"}`` of the active nvpmodel mode, or None when the board has none."""
        nvp = self.client.nvpmodel
        if nvp is None:
            return None
        return {"id": nvp.id, "name": nvp.name, "modes": list(nvp.models)}

    def set_power_mode(self, mode):
        """Switch to ``mode`` (an id, or a name such as ``MAXN``) and wait until the service reports it."""
        current = self.power_mode()
        if current is None:
            raise JtopUnavailable("jtop reports no nvpmodel on this board: drop --power-mode")
        mode_id = resolve_mode(mode, current["modes"])
        if mode_id == current["id"]:
            return mode_id
        nvp = self.client.nvpmodel

        def refused():
            # The service keeps one flag per mode: False for a mode whose CPU-core mask differs from
            # the active one (it refuses those unless forced, which reboots the board) and for a
            # mode whose nvpmodel call failed (jtop/core/nvpmodel.py, NVPModelService).
            status = list(getattr(nvp, "status", None) or [])
            return mode_id < len(status) and status[mode_id] is False

        advice = ("nvpmodel will not switch to mode {} ({}) without a reboot: sudo nvpmodel -m {} and reboot, "
                  "then sweep without --power-mode".format(mode_id, current["modes"][mode_id], mode_id))
        if refused():
            raise JtopUnavailable(advice)
        self.client.nvpmodel = mode_id

        def settled():
            if refused():
                raise JtopUnavailable(advice)
            return nvp.id == mode_id

        self._wait_for(settled, "switch to power mode {}".format(current["modes"][mode_id]))
        return mode_id

    # -- power --------------------------------------------------------------------------------------

    def board_power(self):
        """jtop's power dict as its service computed it (mW)."""
        return self.client.power or {}


def resolve_mode(mode, names):
    """The id of ``mode`` (an int, a digit string or a name, case-insensitive) in ``names``."""
    text = str(mode).strip()
    if text.isdigit() and int(text) < len(names):
        return int(text)
    for index, name in enumerate(names):
        if name.upper() == text.upper():
            return index
    raise JtopUnavailable("no power mode {!r} here; modes: {}".format(
        mode, ", ".join("{} {}".format(i, n) for i, n in enumerate(names))))


class JtopControl(object):
    """Set clocks and/or the power mode for a run through jtop; :meth:`restore` puts back what changed.

    The mode is changed first: jtop's service stops jetson_clocks around an nvpmodel change and
    starts it again itself. Restoring goes the other way (clocks, then the mode).
    """

    def __init__(self, lock_clocks=False, power_mode=None, session=None):
        self.lock_clocks = lock_clocks
        self.power_mode = power_mode
        self.session = session or JtopSession()
        self.before = {}
        self.changed = []

    def apply(self):
        self.session.open()
        try:
            if self.power_mode is not None:
                current = self.session.power_mode()
                self.before["power_mode"] = None if current is None else current["id"]
                target = self.session.set_power_mode(self.power_mode)
                if target != self.before["power_mode"]:
                    self.changed.append("power_mode")
            if self.lock_clocks:
                self.before["clocks_locked"] = self.session.clocks_locked()
                if not self.before["clocks_locked"]:
                    self.session.set_clocks(True)
                    self.changed.append("clocks")
        except Exception:
            self.restore()
            raise
        return self

    def restore(self):
        """Undo this run's changes (safe to call twice); the connection is closed afterwards."""
        try:
            if self.session.client is None:
                return
            if "clocks" in self.changed:
                self.session.set_clocks(False)
                self.changed.remove("clocks")
            if "power_mode" in self.changed:
                self.session.set_power_mode(self.before["power_mode"])
                self.changed.remove("power_mode")
        finally:
            self.session.close()

    def __enter__(self):
        return self.apply()

    def __exit__(self, exc_type, exc, tb):
        self.restore()
        return False


# -- jtop's board power next to edgebench's ----------------------------------------------------------

def compare_board_power(jtop_power, rails_w, rule_rails, rule_text):
    """Explain why jtop's total differs from edgebench's board input.

    ``jtop_power``: jtop's ``power`` dict (mW); ``rails_w``: ``{rail: W}`` edgebench read;
    ``rule_rails``/``rule_text``: edgebench's board-input rule. jtop's total is one rail when it
    finds ``VIN``, ``POM_5V_IN`` or ``VDD_IN`` (``tot["name"]``), else the sum of every rail it
    lists (power_supply entries included). Returns ``{"jtop_w", "edgebench_w", "difference_w",
    "jtop_rails", "edgebench_rails", "extra_rails", "missing_rails", "explanation"}``.
    """
    total = (jtop_power or {}).get("tot") or {}
    rails = (jtop_power or {}).get("rail") or {}
    jtop_w = total.get("power") / 1000.0 if total.get("power") is not None else None
    jtop_rails = [total["name"]] if total.get("name") else sorted(rails)
    ours = list(rule_rails)
    ours_w = sum(rails_w[r] for r in ours if r in rails_w) if ours and all(r in rails_w for r in ours) else None
    extra = [r for r in jtop_rails if r not in ours]
    missing = [r for r in ours if r not in jtop_rails]
    reasons = []
    for rail in extra:
        if rail == "VDDQ_VDD2_1V8AO" and "VIN_SYS_5V0" in ours:
            reasons.append("jtop adds VDDQ_VDD2_1V8AO, which is fed from VIN_SYS_5V0 and so already inside it "
                           "(counted twice)")
        else:
            kind = (rails.get(rail) or {}).get("type")
            reasons.append("jtop adds {}{}, which edgebench's rule leaves out".format(
                rail, " ({})".format(kind) if kind else ""))
    for rail in missing:
        reasons.append("jtop leaves out {}".format(rail))
    if not reasons:
        reasons.append("same rails; the two readings were taken at different instants")
    difference = None if jtop_w is None or ours_w is None else jtop_w - ours_w
    return {
        "jtop_w": jtop_w,
        "edgebench_w": ours_w,
        "difference_w": difference,
        "jtop_rails": jtop_rails,
        "edgebench_rails": ours,
        "extra_rails": extra,
        "missing_rails": missing,
        "explanation": "; ".join(reasons) + " (edgebench: {})".format(rule_text),
    }
