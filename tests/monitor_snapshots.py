"""Status snapshots for the monitor's render tests (the shape edgebench.monitor.snapshot documents)."""
import copy
import io

from edgebench.monitor.snapshot import empty_snapshot

ROWS = [
    {"run_id": 1, "point_key": "resnet18/onnxruntime/fp32/1", "model": "resnet18", "backend": "onnxruntime",
     "precision": "fp32", "batch_size": 1, "status": "ok", "error": None, "per_image_ms": 21.5,
     "images_per_s": 46.5, "latency_median_ms": 21.5, "latency_cv": 0.02, "stable": 1, "peak_rss_mb": 212.0,
     "system_used_peak_mb": 3100.0, "gross_power_w": 9.8, "net_power_w": 6.5, "energy_per_image_j": 0.21,
     "net_energy_per_image_j": 0.14, "simulated": 0, "temperature_max_c": 48.0, "finished_at": "2025-01-01T00:00:05Z"},
    {"run_id": 1, "point_key": "resnet18/onnxruntime/fp32/2", "model": "resnet18", "backend": "onnxruntime",
     "precision": "fp32", "batch_size": 2, "status": "oom", "error": "worker killed by SIGKILL",
     "per_image_ms": None, "images_per_s": None, "latency_median_ms": None, "latency_cv": None, "stable": None,
     "peak_rss_mb": None, "system_used_peak_mb": None, "gross_power_w": None, "net_power_w": None,
     "energy_per_image_j": None, "net_energy_per_image_j": None, "simulated": 0, "temperature_max_c": None,
     "finished_at": "2025-01-01T00:00:09Z"},
]

POWER = {
    "source": "ina3221 (auto: ina3221)", "url": "ina3221", "simulated": False, "board_rule": "VDD_IN",
    "rate_hz": 10.0, "board_w": 9.75, "board_history_w": [5.0, 6.0, 7.5, None, 9.75],
    "rails": [
        {"name": "VDD_IN", "power_w": 9.75, "history_w": [5.0, 6.0, 7.5, None, 9.75]},
        {"name": "VDD_CPU_GPU_CV", "power_w": 4.25, "history_w": [1.0, 2.0, 3.0, 4.0, 4.25]},
    ],
    "idle_w": 3.25, "idle_ci_w": 0.05, "idle_from": "measured before run", "net_w": 6.5, "error": None,
}

BOARD = {
    "read_at": "2025-01-01T00:00:10Z",
    "memory": {"used_mb": 3120.0, "total_mb": 7772.0, "available_mb": 4652.0, "nvmap_used_mb": 512.0,
               "swap_used_mb": 0.0},
    "temperatures_c": {"CPU-therm": 47.5, "GPU-therm": 45.0, "PMIC-Die": 100.0, "AO-therm": None},
    "max_temp_c": 47.5,
    "cpu": {"cores": 6, "cur_mhz_mean": 1420.0, "cur_mhz_max": 1420.0, "max_mhz": 1420.0, "governor": "schedutil"},
    "gpu": {"cur_mhz": 1109.0, "max_mhz": 1109.0, "load_pct": 87.0},
}


def running_snapshot():
    snap = empty_snapshot("/var/lib/edgebench", "/var/lib/edgebench/agent.sock")
    snap["agent"].update(running=True, pid=4242, state="running", uptime_s=125.0, started_at="2025-01-01T00:00:00Z",
                         max_attempts=3)
    snap["job"] = {
        "id": "20250101-000000-000001", "state": "active", "status": "running", "submitted_at": "2025-01-01T00:00:00Z",
        "user": "alice", "via": "socket", "models": ["resnet18"], "backend": "onnxruntime", "precisions": ["fp32"],
        "batch_sizes": [1, 2, 4], "points_total": 3, "points_done": 2, "run_id": 1, "attempts": 1,
        "started_at": "2025-01-01T00:00:01Z", "finished_at": None, "current_point": "resnet18/onnxruntime/fp32/4",
        "reason": None, "phase": "measuring", "current_point_index": 2, "current_point_elapsed_s": 3.2,
        "elapsed_s": 12.0, "eta_s": 4.0, "last_point": ROWS[1],
    }
    snap["queue"] = [{"id": "20250101-000100-000002", "status": "queued", "points_total": 7}]
    snap["last_results"] = copy.deepcopy(ROWS)
    snap["sensors"] = {"board": copy.deepcopy(BOARD), "power": copy.deepcopy(POWER)}
    return snap


def capture(renderable, width=110, height=60):
    from rich.console import Console

    console = Console(width=width, height=height, force_terminal=True, color_system=None, file=io.StringIO(),
                      legacy_windows=False)
    console.print(renderable)
    return console.file.getvalue()
