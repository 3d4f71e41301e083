"""The agent's socket protocol: newline-delimited JSON, size cap, clear errors, never pickle."""
import json
import os
import pickle
import selectors
import socket
import stat
import threading
import time

import pytest

from edgebench.agent import protocol
from edgebench.errors import UsageError


class LoopThread(object):
    """A protocol.Server driven by a selector loop in a thread, like the agent's main loop."""

    def __init__(self, path, handler, **kw):
        self.selector = selectors.DefaultSelector()
        self.server = protocol.Server(path, handler, self.selector, group=None, **kw).bind()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            for key, mask in self.selector.select(0.05):
                key.data(key.fileobj, mask)
            self.server.close_idle()  # as the agent's tick does

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.server.close()
        self.selector.close()


def handler(request, peer):
    cmd = request.get("cmd")
    if cmd == "echo":
        return {"echo": request.get("value"), "peer_uid": peer.get("uid")}
    if cmd == "boom":
        raise RuntimeError("kaboom")
    raise UsageError("unknown command {!r}".format(cmd))


@pytest.fixture
def server(tmp_path):
    loop = LoopThread(str(tmp_path / "agent.sock"), handler, max_line=1024)
    yield loop
    loop.close()


def _connect(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(3)
    sock.connect(path)
    return sock


def _read_lines(sock):
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return [json.loads(line) for line in buf.decode().splitlines() if line], True
        buf += chunk
        if buf.endswith(b"\n"):
            try:
                sock.settimeout(0.3)
                more = sock.recv(65536)
            except socket.timeout:
                return [json.loads(line) for line in buf.decode().splitlines() if line], False
            finally:
                sock.settimeout(3)
            if not more:
                return [json.loads(line) for line in buf.decode().splitlines() if line], True
            buf += more


def test_request_reply_and_peer_credentials(server):
    reply = protocol.request(server.server.path, {"cmd": "echo", "value": [1, "two"]})
    assert reply["ok"] is True and reply["echo"] == [1, "two"] and reply["protocol"] == protocol.PROTOCOL_VERSION
    assert reply["peer_uid"] == os.getuid()


def test_socket_mode_is_0660(server):
    assert stat.S_IMODE(os.stat(server.server.path).st_mode) == 0o660


def test_several_requests_on_one_connection_and_unknown_command_keeps_it_open(server):
    sock = _connect(server.server.path)
    sock.sendall(b'{"cmd": "echo", "value": 1}\n{"cmd": "nope"}\n{"cmd": "echo", "value": 3}\n')
    replies, closed = _read_lines(sock)
    sock.close()
    assert [r["ok"] for r in replies] == [True, False, True]
    assert "unknown command 'nope'" in replies[1]["error"] and not closed


@pytest.mark.parametrize("payload, words", [
    (b"this is not json\n", "not JSON"),
    (b"[1, 2, 3]\n", "must be a JSON object"),
    (pickle.dumps({"cmd": "status"}) + b"\n", "not JSON"),
    (b"\xff\xfe\n", "not JSON"),
])
def test_malformed_message_gets_an_error_and_the_connection_is_closed(server, payload, words):
    sock = _connect(server.server.path)
    sock.sendall(payload + b'{"cmd": "echo", "value": "after"}\n')
    replies, closed = _read_lines(sock)
    sock.close()
    assert len(replies) == 1 and replies[0]["ok"] is False and words in replies[0]["error"]
    assert "connection closed" in replies[0]["error"] and closed


def test_oversized_message_is_rejected_without_waiting_for_a_newline(server):
    sock = _connect(server.server.path)
    sock.sendall(b'{"cmd": "echo", "value": "' + b"x" * 5000)  # no newline, over the 1024-byte cap
    replies, closed = _read_lines(sock)
    sock.close()
    assert closed and "longer than the 1024 byte limit" in replies[0]["error"]


def test_oversized_complete_line_is_rejected(server):
    sock = _connect(server.server.path)
    sock.sendall(b'{"cmd": "echo", "value": "' + b"x" * 2000 + b'"}\n')
    replies, closed = _read_lines(sock)
    sock.close()
    assert closed and "limit" in replies[0]["error"]


def test_handler_crash_is_an_error_reply_and_the_server_goes_on(server):
    reply = protocol.request(server.server.path, {"cmd": "boom"})
    assert reply["ok"] is False and "internal error: RuntimeError: kaboom" in reply["error"]
    assert protocol.request(server.server.path, {"cmd": "echo", "value": 1})["ok"] is True


def test_stale_socket_is_replaced_and_a_live_one_refused(tmp_path, server):
    with pytest.raises(UsageError, match="already listening"):
        protocol.Server(server.server.path, handler, selectors.DefaultSelector()).bind()
    stale = str(tmp_path / "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(stale)
    s.close()  # a socket file nobody listens on: left by a killed agent
    loop = LoopThread(stale, handler)
    try:
        assert protocol.request(stale, {"cmd": "echo", "value": 2})["echo"] == 2
    finally:
        loop.close()
    assert not os.path.exists(stale)  # removed on close


def test_regular_file_in_the_way_is_refused(tmp_path):
    path = tmp_path / "agent.sock"
    path.write_text("not a socket")
    with pytest.raises(UsageError, match="not a socket"):
        protocol.Server(str(path), handler, selectors.DefaultSelector()).bind()


def test_too_long_socket_path_is_a_clear_error(tmp_path):
    path = str(tmp_path / ("x" * 120) / "agent.sock")
    with pytest.raises(UsageError, match="shorter --socket"):
        protocol.Server(path, handler, selectors.DefaultSelector()).bind()


def test_client_says_what_to_do_when_no_agent_runs(tmp_path):
    with pytest.raises(protocol.AgentUnavailable, match="no agent is running"):
        protocol.request(str(tmp_path / "agent.sock"), {"cmd": "status"})


def test_protocol_version_mismatch_is_reported(tmp_path):
    path = str(tmp_path / "old.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def answer():
        conn, _ = listener.accept()
        conn.recv(1024)
        conn.sendall(b'{"ok": true, "protocol": 99, "version": "9.0"}\n')
        conn.close()

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    try:
        with pytest.raises(protocol.AgentUnavailable, match="protocol 99"):
            protocol.request(path, {"cmd": "status"})
    finally:
        t.join(2)
        listener.close()


def test_idle_connections_are_dropped(server):
    sock = _connect(server.server.path)
    sock.sendall(b'{"cmd": "echo", "value": 1}\n')
    _read_lines(sock)
    assert len(server.server.connections) == 1
    server.server.close_idle(now=1e12)
    replies, closed = _read_lines(sock)
    sock.close()
    assert closed and server.server.connections == {}


# ---------------------------------------------------------------------- hostile clients (issue 13)

@pytest.fixture
def make_server(tmp_path):
    """``make_server(handler, **server_options)`` -> a running LoopThread, closed after the test."""
    loops = []

    def make(handler_, **kw):
        loops.append(LoopThread(str(tmp_path / "agent.sock"), handler_, **kw))
        return loops[-1]

    yield make
    for loop in loops:
        loop.close()

def _wait_closed(sock, keep_sending=None, timeout_s=20.0):
    """True once the server has closed ``sock`` (sending ``keep_sending`` meanwhile), False on timeout."""
    sock.settimeout(0.1)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if keep_sending:
                sock.send(keep_sending)
            if sock.recv(65536) == b"":
                return True
        except socket.timeout:
            continue
        except OSError:  # EPIPE / ECONNRESET: closed
            return True
    return False


def test_deeply_nested_line_gets_an_error_reply_and_the_server_goes_on(make_server):
    loop = make_server(handler)  # the real 64 KB cap: 3 KB of "[" fits
    sock = _connect(loop.server.path)
    sock.sendall(b"[" * 3000 + b"\n")
    replies, closed = _read_lines(sock)
    sock.close()
    assert closed and not replies[0]["ok"] and "nested" in replies[0]["error"]
    assert protocol.request(loop.server.path, {"cmd": "echo", "value": 2})["echo"] == 2


def _big_reply_handler(request, peer):
    return {"pad": "x" * 4000}


def test_client_that_does_not_read_its_replies_is_not_read_from(make_server):
    loop = make_server(_big_reply_handler)
    sock = _connect(loop.server.path)
    sock.setblocking(False)
    line = b'{"cmd":"status"}\n'
    backlog, sent, blocked = [], 0, 0
    try:
        while sent < 40000 * len(line) and blocked < 100:
            try:
                sent += sock.send(line)
            except BlockingIOError:
                blocked += 1  # the kernel buffers are full: the server stopped reading
                time.sleep(0.01)
            for conn in list(loop.server.connections.values()):
                backlog.append(len(conn.outbuf) + len(conn.inbuf))
        assert blocked == 100
        assert max(backlog) < protocol.OUTPUT_SOFT_CAP_BYTES + 2 * 65536
        assert protocol.request(loop.server.path, {"cmd": "status"})["ok"]
    finally:
        sock.close()


def test_client_whose_backlog_passes_the_hard_cap_is_dropped(make_server, monkeypatch):
    monkeypatch.setattr(protocol, "OUTPUT_HARD_CAP_BYTES", 1000)
    loop = make_server(_big_reply_handler)
    sock = _connect(loop.server.path)
    sock.sendall(b'{"cmd":"status"}\n' * 10)
    assert _wait_closed(sock)
    assert loop.server.connections == {}


def test_client_trickling_bytes_without_a_request_is_dropped(make_server):
    loop = make_server(handler, idle_timeout_s=0.5)
    sock = _connect(loop.server.path)
    assert _wait_closed(sock, keep_sending=b" ")  # a byte every 0.1 s is no progress


def test_a_client_that_keeps_asking_is_not_idle(make_server):
    loop = make_server(handler, idle_timeout_s=0.5)
    sock = _connect(loop.server.path)
    for value in range(12):  # 1.2 s of requests every 0.1 s
        sock.sendall(json.dumps({"cmd": "echo", "value": value}).encode() + b"\n")
        assert json.loads(sock.makefile("rb").readline())["echo"] == value
        time.sleep(0.1)
    sock.close()


def test_new_client_displaces_the_longest_idle_one_when_every_slot_is_taken(make_server):
    loop = make_server(handler, max_connections=4)
    squatters = [_connect(loop.server.path) for _ in range(4)]
    for sock in squatters:
        sock.send(b" ")
    reply = protocol.request(loop.server.path, {"cmd": "echo", "value": 5})
    assert reply["ok"] and reply["echo"] == 5
    assert _wait_closed(squatters[0])
    for sock in squatters:
        sock.close()
