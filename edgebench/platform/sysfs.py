"""Small, forgiving readers for board files (sysfs, procfs, /etc) under a filesystem root.

Every path given here is the *board* path (``/proc/meminfo``); it is joined onto the root with
:func:`edgebench.platform.root.under`, so a fake tree under a test's ``tmp_path`` stands in for a
board. Board files fail in odd ways (``EAGAIN`` from a powered-down thermal zone, ``EIO`` from an
unconnected INA3221 channel, NUL-terminated device-tree strings), so every reader returns ``default``
instead of raising when a file is missing or unreadable.
"""
import glob
import os

from edgebench.platform.root import resolve_root, under


def is_real_root(root):
    """True when ``root`` is the machine's own ``/`` (so running its binaries describes it)."""
    return os.path.realpath(resolve_root(root)) == "/"


def read_text(root, path, default=None):
    """The text of ``<root><path>`` with trailing whitespace and NULs removed, or ``default``."""
    try:
        with open(under(root, path), "rb") as handle:
            data = handle.read()
    except (OSError, IOError):
        return default
    return data.decode("utf-8", "replace").rstrip("\x00 \t\r\n")


def read_lines(root, path):
    """The lines of ``<root><path>`` (an empty list when it cannot be read)."""
    text = read_text(root, path)
    return text.splitlines() if text else []


def read_int(root, path, default=None):
    """The first whitespace-separated token of ``<root><path>`` as an int, or ``default``."""
    text = read_text(root, path)
    if not text:
        return default
    try:
        return int(text.split()[0])
    except (ValueError, IndexError):
        return default


def exists(root, path):
    return os.path.exists(under(root, path))


def glob_board(root, pattern):
    """Board paths (``/sys/...``, relative to ``root``) that match ``pattern``, sorted naturally."""
    base = resolve_root(root)
    prefix = os.path.join(base, "")
    found = []
    for host_path in glob.glob(under(root, pattern)):
        relative = host_path[len(prefix):] if host_path.startswith(prefix) else host_path
        found.append("/" + relative.lstrip("/"))
    return sorted(found, key=natural_key)


def natural_key(text):
    """Sort key that orders ``cpu2`` before ``cpu10`` and ``thermal_zone9`` before ``thermal_zone10``."""
    parts = []
    number = ""
    word = ""
    for char in str(text):
        if char.isdigit():
            if word:
                parts.append((1, word, 0))
                word = ""
            number += char
        else:
            if number:
                parts.append((0, "", int(number)))
                number = ""
            word += char
    if number:
        parts.append((0, "", int(number)))
    if word:
        parts.append((1, word, 0))
    return parts
