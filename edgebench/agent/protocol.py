"""The agent's socket protocol: newline-delimited JSON over a Unix stream socket. Never pickle.

Each request is one JSON object on one line, at most :data:`MAX_LINE_BYTES` bytes; each reply is
one JSON object on one line. Requests::

    {"cmd": "ping"}                         -> {"ok": true, "protocol": 1, "version": "..."}
    {"cmd": "status"}                       -> {"ok": true, ..., "status": {snapshot}}
    {"cmd": "jobs", "limit": 20}            -> {"ok": true, ..., "jobs": [job, ...]}
    {"cmd": "submit", "plan": {...}}        -> {"ok": true, ..., "job": {"id": ..., "position": n}}
    {"cmd": "cancel", "id": "..."}          -> {"ok": true, ..., "job": {"id": ..., "status": ...}}

Errors come back as ``{"ok": false, "error": "one line saying what to do"}``. A line that is not a
JSON object, or that is longer than the limit, gets an error reply and the connection is closed;
a well-formed request with an unknown command gets an error reply and the connection stays open.

The server side is driven by the agent's main loop (a ``selectors`` selector): it never blocks,
and a client that makes no progress (no complete request, no reply read) for :data:`IDLE_TIMEOUT_S`
is dropped, however many bytes it trickles. A client that does not read its replies is not read
from either (its replies wait, at most :data:`OUTPUT_SOFT_CAP_BYTES` plus one reply), so memory
stays bounded; when every slot is taken, a new client displaces the connection idle the longest.
"""
import errno
import json
import logging
import os
import socket
import stat
import struct
import time

from edgebench import __version__
from edgebench._files import loads_bounded
from edgebench.errors import EdgebenchError, UsageError

logger = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
MAX_LINE_BYTES = 64 * 1024
MAX_REPLY_BYTES = 16 * 1024 * 1024
MAX_CONNECTIONS = 32
IDLE_TIMEOUT_S = 60.0
# Replies waiting for a client: past the soft cap the server answers no more of its requests (and reads
# no more of its input) until the client reads; a client that lets a backlog past the hard cap is dropped.
OUTPUT_SOFT_CAP_BYTES = 256 * 1024
OUTPUT_HARD_CAP_BYTES = MAX_REPLY_BYTES  # what a client accepts as one reply
SUN_PATH_MAX = 107


class ProtocolError(ValueError):
    """A message that is not one JSON object on one line within the size limit."""


class AgentUnavailable(EdgebenchError):
    """No agent answers on the socket (not running, wrong --state-dir, or no permission)."""


def encode(obj):
    return (json.dumps(obj, separators=(",", ":"), allow_nan=False, sort_keys=False) + "\n").encode("utf-8")


def decode_line(line, limit=MAX_LINE_BYTES):
    """One request line (bytes, without the newline) -> dict, or ProtocolError."""
    if len(line) > limit:
        raise ProtocolError("message of {} bytes is longer than the {} byte limit".format(len(line), limit))
    try:
        obj = loads_bounded(line.decode("utf-8"))
    except ValueError as exc:  # also UnicodeDecodeError, and nesting too deep for the parser
        raise ProtocolError("message is not JSON ({}); send one JSON object per line".format(exc))
    if not isinstance(obj, dict):
        raise ProtocolError("message must be a JSON object such as {\"cmd\": \"status\"}")
    return obj


def error_reply(text, **extra):
    reply = {"ok": False, "protocol": PROTOCOL_VERSION, "version": __version__, "error": str(text)}
    reply.update(extra)
    return reply


def peer_credentials(sock):
    """``{"pid", "uid", "gid"}`` of the process at the other end (Linux SO_PEERCRED), or {}."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, gid = struct.unpack("3i", raw)
        return {"pid": pid, "uid": uid, "gid": gid}
    except (AttributeError, OSError):
        return {}


class _Connection(object):
    def __init__(self, sock):
        self.sock = sock
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.closing = False
        self.last_progress = time.monotonic()  # accepted, a complete request read, or every reply read
        self.peer = peer_credentials(sock)


class Server(object):
    """Serves ``handler(request_dict, peer_dict) -> reply_dict`` on a Unix socket through ``selector``.

    Selector registrations carry a callable ``data(fileobj, mask)``; the owner's loop calls it.
    """

    def __init__(self, path, handler, selector, group=None, mode=0o660, max_line=MAX_LINE_BYTES,
                 max_connections=MAX_CONNECTIONS, idle_timeout_s=IDLE_TIMEOUT_S):
        self.path = path
        self.handler = handler
        self.selector = selector
        self.group = group
        self.mode = mode
        self.max_line = max_line
        self.max_connections = max_connections
        self.idle_timeout_s = idle_timeout_s
        self.sock = None
        self.connections = {}
        self.notes = []

    # ------------------------------------------------------------------ listening socket

    def bind(self):
        path = self.path
        if len(path.encode("utf-8")) > SUN_PATH_MAX:
            raise UsageError("socket path {} is {} bytes, longer than the {} a Unix socket allows; pass a shorter "
                             "--socket PATH".format(path, len(path.encode("utf-8")), SUN_PATH_MAX))
        if os.path.lexists(path):
            if not stat.S_ISSOCK(os.lstat(path).st_mode):
                raise UsageError("{} exists and is not a socket; move it away or pass --socket PATH".format(path))
            if socket_answers(path):
                raise UsageError("another edgebench agent is already listening on {}; stop it first "
                                 "(systemctl stop edgebench-agent) or use another --state-dir".format(path))
            os.unlink(path)  # left behind by an agent that was killed
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o117)  # no window in which the socket is wider than 0660
        try:
            sock.bind(path)
        except OSError as exc:
            sock.close()
            raise UsageError("cannot create the agent socket {}: {}".format(path, exc.strerror or exc))
        finally:
            os.umask(old_umask)
        os.chmod(path, self.mode)
        self._apply_group(path)
        sock.listen(16)
        sock.setblocking(False)
        self.sock = sock
        self.selector.register(sock, 1, self._on_accept)  # 1 = selectors.EVENT_READ
        return self

    def _apply_group(self, path):
        if not self.group:
            return
        try:
            import grp

            gid = grp.getgrnam(self.group).gr_gid
        except (ImportError, KeyError):
            self.notes.append("group {!r} does not exist: only {} can use the socket".format(
                self.group, _user_name()))
            return
        try:
            os.chown(path, -1, gid)
        except OSError as exc:
            self.notes.append("cannot give the socket to group {}: {}".format(self.group, exc.strerror or exc))

    def close(self):
        for conn in list(self.connections.values()):
            self._drop(conn)
        if self.sock is not None:
            try:
                self.selector.unregister(self.sock)
            except (KeyError, ValueError):
                pass
            self.sock.close()
            self.sock = None
            try:
                os.unlink(self.path)
            except OSError:
                pass

    # ------------------------------------------------------------------ connections

    def _on_accept(self, sock, mask):
        try:
            client, _ = sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            logger.warning("accept on %s failed: %s", self.path, exc)
            return
        client.setblocking(False)
        if len(self.connections) >= self.max_connections:
            oldest = min(self.connections.values(), key=lambda c: c.last_progress)
            logger.warning("all %d agent connections taken: dropping the one idle longest (pid %s)",
                           len(self.connections), oldest.peer.get("pid"))
            self._drop(oldest)
        conn = _Connection(client)
        self.connections[client.fileno()] = conn
        self.selector.register(client, 1, self._on_event)

    def _on_event(self, sock, mask):
        conn = self.connections.get(sock.fileno())
        if conn is None:
            return
        if mask & 2:  # EVENT_WRITE
            self._serve(conn)  # requests that waited for the client to read
            if conn.sock is None:
                return
        if mask & 1 and not conn.closing and not conn.outbuf:
            try:
                data = conn.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop(conn)
                return
            if not data:
                self._drop(conn)
                return
            conn.inbuf.extend(data)
            self._serve(conn)

    def _serve(self, conn):
        """Send what is pending, answer waiting requests while the client keeps up, send again."""
        while True:
            self._flush(conn)
            if conn.sock is None or conn.outbuf or conn.closing:
                return
            pending = len(conn.inbuf)
            self._process(conn)
            if conn.sock is None or (not conn.outbuf and len(conn.inbuf) == pending):
                self._flush(conn)  # nothing more to answer; sets the events
                return

    def _process(self, conn):
        while not conn.closing and len(conn.outbuf) < OUTPUT_SOFT_CAP_BYTES:
            newline = conn.inbuf.find(b"\n")
            if newline < 0:
                if len(conn.inbuf) > self.max_line:
                    self._reply_and_close(conn, "message longer than the {} byte limit; connection closed".format(
                        self.max_line))
                break
            line = bytes(conn.inbuf[:newline]).rstrip(b"\r")
            del conn.inbuf[:newline + 1]
            if not line.strip():
                continue
            conn.last_progress = time.monotonic()
            try:
                request = decode_line(line, self.max_line)
            except ProtocolError as exc:
                self._reply_and_close(conn, "{}; connection closed".format(exc))
                break
            conn.outbuf.extend(self._answer(request, conn.peer))
        if len(conn.outbuf) > OUTPUT_HARD_CAP_BYTES:
            logger.warning("agent client (pid %s) does not read its replies: %d bytes waiting; dropped",
                           conn.peer.get("pid"), len(conn.outbuf))
            self._drop(conn)

    def _answer(self, request, peer):
        try:
            reply = self.handler(request, peer)
        except UsageError as exc:
            reply = error_reply(exc, kind="usage")
        except Exception as exc:  # a bad request must never take the agent down
            logger.exception("request %r failed", request.get("cmd"))
            reply = error_reply("internal error: {}: {} (see the agent's log)".format(type(exc).__name__, exc))
        reply.setdefault("ok", True)
        reply.setdefault("protocol", PROTOCOL_VERSION)
        reply.setdefault("version", __version__)
        try:
            return encode(reply)
        except (TypeError, ValueError) as exc:
            return encode(error_reply("internal error: reply is not JSON: {}".format(exc)))

    def _reply_and_close(self, conn, text):
        conn.outbuf.extend(encode(error_reply(text)))
        conn.inbuf = bytearray()
        conn.closing = True

    def _flush(self, conn):
        if conn.sock is None:
            return
        while conn.outbuf:
            try:
                sent = conn.sock.send(conn.outbuf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._drop(conn)
                return
            del conn.outbuf[:sent]
            if not conn.outbuf:
                conn.last_progress = time.monotonic()  # the client read every reply
        if conn.closing and not conn.outbuf:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._drop(conn)
            return
        # Replies pending: wait to write only, so a client that does not read is not read from either
        # (and, while closing, unread input would wake the loop forever).
        events = 2 if conn.outbuf else (0 if conn.closing else 1)
        try:
            self.selector.modify(conn.sock, events, self._on_event)
        except (KeyError, ValueError):
            pass

    def _drop(self, conn):
        if conn.sock is None:
            return
        self.connections.pop(conn.sock.fileno(), None)
        try:
            self.selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()
        conn.sock = None

    def close_idle(self, now=None):
        now = time.monotonic() if now is None else now
        for conn in list(self.connections.values()):
            if now - conn.last_progress > self.idle_timeout_s:
                self._drop(conn)


# ---------------------------------------------------------------------- client side

def socket_answers(path, timeout_s=1.0):
    """True when something accepts connections on ``path``."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    try:
        sock.connect(path)
        return True
    except OSError:
        return False
    finally:
        sock.close()


def request(path, message, timeout_s=10.0):
    """Send one request to the agent at ``path``; return the reply dict (``ok`` may be False).

    Raises AgentUnavailable when nothing answers, with the next step in the message.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    try:
        try:
            sock.connect(path)
        except OSError as exc:
            raise AgentUnavailable(_connect_hint(path, exc))
        try:
            sock.sendall(encode(message))
            buf = bytearray()
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf.extend(chunk)
                if b"\n" in chunk or len(buf) > MAX_REPLY_BYTES:
                    break
        except socket.timeout:
            raise AgentUnavailable("the agent on {} did not answer within {:g} s".format(path, timeout_s))
        except OSError as exc:
            raise AgentUnavailable("talking to the agent on {} failed: {}".format(path, exc.strerror or exc))
    finally:
        sock.close()
    line = bytes(buf).split(b"\n", 1)[0]
    if not line:
        raise AgentUnavailable("the agent on {} closed the connection without a reply".format(path))
    try:
        reply = loads_bounded(line.decode("utf-8"))
    except ValueError:
        raise AgentUnavailable("the agent on {} sent a reply that is not JSON".format(path))
    if not isinstance(reply, dict):
        raise AgentUnavailable("the agent on {} sent a reply that is not a JSON object".format(path))
    if reply.get("protocol") not in (None, PROTOCOL_VERSION):
        raise AgentUnavailable("the agent speaks protocol {} (edgebench {}), this client {} (edgebench {}): "
                               "upgrade the older one".format(reply.get("protocol"), reply.get("version"),
                                                              PROTOCOL_VERSION, __version__))
    return reply


def _connect_hint(path, exc):
    code = getattr(exc, "errno", None)
    if code in (errno.EACCES, errno.EPERM):
        return ("cannot use the agent socket {}: permission denied; add yourself to group edgebench "
                "(sudo usermod -aG edgebench $USER, then log in again)".format(path))
    if code in (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTDIR):
        return ("no agent is running on {} (start it: sudo systemctl start edgebench-agent, or "
                "edgebench agent --state-dir DIR)".format(path))
    return "cannot connect to the agent on {}: {}".format(path, getattr(exc, "strerror", None) or exc)


def _user_name():
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return "uid {}".format(os.getuid())
