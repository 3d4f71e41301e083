"""Helpers shared by the power tests (board fixture roots, file writing)."""
import os

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")
BOARDS = ("tx1_jp46", "nano_jp46", "xavier_nx_jp51", "agx_xavier_jp51", "orin_nx_jp6", "agx_orin_jp6")


def board_root(name):
    return os.path.join(FIXTURES, name)


def write(root, path, text):
    full = os.path.join(str(root), path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as handle:
        handle.write(text)
    return full
