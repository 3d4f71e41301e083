"""A stand-in for jetson-stats' root service, faked at its socket, for the REAL jtop client to talk to.

What the real service does (rbonghi/jetson_stats 7.2.x, ``jtop/service.py``), and so what this does:

* a ``multiprocessing.managers.SyncManager`` serves three objects at the socket (``/run/jtop.sock``
  on a board; here a path under /tmp) with jetson-stats' own auth key (``jtop.core.common.get_key``):
  ``get_queue`` (a ``multiprocessing.Queue`` of control messages), ``sync_data`` (the stats dict)
  and ``sync_event`` (set when fresh stats are in);
* the control loop takes messages from the queue: ``{}`` is a keep-alive; an ``init`` message read
  back is re-queued for the client; ``{"interval": s}`` starts the stats timer and answers
  ``{"init": {"version", "board", "interval", "memory", "fan", "jc", "nvpmodel"}}``;
  ``{"jc": {"enable": bool}}`` starts or stops jetson_clocks in a thread (its state is then
  *inferred* from the clocks on the next sample); ``{"nvp": {"id", "force"}}`` sets the power mode
  in a thread -- and is refused, leaving the mode as it was, when the new mode's CPU-core mask
  differs from the current one and ``force`` is false (``NVPModelService.set_nvpmodel_id``);
* each interval the stats dict is refreshed (``jtop_decode``: ``gpu``, ``mem``, ``fan``, ``power``,
  ``jc`` = ``{"enable", "thread", "config", "boot"}``, ``nvp`` = ``{"status": [bool per mode],
  "thread", "model": {"id", "name"}}``) and the event is set.

Power is computed by jetson-stats' own service code (``jtop.core.power``: ``find_all_i2c_power_monitor``
and ``PowerService.get_status``) over a fake board tree, so its rails and total are exactly what the
real service would report from those files. Only the hardware effects (jetson_clocks, nvpmodel) are
simulated.
"""
import logging
import multiprocessing
import os
import queue
import threading
import time
from multiprocessing.managers import SyncManager

log = logging.getLogger(__name__)

SWITCH_DELAY_S = 0.2  # jetson_clocks / nvpmodel run in the service's threads: not instantaneous


class _Manager(SyncManager):
    pass


class FakeJtopService(object):
    def __init__(self, socket_path, board_root=None, models=("MAXN", "10W", "15W", "30W"), masks=None,
                 mode_id=0, clocks_locked=False, interval_floor_s=0.1):
        import jtop
        from jtop.core.common import get_key

        self.socket_path = socket_path
        self.version = jtop.__version__
        self.authkey = get_key().encode("utf-8")
        self.board_root = board_root
        self.models = list(models)
        self.masks = list(masks) if masks is not None else [True] * len(self.models)
        self.mode_id = mode_id
        self.clocks_locked = clocks_locked
        self.requests = []  # control messages received, in order (for the tests to read)
        self.interval_floor_s = interval_floor_s
        self._stop = threading.Event()
        self._timer = None
        self._interval_s = None
        self._power = self._power_service()

    # -- jetson-stats' own power code over the fake tree ----------------------------------------------

    def _power_service(self):
        if not self.board_root:
            return None
        from jtop.core.power import PowerService, find_all_i2c_power_monitor

        sensors = {}
        for driver in ("ina3221", "ina3221x", "ina238"):
            path = os.path.join(self.board_root, "sys/bus/i2c/drivers", driver)
            if os.path.isdir(path):
                sensors.update(find_all_i2c_power_monitor(path))
        service = PowerService.__new__(PowerService)  # its __init__ reads the real /sys paths
        service._power_sensor = dict(sorted(sensors.items(), key=lambda item: item[0]))
        service._power_avg = {}
        return service

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self):
        ctx = multiprocessing.get_context("fork")  # as the real service: objects shared by fork
        self.q = ctx.Queue()
        self.data = {}
        self.event = ctx.Event()
        _Manager.register("get_queue", callable=lambda: self.q)
        _Manager.register("sync_data", callable=lambda: self.data)
        _Manager.register("sync_event", callable=lambda: self.event)
        self.manager = _Manager(address=self.socket_path, authkey=self.authkey, ctx=ctx)
        self.manager.start()
        self.sync_data = self.manager.sync_data()
        self.sync_event = self.manager.sync_event()
        os.chmod(self.socket_path, 0o660)
        self._control = threading.Thread(target=self._control_loop, name="fake-jtop-control", daemon=True)
        self._control.start()
        return self

    def stop(self):
        self._stop.set()
        for thread in (self._control, self._timer):
            if thread is not None:
                thread.join(5)
        self.manager.shutdown()
        self.q.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- the service loop -----------------------------------------------------------------------------

    def _init_message(self):
        return {"init": {
            "version": self.version,
            "board": {"hardware": {"Model": "fake board", "Module": "fake"}, "cpu": {}},
            "interval": self._interval_s,
            "memory": "/",
            "fan": {},
            "jc": True,
            "nvpmodel": {"models": list(self.models), "default": {"name": self.models[0], "id": 0}},
        }}

    def _control_loop(self):
        while not self._stop.is_set():
            try:
                control = self.q.get(timeout=0.1)
            except queue.Empty:
                continue
            if not control:
                continue
            if "init" in control:
                self.q.put(control)
                time.sleep(0.01)
                continue
            self.requests.append(control)
            if "jc" in control and "enable" in control["jc"]:
                self._later(self._set_clocks, bool(control["jc"]["enable"]))
            if "nvp" in control:
                self._set_mode(control["nvp"]["id"], control["nvp"]["force"])
            if "interval" in control:
                if self._timer is None:
                    self._interval_s = max(float(control["interval"]), self.interval_floor_s)
                    self._timer = threading.Thread(target=self._timer_loop, name="fake-jtop-timer", daemon=True)
                    self._timer.start()
                self.q.put(self._init_message())

    def _later(self, function, *args):
        timer = threading.Timer(SWITCH_DELAY_S, function, args)
        timer.daemon = True
        timer.start()

    def _set_clocks(self, enable):
        self.clocks_locked = enable

    def _set_mode(self, mode_id, force):
        if not force and self.masks[mode_id] != self.masks[self.mode_id]:
            log.error("The new nvpmodel %s has a different mask, is not compatible", mode_id)
            return
        self._later(self._switch_mode, mode_id)

    def _switch_mode(self, mode_id):
        # nvpmodel stops jetson_clocks around the change and starts it again (NVPModelService)
        self.mode_id = mode_id

    def _status(self):
        return [mask == self.masks[self.mode_id] for mask in self.masks]

    def _decode(self):
        return {
            "uptime": 1000.0,
            "cpu": {},
            "gpu": {},
            "processes": [],
            "mem": {},
            "engines": {},
            "temperature": {},
            "power": self._power.get_status() if self._power else {},
            "fan": {},
            "jc": {"enable": self.clocks_locked, "thread": "inactive", "config": True, "boot": False},
            "nvp": {"status": self._status(), "thread": False,
                    "model": {"id": self.mode_id, "name": self.models[self.mode_id]}},
        }

    def _timer_loop(self):
        while not self._stop.is_set():
            self.sync_data.update(self._decode())
            if not self.sync_event.is_set():
                self.sync_event.set()
            self._stop.wait(self._interval_s)
