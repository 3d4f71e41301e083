"""Fuzz tests (hypothesis) for what the agent reads from others: socket lines, plans, spool files.

Each property is the same promise: hostile input gets a clear refusal (ProtocolError, UsageError, a
rejected job with a reason), never another exception, and the agent's pieces keep working after it.
"""
import json
import os
import selectors
import socket
import string
import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgebench.agent import protocol
from edgebench.agent.spool import Spool
from edgebench.errors import UsageError
from edgebench.sweep.plan import FIELD_NAMES, SweepPlan

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) |
    st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)

nesting = st.integers(min_value=0, max_value=5000).map(lambda n: "[" * n + "]" * (n // 2))


@FUZZ
@given(st.binary(max_size=2048) | nesting.map(lambda t: t.encode()) |
       json_values.map(lambda v: json.dumps(v).encode()))
def test_any_request_line_is_a_dict_or_a_protocol_error(line):
    try:
        assert isinstance(protocol.decode_line(line), dict)
    except protocol.ProtocolError as exc:
        assert "\n" not in str(exc)


plan_dicts = st.dictionaries(st.sampled_from(FIELD_NAMES + ("bogus",)), json_values, max_size=8)


@FUZZ
@given(plan_dicts | st.builds(lambda extra: dict(extra, models=["m"]), plan_dicts))
def test_any_plan_dict_validates_or_is_one_usage_error(data):
    try:
        plan = SweepPlan.from_dict(data)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    # what passes is what a sweep can run: typed, bounded, a model measured once
    assert plan.models and len(set(plan.models)) == len(plan.models)
    assert all(isinstance(b, int) and 1 <= b for b in plan.batch_sizes)
    assert json.loads(json.dumps(plan.to_dict(), allow_nan=False)) == plan.to_dict()


@FUZZ
@given(st.binary(max_size=4096) | nesting.map(lambda t: t.encode()) |
       json_values.map(lambda v: json.dumps(v).encode()),
       st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=12))
def test_any_dropped_file_becomes_a_job_or_a_rejection_with_a_reason(tmp_path_factory, content, name):
    spool = Spool(str(tmp_path_factory.mktemp("state"))).ensure()
    with open(os.path.join(spool.path("incoming"), name + ".json"), "wb") as fh:
        fh.write(content)
    [(job_id, reason)] = spool.adopt_dropped()
    if reason is None:
        assert spool.ids("incoming") == [job_id]
    else:
        assert spool.ids("failed") == [job_id] and "\n" not in reason
        assert spool.read_state("failed", job_id)["reason"] == reason


def test_the_server_answers_after_any_sequence_of_hostile_lines(tmp_path):
    selector = selectors.DefaultSelector()
    server = protocol.Server(str(tmp_path / "agent.sock"), lambda request, peer: {"echo": request.get("cmd")},
                             selector, max_line=4096).bind()
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            for key, mask in selector.select(0.05):
                key.data(key.fileobj, mask)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.binary(max_size=600) | nesting.map(lambda t: t.encode()), max_size=5))
    def hostile(lines):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.connect(server.path)
        try:
            sock.sendall(b"\n".join(lines) + b"\n")
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except OSError:
            pass  # the server may close on us mid-way: that is allowed
        finally:
            sock.close()
        assert protocol.request(server.path, {"cmd": "ping"}, timeout_s=2.0)["echo"] == "ping"

    try:
        hostile()
    finally:
        stop.set()
        thread.join(2)
        server.close()
        selector.close()
