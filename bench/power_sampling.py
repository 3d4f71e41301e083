"""Power-sampling benchmarks: prints figures and ratios against a baseline run in the same process.

    python bench/power_sampling.py [--seconds 3]

1. sysfs reads/s from a fake INA3221 tree: one fd kept open and re-read with ``os.pread`` vs
   opening, reading and closing the file for every read (what jetson-stats does).
   Goal: >= 3x the reopen baseline and >= 20,000 reads/s.
2. PPK2 decode throughput (unpack, counter gaps, calibrated current) on one core.
   Goal: >= 2,000,000 samples/s.
3. CPU cost of the sampler thread at 1 kHz on the fake tree (process CPU time minus an idle
   baseline of the same length). Goal: <= 3% of one core.

No assertions: timings depend on the machine; tests never time anything.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from edgebench.power.ina3221 import SysfsValue  # noqa: E402
from edgebench.power.ppk2 import Modifiers, counter_steps, current_a, unpack_words  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(HERE), "tests", "fixtures", "nano_jp46")
POWER_FILE = "sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0/in_power0_input"


def fake_tree():
    root = tempfile.mkdtemp(prefix="edgebench-bench-")
    shutil.copytree(os.path.join(FIXTURE, "sys"), os.path.join(root, "sys"))
    return root


def reads_per_second(read, seconds):
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(1000):
            read()
        count += 1000
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def bench_sysfs(root, seconds):
    path = os.path.join(root, POWER_FILE)

    def reopen():
        with open(path, "rb") as handle:
            return int(handle.read().split()[0])

    value = SysfsValue(path)
    value.open()
    try:
        baseline = reads_per_second(reopen, seconds)
        pread = reads_per_second(value.read, seconds)
    finally:
        value.close()
    print("1. sysfs reads (fake INA3221 tree on {})".format(root))
    print("   reopen per read (baseline): {:>12,.0f} reads/s".format(baseline))
    print("   persistent fd + pread:      {:>12,.0f} reads/s   ratio {:.2f}x   (goal >= 3x and >= 20,000/s)".format(
        pread, pread / baseline))
    return pread, baseline


def bench_ppk2(seconds):
    n = 2000000
    idx = np.arange(n, dtype=np.uint32)
    rng = np.random.RandomState(0)
    ranges = rng.randint(0, 5, n).astype(np.uint32)
    raw = rng.randint(0, 16384, n).astype(np.uint32)
    buf = (raw | (ranges << 14) | ((idx % 64) << 18)).astype("<u4").tobytes()
    mods = Modifiers()

    def decode():
        r, g, c, _ = unpack_words(buf)
        steps = counter_steps(c)
        return current_a(r, g, mods, 3300.0), steps

    decode()
    runs = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        decode()
        runs += 1
    rate = runs * n / (time.perf_counter() - start)
    # baseline: the same decode one sample at a time in Python, on a slice
    words = np.frombuffer(buf, dtype="<u4")[:20000].tolist()
    start = time.perf_counter()
    for w in words:
        raw14, rng_ = w & 0x3FFF, min((w >> 14) & 7, 4)
        adc = raw14 * 4
        rwg = (adc - mods.o[rng_]) * (1.8 / 163840) / mods.r[rng_]
        _ = mods.ug[rng_] * (rwg * (mods.gs[rng_] * rwg + mods.gi[rng_]) + mods.s[rng_] * 3.3 + mods.i[rng_])
    per_sample = len(words) / (time.perf_counter() - start)
    print("2. PPK2 decode (unpack + counter gaps + calibrated current), one core")
    print("   per-sample Python (baseline): {:>12,.0f} samples/s".format(per_sample))
    print("   vectorised numpy:             {:>12,.0f} samples/s   ratio {:.0f}x   (goal >= 2,000,000/s)".format(
        rate, rate / per_sample))
    return rate


def bench_sampler_cpu(root, seconds):
    import scipy.signal  # noqa: F401  (the sampler imports it at start; keep it out of the figure)

    from edgebench.power.sampler import Sampler
    from edgebench.power.url import open_source

    cpu0 = time.process_time()
    time.sleep(seconds)
    idle_cpu = time.process_time() - cpu0
    cpu0 = time.process_time()
    for _ in range(1000):
        time.sleep(0.0005)
    sleep_us = (time.process_time() - cpu0) / 1000 * 1e6
    results = {}
    for url, kw in (("ina3221", {"root": root}), ("ina3221?rails=input", {"root": root}), ("sim://", {"root": "/"})):
        source = open_source(url, **kw)
        sampler = Sampler(source, rate_hz=1000.0)
        sampler.start()
        time.sleep(0.2)
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        time.sleep(seconds)
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        rate = sampler.achieved_rate_hz(seconds)
        sampler.stop()
        source.close()
        results[url] = (max(cpu - idle_cpu, 0.0) / wall, rate)
    print("3. sampler thread CPU at 1 kHz (process CPU minus an idle baseline of {:.3f} s CPU; one bare "
          "time.sleep() costs {:.0f} us CPU here)".format(idle_cpu, sleep_us))
    for url, (share, rate) in results.items():
        print("   {:<20} {:>6.2f}% of one core at {:>7.1f} samples/s   (goal <= 3%)".format(url, 100 * share, rate))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each timed run (default 2)")
    args = parser.parse_args(argv)
    root = fake_tree()
    try:
        bench_sysfs(root, args.seconds)
        bench_ppk2(args.seconds)
        bench_sampler_cpu(root, args.seconds)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
