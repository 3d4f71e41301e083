"""sd_notify against a real AF_UNIX datagram socket, and the heartbeat-gated watchdog thread."""
import os
import socket
import time

import pytest

from edgebench.agent.systemd import Heartbeat, Notifier, Watchdog


@pytest.fixture
def listener(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify.sock")
    sock.bind(path)
    sock.settimeout(2.0)
    yield path, sock
    sock.close()


def _received(sock):
    return sock.recv(4096).decode("utf-8").split("\n")


def test_messages_reach_notify_socket_and_variable_is_removed(listener):
    path, sock = listener
    environ = {"NOTIFY_SOCKET": path}
    notifier = Notifier(environ=environ)
    assert notifier.enabled and "NOTIFY_SOCKET" not in environ  # workers must not inherit it
    assert notifier.ready("idle; 0 jobs queued")
    assert _received(sock) == ["READY=1", "STATUS=idle; 0 jobs queued"]
    notifier.status("job x: point a/b (1/3 points)")
    assert _received(sock) == ["STATUS=job x: point a/b (1/3 points)"]
    notifier.watchdog_ping()
    assert _received(sock) == ["WATCHDOG=1"]
    notifier.reloading()
    lines = _received(sock)
    assert lines[0] == "RELOADING=1" and lines[1].startswith("MONOTONIC_USEC=")
    notifier.stopping()
    assert _received(sock) == ["STOPPING=1"]
    notifier.status("two\nlines")
    assert _received(sock) == ["STATUS=two lines"]  # a newline cannot smuggle in another assignment
    notifier.close()


def test_abstract_namespace_address():
    name = "edgebench-test-{}".format(os.getpid())
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2.0)
    try:
        notifier = Notifier(environ={"NOTIFY_SOCKET": "@" + name})
        assert notifier.ready()
        assert _received(sock) == ["READY=1"]
    finally:
        sock.close()


@pytest.mark.parametrize("environ", [{}, {"NOTIFY_SOCKET": ""}, {"NOTIFY_SOCKET": "relative/path"}])
def test_no_op_outside_systemd(environ):
    notifier = Notifier(environ=environ)
    assert not notifier.enabled
    assert notifier.ready() is False and notifier.watchdog_ping() is False
    assert notifier.watchdog_period_s() is None


def test_gone_socket_is_not_fatal(tmp_path):
    notifier = Notifier(environ={"NOTIFY_SOCKET": str(tmp_path / "missing.sock")})
    assert notifier.enabled and notifier.ready() is False


def test_watchdog_period_honours_watchdog_pid():
    assert Notifier(environ={"WATCHDOG_USEC": "30000000"}).watchdog_period_s() == 30.0
    mine = {"WATCHDOG_USEC": "2500000", "WATCHDOG_PID": str(os.getpid())}
    assert Notifier(environ=mine).watchdog_period_s() == 2.5
    other = {"WATCHDOG_USEC": "2500000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert Notifier(environ=other).watchdog_period_s() is None
    assert Notifier(environ={"WATCHDOG_USEC": "junk"}).watchdog_period_s() is None


def test_watchdog_pings_only_while_the_main_loop_beats(listener):
    path, sock = listener
    notifier = Notifier(environ={"NOTIFY_SOCKET": path})
    now = [0.0]
    heartbeat = Heartbeat(clock=lambda: now[0])
    dog = Watchdog(notifier, heartbeat, period_s=0.15).start()
    try:
        assert _received(sock) == ["WATCHDOG=1"]
        now[0] = 10.0  # the main loop has not beaten for 10 s: wedged
        time.sleep(0.2)
        sock.settimeout(0.05)
        while True:  # drain pings sent before the clock jumped
            try:
                sock.recv(4096)
            except socket.timeout:
                break
        pings = dog.pings
        time.sleep(0.3)
        assert dog.pings == pings and dog.skipped > 0
        heartbeat.beat()  # alive again
        sock.settimeout(2.0)
        assert _received(sock) == ["WATCHDOG=1"]
    finally:
        dog.stop()
        notifier.close()
