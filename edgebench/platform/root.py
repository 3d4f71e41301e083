"""The filesystem root every board probe reads under.

A Jetson is a tree of files (``/sys``, ``/proc``, ``/etc/nv_tegra_release``). Every probe takes the
root as a parameter so that a fake tree built under a test's ``tmp_path`` stands in for a board.
Resolution order: the explicit argument (``--root DIR``), then ``EDGEBENCH_ROOT``, then ``/``.
"""
import os

ENV_VAR = "EDGEBENCH_ROOT"


def resolve_root(root=None):
    """Return the root directory to read board files under (never ``None``)."""
    if root:
        return str(root)
    return os.environ.get(ENV_VAR) or "/"


def under(root, path):
    """Join an absolute board path such as ``/proc/meminfo`` onto ``root``."""
    return os.path.join(resolve_root(root), str(path).lstrip("/"))
