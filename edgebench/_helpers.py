"""Small helpers every layer may use (no edgebench imports): time stamps, error text, signal names.

The out-of-memory hints are the phrases the libraries a worker runs print or raise when an
allocation fails: glibc/C++ (``bad_alloc``, "cannot allocate memory"), ONNX Runtime ("Failed to
allocate"), numpy ("Unable to allocate"), CUDA and TensorRT ("out of memory",
``cudaErrorMemoryAllocation``, "insufficient memory"), Python (``MemoryError``).
"""
import datetime
import os
import signal

OOM_HINTS = ("bad_alloc", "failed to allocate", "out of memory", "outofmemory", "cannot allocate memory",
             "memoryerror", "unable to allocate", "cudaerrormemoryallocation", "insufficient memory")


def utc_now():
    """The current UTC time, ISO 8601 to the second with a ``Z`` (how every stored time is written)."""
    return datetime.datetime.utcnow().replace(microsecond=0).isoformat() + "Z"


def first_line(exc, width=400, default=None):
    """The first line of an error's text (at most ``width`` characters); its type name if it has none."""
    text = str(exc).strip()
    if not text:
        return default if default is not None else type(exc).__name__
    return text.splitlines()[0][:width]


def is_oom_text(text):
    """True when an error text says an allocation failed."""
    low = str(text).lower()
    return any(hint in low for hint in OOM_HINTS)


def signal_name(signum):
    """``SIGKILL`` for 9; ``signal 99`` for a number with no name here."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return "signal {}".format(signum)


def die_with_parent(parent_pid=None):
    """Die with the parent (Linux prctl PR_SET_PDEATHSIG, SIGKILL) so no orphan keeps a board busy.

    The signal only covers a parent that dies after the prctl call; if it died before (this process
    was reparented already), exit now. prctl(2): the signal is sent when the parent *thread* exits,
    so the parent must wait for the child in the thread that started it.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except Exception:  # not Linux or no libc: the parent still kills us on exit
        pass
    if parent_pid and os.getppid() != parent_pid:
        os._exit(1)
