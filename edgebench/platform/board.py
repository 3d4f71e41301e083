"""Which Jetson this is: model, SoC and GPU architecture, L4T release and JetPack version.

Sources, all read under the filesystem root (never a hard-coded ``/``):

* ``/proc/device-tree/model`` -- the board's name, a NUL-terminated string
  ("NVIDIA Jetson Nano Developer Kit", "Jetson-AGX" on AGX Xavier).
* ``/proc/device-tree/compatible`` -- NUL-separated list whose last entry names the SoC
  ("nvidia,tegra210"); ``/sys/module/tegra_fuse/parameters/tegra_chip_id`` as a fallback.
* ``/etc/nv_tegra_release`` -- "# R32 (release), REVISION: 7.1, GCID: ..., BOARD: t210ref, ...";
  the dpkg version of ``nvidia-l4t-core`` when that file is missing (containers).
* JetPack is *derived*: no file on the board states it, except the version of the
  ``nvidia-jetpack`` meta-package when it is installed.

Facts here come from public references (jetson-stats' L4T table, NVIDIA's JetPack archive as quoted
by several projects, the TensorRT hardware precision matrix); rows that sources disagree on carry
a note instead of being silently trusted.
"""
import re

from edgebench.platform import sysfs
from edgebench.platform.versions import dpkg_version

MODEL_PATHS = ("/proc/device-tree/model", "/sys/firmware/devicetree/base/model")
COMPATIBLE_PATHS = ("/proc/device-tree/compatible", "/sys/firmware/devicetree/base/compatible")
TEGRA_RELEASE_PATH = "/etc/nv_tegra_release"
CHIP_ID_PATH = "/sys/module/tegra_fuse/parameters/tegra_chip_id"

# L4T release -> (JetPack version, note). A note means the row is not settled: sources disagree or
# only one was found. Sources: jetson-stats jtop/core/jetson_variables.py (NVIDIA_JETPACK),
# justincdavis/fastnvmetrics (L4T_TO_JETPACK), dusty-nv/jetson-containers, and several project
# READMEs quoting NVIDIA's JetPack archive (developer.nvidia.com/embedded/jetpack-archive).
JETPACK_BY_L4T = {
    "32.4.3": ("4.4", None),
    "32.4.4": ("4.4.1", None),
    "32.5.0": ("4.5", None),
    "32.5.1": ("4.5.1", None),
    "32.5.2": ("4.5.1", "only jetson-stats lists 32.5.2 (as 4.5.1)"),
    "32.6.1": ("4.6", None),
    "32.7.1": ("4.6.1", None),
    "32.7.2": ("4.6.2", None),
    "32.7.3": ("4.6.3", None),
    "32.7.4": ("4.6.4", None),
    "32.7.5": ("4.6.5", None),
    "32.7.6": ("4.6.6", "listed by jetson-stats and fastnvmetrics only"),
    "34.1.0": ("5.0 DP", None),
    "34.1.1": ("5.0.1 DP", None),
    "35.1.0": ("5.0.2", None),
    "35.2.1": ("5.1", None),
    "35.3.1": ("5.1.1", None),
    "35.4.1": ("5.1.2", None),
    "35.5.0": ("5.1.3", None),
    "35.6.0": ("5.1.4", None),
    "35.6.1": ("5.1.5", "sources disagree whether JetPack 5.1.5 is L4T 35.6.1 or 35.6.2"),
    "35.6.2": ("5.1.5", "sources disagree whether JetPack 5.1.5 is L4T 35.6.1 or 35.6.2"),
    "36.2.0": ("6.0 DP", None),
    "36.3.0": ("6.0", None),
    "36.4.0": ("6.1", None),
    "36.4.2": ("6.1 (rev. 1)", "sources disagree: 6.1 rev. 1, 6.1.1 or 6.2"),
    "36.4.3": ("6.2", None),
    "36.4.4": ("6.2.1", None),
    "36.5.0": ("6.2.2", "one source only (a project table read off NVIDIA's JetPack archive)"),
    # JetPack 7 (Thor, Ubuntu 24.04): JetPack 7.0 is Jetson Linux 38.2 (NVIDIA's Thor developer kit
    # guide; jetson-stats patches for Thor add 38.2.0/38.2.1 -> 7.0); 38.4 and 39.2 from one table.
    "38.2.0": ("7.0", None),
    "38.2.1": ("7.0", None),
    "38.4.0": ("7.1", "one source only (a project table read off NVIDIA's JetPack archive)"),
    "39.2.0": ("7.2", "one source only (a project table read off NVIDIA's JetPack archive)"),
}


class Soc(object):
    """A Tegra SoC and what its integrated GPU can do fast.

    ``fast_fp16``/``fast_int8`` follow the TensorRT hardware precision matrix (compute capability
    5.3 and 6.2: FP16 yes, INT8 no; 7.2 and 8.7: both, with tensor cores) and MathWorks' GPU Coder
    notes ("compute capability of 6.2 does not support INT8 precision"). torch2trt's docs table
    marks TX2 INT8 as supported; we follow NVIDIA's matrix (no DP4A on sm_62). Thor's Blackwell GPU
    reports compute capability 11.0 under CUDA 13 (deviceQuery in NVIDIA's Jetson AGX Thor developer
    kit guide, docs.nvidia.com/jetson/agx-thor-devkit/user-guide/latest/setup_cuda.html; it was
    sm_101 before CUDA 13 renumbered it) and has fifth-generation tensor cores: fp16 and int8 fast
    (and fp8/fp4, which edgebench does not build).
    """

    def __init__(self, name, gpu_arch, compute_capability, fast_fp16, fast_int8, chip_id):
        self.name = name
        self.gpu_arch = gpu_arch
        self.compute_capability = compute_capability
        self.fast_fp16 = fast_fp16
        self.fast_int8 = fast_int8
        self.chip_id = chip_id

    @property
    def sm(self):
        return "sm_" + self.compute_capability.replace(".", "")


SOCS = {
    "tegra210": Soc("tegra210", "Maxwell", "5.3", True, False, 0x21),  # TX1, Nano
    "tegra186": Soc("tegra186", "Pascal", "6.2", True, False, 0x18),  # TX2, TX2 NX
    "tegra194": Soc("tegra194", "Volta", "7.2", True, True, 0x19),  # AGX Xavier, Xavier NX
    "tegra234": Soc("tegra234", "Ampere", "8.7", True, True, 0x23),  # AGX Orin, Orin NX/Nano
    # AGX Thor (JetPack 7); its tegra_chip_id was not found in a public source, so none is matched
    "tegra264": Soc("tegra264", "Blackwell", "11.0", True, True, None),
}
SOC_BY_CHIP_ID = {soc.chip_id: soc.name for soc in SOCS.values() if soc.chip_id is not None}

# (substring of the lower-cased model string, or a tuple of substrings that must all appear, board
# name); first match wins, so the more specific spellings come first. "Jetson-AGX" is what AGX
# Xavier's device tree calls itself; the Orin Nano Super developer kit's model string is "NVIDIA
# Jetson Orin Nano Engineering Reference Developer Kit Super" (as users' `cat
# /proc/device-tree/model` shows), Thor's "NVIDIA Jetson AGX Thor Developer Kit".
BOARD_NAMES = (
    ("agx thor", "Jetson AGX Thor"),
    ("thor", "Jetson AGX Thor"),
    (("orin nano", "super"), "Jetson Orin Nano Super"),
    ("orin nano", "Jetson Orin Nano"),
    ("orin nx", "Jetson Orin NX"),
    ("agx orin", "Jetson AGX Orin"),
    ("orin", "Jetson AGX Orin"),
    ("xavier nx", "Jetson Xavier NX"),
    ("agx xavier", "Jetson AGX Xavier"),
    ("jetson-agx", "Jetson AGX Xavier"),
    ("xavier", "Jetson AGX Xavier"),
    ("tx2 nx", "Jetson TX2 NX"),
    ("tx2", "Jetson TX2"),
    ("quill", "Jetson TX2"),
    ("lanai", "Jetson TX2 NX"),
    ("tx1", "Jetson TX1"),
    ("nano", "Jetson Nano"),
)
SOC_BY_BOARD = {
    "Jetson TX1": "tegra210",
    "Jetson Nano": "tegra210",
    "Jetson TX2": "tegra186",
    "Jetson TX2 NX": "tegra186",
    "Jetson AGX Xavier": "tegra194",
    "Jetson Xavier NX": "tegra194",
    "Jetson AGX Orin": "tegra234",
    "Jetson Orin NX": "tegra234",
    "Jetson Orin Nano": "tegra234",
    "Jetson Orin Nano Super": "tegra234",
    "Jetson AGX Thor": "tegra264",
}

_RELEASE_RE = re.compile(r"#\s*R(\d+)\s*\(release\)\s*,\s*REVISION:\s*(\d+(?:\.\d+)*)", re.IGNORECASE)
_FIELD_RE = re.compile(r"\b(GCID|BOARD|EABI|DATE|KERNEL_VARIANT):\s*([^,\n]+)")


def normalize_l4t(version):
    """``"32.7.1"``, ``"32.5"``, ``"R32.7"`` -> three parts (``"32.5.0"``); None if not a version."""
    if not version:
        return None
    match = re.match(r"^[Rr]?(\d+)(?:\.(\d+))?(?:\.(\d+))?", str(version).strip())
    if not match:
        return None
    return ".".join(part or "0" for part in match.groups())


def parse_tegra_release(text):
    """Parse ``/etc/nv_tegra_release``; return ``{"l4t", "release", "revision", "board", ...}`` or None.

    >>> parse_tegra_release("# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, "
    ...                     "EABI: aarch64, DATE: Sat Feb 19 17:05:08 UTC 2022")["l4t"]
    '32.7.1'
    """
    if not text:
        return None
    match = _RELEASE_RE.search(text)
    if not match:
        return None
    release, revision = match.group(1), match.group(2)
    info = {"l4t": normalize_l4t("{}.{}".format(release, revision)), "release": "R" + release,
            "revision": revision}
    for key, value in _FIELD_RE.findall(text):
        info.setdefault(key.lower(), value.strip())
    return info


def jetpack_for_l4t(l4t):
    """``(jetpack, note)`` for an L4T release; ``(None, reason)`` when it is not in the table."""
    key = normalize_l4t(l4t)
    if key is None:
        return None, "no L4T release to derive JetPack from"
    if key in JETPACK_BY_L4T:
        return JETPACK_BY_L4T[key]
    return None, "L4T {} is not in edgebench's JetPack table".format(key)


def read_model(root=None):
    """The device-tree model string, or None when there is no device tree (x86 hosts)."""
    for path in MODEL_PATHS:
        text = sysfs.read_text(root, path)
        if text:
            return text.split("\x00")[0].strip()
    return None


def read_compatible(root=None):
    """The device-tree ``compatible`` entries (``["nvidia,p3450-0000", ..., "nvidia,tegra210"]``)."""
    for path in COMPATIBLE_PATHS:
        text = sysfs.read_text(root, path)
        if text:
            return [entry.strip() for entry in text.split("\x00") if entry.strip()]
    return []


def board_name(model):
    """Normalized board name from a model string ("Jetson Nano"); None if it names no Jetson."""
    if not model:
        return None
    lowered = model.lower()
    for needle, name in BOARD_NAMES:
        needles = needle if isinstance(needle, tuple) else (needle,)
        if all(part in lowered for part in needles):
            return name
    return None


def detect_soc(root=None, model=None, tegra_release=None):
    """``(soc_name, source)``: the Tegra SoC of this board, or ``(None, None)``."""
    for entry in read_compatible(root):
        match = re.search(r"tegra(\d{3})", entry)
        if match and "tegra" + match.group(1) in SOCS:
            return "tegra" + match.group(1), "/proc/device-tree/compatible"
    chip = sysfs.read_text(root, CHIP_ID_PATH)
    if chip:
        try:
            chip_id = int(chip, 0)
        except ValueError:
            chip_id = None
        if chip_id in SOC_BY_CHIP_ID:
            return SOC_BY_CHIP_ID[chip_id], CHIP_ID_PATH
    name = board_name(model)
    if name in SOC_BY_BOARD:
        return SOC_BY_BOARD[name], "/proc/device-tree/model"
    if tegra_release and tegra_release.get("board", "").startswith("t210"):
        return "tegra210", TEGRA_RELEASE_PATH
    return None, None


def read_l4t(root=None):
    """``(release_info, source)`` where ``release_info`` is :func:`parse_tegra_release`'s dict."""
    info = parse_tegra_release(sysfs.read_text(root, TEGRA_RELEASE_PATH))
    if info:
        return info, TEGRA_RELEASE_PATH
    core = dpkg_version(root, "nvidia-l4t-core")
    if core:
        l4t = normalize_l4t(core.split("-")[0])
        if l4t:
            return {"l4t": l4t, "release": "R" + l4t.split(".")[0], "revision": None}, (
                "dpkg nvidia-l4t-core " + core)
    return None, None


def identify_board(root=None):
    """The static identity of the board (no subprocesses), or None when this is not a Jetson.

    Keys: ``model``, ``name``, ``compatible``, ``soc``, ``soc_source``, ``gpu_arch``,
    ``compute_capability``, ``fast_fp16``, ``fast_int8``, ``precision_source``, ``l4t``,
    ``l4t_source``, ``l4t_board``, ``jetpack``, ``jetpack_source``, ``jetpack_note``.
    """
    model = read_model(root)
    release, l4t_source = read_l4t(root)
    soc_name, soc_source = detect_soc(root, model, release)
    name = board_name(model)
    if not (release or soc_name or name):
        return None
    soc = SOCS.get(soc_name)
    jetpack_meta = dpkg_version(root, "nvidia-jetpack")
    if jetpack_meta:
        jetpack, jetpack_note = jetpack_meta.split("-")[0], None
        jetpack_source = "dpkg nvidia-jetpack " + jetpack_meta
    else:
        jetpack, jetpack_note = jetpack_for_l4t(release["l4t"] if release else None)
        jetpack_source = "L4T table" if jetpack else None
    if soc:
        precision_source = ("GPU architecture table: {} {} ({}), per the TensorRT hardware precision "
                            "matrix".format(soc.gpu_arch, soc.sm, soc.name))
    else:
        precision_source = "unknown SoC: no compatible string, chip id or known model name"
    return {
        "model": model,
        "name": name or model or "unknown Jetson",
        "compatible": read_compatible(root),
        "soc": soc_name,
        "soc_source": soc_source,
        "gpu_arch": soc.gpu_arch if soc else None,
        "compute_capability": soc.compute_capability if soc else None,
        "fast_fp16": soc.fast_fp16 if soc else None,
        "fast_int8": soc.fast_int8 if soc else None,
        "precision_source": precision_source,
        "l4t": release["l4t"] if release else None,
        "l4t_source": l4t_source,
        "l4t_board": release.get("board") if release else None,
        "jetpack": jetpack,
        "jetpack_source": jetpack_source,
        "jetpack_note": jetpack_note,
    }


def detect_board(root=None, runner=None, query_power_mode=True):
    """The board as a JSON-safe dict, or None on a machine that is not a Jetson.

    Adds to :func:`identify_board` the live state that decides whether two runs are comparable:
    ``nvpmodel`` (``{"id", "name", "source", ...}`` or None), ``clocks_locked`` (True, False or None
    when unknown) and ``clocks`` (per-domain detail). ``runner`` runs ``nvpmodel -q`` (see
    :mod:`edgebench.platform.clocks`); pass ``query_power_mode=False`` to skip that subprocess.
    """
    from edgebench.platform import clocks

    board = identify_board(root)
    if board is None:
        return None
    board["nvpmodel"] = clocks.read_power_mode(root, runner=runner) if query_power_mode else None
    state = clocks.read_clock_state(root)
    board["clocks_locked"] = state["locked"]
    board["clocks"] = state
    return board
