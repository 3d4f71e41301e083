"""Run the real agent (``python -m edgebench agent``) as a subprocess for the daemon tests."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

from cli_helpers import ROOT

from edgebench.agent import protocol

FAST = ("--duration", "0.3", "--iterations", "3", "--warmup-ms", "0")


def short_state_dir():
    """A state directory with a short path: a Unix socket path must fit in 107 bytes."""
    return tempfile.mkdtemp(prefix="eb-", dir="/tmp")


def wait_for(predicate, timeout_s=60.0, interval_s=0.05, what="condition"):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after {:g} s waiting for {}".format(timeout_s, what))
        time.sleep(interval_s)


class AgentProcess(object):
    def __init__(self, state_dir, root, *extra, **kw):
        self.state_dir = state_dir
        self.root = root
        self.extra = [str(a) for a in extra]
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = ROOT + (os.pathsep + self.env["PYTHONPATH"] if self.env.get("PYTHONPATH") else "")
        for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", "EDGEBENCH_STATE_DIR"):
            self.env.pop(name, None)
        self.env.update(kw.get("env") or {})
        self.proc = None
        self.log_path = os.path.join(state_dir, "agent-test.log")
        self.socket = os.path.join(state_dir, "agent.sock")

    def start(self, wait=True):
        log = open(self.log_path, "ab")
        argv = [sys.executable, "-m", "edgebench", "agent", "--state-dir", self.state_dir, "--root", self.root,
                "--poll-interval", "0.1", "--sensor-interval", "0.5"] + self.extra
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT)
        log.close()
        if wait:
            wait_for(self._ready, 60, what="the agent to answer on its socket")
        return self

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("agent exited with {}: {}".format(self.proc.returncode, self.log()))
        try:
            return protocol.request(self.socket, {"cmd": "ping"}, timeout_s=2)["ok"]
        except protocol.AgentUnavailable:
            return False

    def request(self, message):
        return protocol.request(self.socket, message, timeout_s=10)

    def status(self):
        return self.request({"cmd": "status"})["status"]

    def signal(self, signum):
        self.proc.send_signal(signum)

    def wait(self, timeout_s=30):
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError("agent still running after {} s: {}".format(timeout_s, self.log()))

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        return self.wait()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""


def cleanup(state_dir):
    shutil.rmtree(state_dir, ignore_errors=True)


def measurements(state_dir):
    path = os.path.join(state_dir, "results.db")
    if not os.path.exists(path):
        return []
    conn = sqlite3.connect(path, timeout=30)
    try:
        return conn.execute("SELECT run_id, point_key, status FROM measurements ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def runs(state_dir):
    conn = sqlite3.connect(os.path.join(state_dir, "results.db"), timeout=30)
    try:
        return conn.execute("SELECT id, status, note FROM runs ORDER BY id").fetchall()
    finally:
        conn.close()


def job_dirs(state_dir, state):
    path = os.path.join(state_dir, "spool", state)
    try:
        return sorted(n for n in os.listdir(path) if not n.startswith("."))
    except OSError:
        return []


def job_state(state_dir, state, job_id):
    with open(os.path.join(state_dir, "spool", state, job_id, "state.json")) as fh:
        return json.load(fh)
