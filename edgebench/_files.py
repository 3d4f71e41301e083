"""Small file helpers shared by the caches and the store: hashing and atomic writes.

An atomic write goes to a temporary file in the target's directory, is flushed to disk, then renamed
over the target, so a crash or a full disk leaves either the old file or the new one, never half.
"""
import hashlib
import json
import os
import re
import tempfile


def sha256_file(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


# Where the board's own state lives (the agent's store, spool and cache; power calibrations): one
# default and one variable for the agent, its clients and the power calibration alike.
DEFAULT_STATE_DIR = "/var/lib/edgebench"
STATE_DIR_ENV = "EDGEBENCH_STATE_DIR"


def default_state_dir():
    """``$EDGEBENCH_STATE_DIR``, else ``/var/lib/edgebench``."""
    return os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR


FILE_MODE = 0o644  # mkstemp creates 0600; caches and results are read by other users (agent vs CLI)


TMP_PREFIX = ".tmp-"  # what a half-written file is called until its rename (the spool cleans old ones up)


def atomic_write(path, write, mode="wb", file_mode=FILE_MODE, sync_dir=False, **open_kwargs):
    """Call ``write(fh)`` on a temporary file, then rename it to ``path`` (``file_mode``, 0644 by default).

    ``sync_dir`` also flushes the directory entry, so the rename itself survives a power loss (the
    agent's spool, where a job's state must not go back in time).
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=os.path.splitext(path)[1], dir=directory)
    try:
        with open(fd, mode, **open_kwargs) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if sync_dir:
        fsync_dir(directory)


def fsync_dir(path):
    """Flush a directory's entries to disk (best effort: some filesystems refuse)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path, data, **kwargs):
    atomic_write(path, lambda fh: fh.write(data), **kwargs)


def atomic_write_json(path, obj, **kwargs):
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode("utf-8"), **kwargs)


MAX_JSON_DEPTH = 64  # nesting any edgebench file or request needs is < 10; json recurses per level

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def json_depth(text):
    """The deepest nesting of ``[``/``{`` in JSON ``text`` (brackets inside strings do not count)."""
    depth = deepest = 0
    for char in _JSON_NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def loads_bounded(text, max_depth=MAX_JSON_DEPTH):
    """``json.loads`` for untrusted text: ValueError (never RecursionError or MemoryError) when it is not
    JSON or nests deeper than ``max_depth``."""
    if json_depth(text) > max_depth:
        raise ValueError("nested more than {} levels deep".format(max_depth))
    try:
        return json.loads(text)
    except (RecursionError, MemoryError) as exc:
        raise ValueError("too large or too deeply nested ({})".format(type(exc).__name__))


def read_json(path):
    """The JSON object in ``path``, or None if it is missing, unreadable or not a JSON object."""
    try:
        with open(path, "rb") as fh:
            data = loads_bounded(fh.read().decode("utf-8"))
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    return data if isinstance(data, dict) else None
