"""Small file helpers shared by the caches and the store: hashing and atomic writes.

An atomic write goes to a temporary file in the target's directory, is flushed to disk, then renamed
over the target, so a crash or a full disk leaves either the old file or the new one, never half.
"""
import hashlib
import json
import os
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


FILE_MODE = 0o644  # mkstemp creates 0600; caches and results are read by other users (agent vs CLI)


def atomic_write(path, write, mode="wb", **open_kwargs):
    """Call ``write(fh)`` on a temporary file, then rename it to ``path`` (mode 0644)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=directory)
    try:
        with open(fd, mode, **open_kwargs) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path, data):
    atomic_write(path, lambda fh: fh.write(data))


def atomic_write_json(path, obj):
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def read_json(path):
    """The JSON object in ``path``, or None if it is missing or not a JSON object."""
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read().decode("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
