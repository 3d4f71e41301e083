"""Small helpers every layer may use (no edgebench imports): time stamps, error text, signal names.

The out-of-memory hints are the phrases the libraries a worker runs print or raise when an
allocation fails: glibc/C++ (``bad_alloc``, "cannot allocate memory"), ONNX Runtime ("Failed to
allocate"), numpy ("Unable to allocate"), CUDA and TensorRT ("out of memory",
``cudaErrorMemoryAllocation``, "insufficient memory"), Python (``MemoryError``).
"""
import datetime
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
