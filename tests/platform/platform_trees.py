"""Builders of fake board trees for the platform tests (imported by ``conftest.py`` and the tests).

Two kinds of root:

* the checked-in trees under ``tests/fixtures/<board>/`` (read-only here: the power tests share them),
  via the ``fixture_root`` fixture;
* trees built per test under ``tmp_path`` from small declarative parts (model, release, CPUs, GPU,
  thermal zones, ...), via ``make_board``, in the spirit of jetson-stats' device profiles but rooted
  in ``tmp_path`` and passed to the readers as ``root`` (no env-var seam, no root privileges).
"""
import os

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")
FIXTURE_BOARDS = ("tx1_jp46", "nano_jp46", "xavier_nx_jp51", "agx_xavier_jp51", "orin_nx_jp6", "agx_orin_jp6")

NANO_MODEL = "NVIDIA Jetson Nano Developer Kit"
NANO_COMPATIBLE = ("nvidia,p3449-0000-b00+p3448-0000-b00", "nvidia,jetson-nano", "nvidia,tegra210")
R32_7_1 = ("# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, "
           "DATE: Sat Feb 19 17:05:08 UTC 2022\n")


def write_tree(root, files):
    """Write ``{board path: str or bytes}`` under ``root``; return ``root`` as a string."""
    root = str(root)
    for path, content in files.items():
        full = os.path.join(root, path.lstrip("/"))
        directory = os.path.dirname(full)
        if not os.path.isdir(directory):
            os.makedirs(directory)
        mode = "wb" if isinstance(content, bytes) else "w"
        with open(full, mode) as handle:
            handle.write(content)
    return root


def identity(model=NANO_MODEL, compatible=NANO_COMPATIBLE, release=R32_7_1):
    files = {}
    if model is not None:
        files["/proc/device-tree/model"] = (model + "\x00").encode()
    if compatible is not None:
        files["/proc/device-tree/compatible"] = "".join(entry + "\x00" for entry in compatible).encode()
    if release is not None:
        files["/etc/nv_tegra_release"] = release
    return files


def cpus(count=4, min_khz=102000, max_khz=1479000, offline=()):
    files = {}
    for index in range(count):
        base = "/sys/devices/system/cpu/cpu{}".format(index)
        if index:
            files[base + "/online"] = "0\n" if index in offline else "1\n"
        files[base + "/cpufreq/scaling_min_freq"] = "{}\n".format(min_khz)
        files[base + "/cpufreq/scaling_max_freq"] = "{}\n".format(max_khz)
        files[base + "/cpufreq/cpuinfo_max_freq"] = "{}\n".format(max_khz)
    return files


def gpu(name="57000000.gpu", min_hz=76800000, max_hz=921600000, load_path="/sys/devices/gpu.0/load", load=0):
    files = {
        "/sys/class/devfreq/{}/min_freq".format(name): "{}\n".format(min_hz),
        "/sys/class/devfreq/{}/max_freq".format(name): "{}\n".format(max_hz),
        "/sys/class/devfreq/{}/cur_freq".format(name): "{}\n".format(min_hz),
    }
    if load_path:
        files[load_path] = "{}\n".format(load)
    return files


def thermal(zones):
    files = {}
    for index, (zone_type, milli_c) in enumerate(zones):
        files["/sys/class/thermal/thermal_zone{}/type".format(index)] = zone_type + "\n"
        files["/sys/class/thermal/thermal_zone{}/temp".format(index)] = "{}\n".format(milli_c)
    return files


def meminfo(total_kb=4059756, free_kb=1867364, available_kb=2871208, nvmap_used_kb=None):
    lines = ["MemTotal:       {} kB".format(total_kb), "MemFree:        {} kB".format(free_kb)]
    if available_kb is not None:
        lines.append("MemAvailable:   {} kB".format(available_kb))
    lines += ["Buffers:           90112 kB", "Cached:          1035220 kB", "SwapTotal:       2029876 kB",
              "SwapFree:        2029876 kB"]
    if nvmap_used_kb is not None:
        lines += ["NvMapMemFree:      94784 kB", "NvMapMemUsed:   {} kB".format(nvmap_used_kb)]
    return {"/proc/meminfo": "\n".join(lines) + "\n"}


def nvpmodel(modes=((0, "MAXN"), (1, "5W")), default=0, current=0):
    conf = "".join("< POWER_MODEL ID={} NAME={} >\nCPU_ONLINE CORE_0 1\n\n".format(i, n) for i, n in modes)
    conf += "< PM_CONFIG DEFAULT={} >\n".format(default)
    files = {"/etc/nvpmodel.conf": conf}
    if current is not None:
        files["/var/lib/nvpmodel/status"] = "pmode:{:04d}\n".format(current)
    return files


def dpkg(packages):
    text = "".join("Package: {}\nStatus: install ok installed\nArchitecture: arm64\nVersion: {}\n\n".format(
        name, version) for name, version in packages)
    return {"/var/lib/dpkg/status": text}


def nano_files(**overrides):
    """A Jetson Nano on JetPack 4.6.1 with floating clocks; ``overrides`` replace whole parts."""
    parts = {
        "identity": identity(),
        "cpus": cpus(),
        "gpu": gpu(),
        "thermal": thermal([("CPU-therm", 39500), ("GPU-therm", 37000), ("PMIC-Die", 100000)]),
        "meminfo": meminfo(nvmap_used_kb=805068),
        "nvpmodel": nvpmodel(),
    }
    parts.update(overrides)
    files = {}
    for part in parts.values():
        files.update(part or {})
    return files


def calls(log):
    """Lines a fake binary appended to its log (one per call)."""
    return log.read_text().splitlines() if log.exists() else []
