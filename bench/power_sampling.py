"""Power-sampling benchmarks: prints figures and ratios against a baseline run in the same process.

    python bench/power_sampling.py [--seconds 3]

1. sysfs reads/s from a fake INA3221 tree: one fd kept open and re-read with ``os.pread`` vs
   opening, reading and closing the file for every read (what jetson-stats does).
   Goal: >= 3x the reopen baseline and >= 20,000 reads/s.
2. PPK2 decode throughput (unpack, counter gaps, calibrated current) on one core, and with the
   spike filter on a stream that switches range every 1000 samples. Goal: >= 2,000,000 samples/s.
3. CPU cost of the sampler thread at 1 kHz on fake trees (process CPU time / wall time), for one
   rail and for the board-input rule, through the old path (``Sampler(file_poll=False)``: the
   source's ``read()`` and a Sample per reading) and the new one (one ``pread`` per file into
   preallocated buffers, converted per batch), with the floor: a thread that only wakes at 1 kHz.
   Goal: <= 1% of one core (on a machine whose wake-ups are cheap: see the floor).

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
from edgebench.power.ppk2 import Modifiers, SpikeFilter, counter_steps, current_a, unpack_words  # noqa: E402

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


def _samples_per_second(decode, n, seconds):
    """Samples/s of ``decode()`` (``n`` samples a call), called repeatedly for ``seconds`` after one warm-up."""
    decode()
    runs = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        decode()
        runs += 1
    return runs * n / (time.perf_counter() - start)


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

    rate = _samples_per_second(decode, n, seconds)
    # baseline: the same decode one sample at a time in Python, on a slice
    words = np.frombuffer(buf, dtype="<u4")[:20000].tolist()
    start = time.perf_counter()
    for w in words:
        raw14, rng_ = w & 0x3FFF, min((w >> 14) & 7, 4)
        adc = raw14 * 4
        rwg = (adc - mods.o[rng_]) * (1.8 / 163840) / mods.r[rng_]
        _ = mods.ug[rng_] * (rwg * (mods.gs[rng_] * rwg + mods.gi[rng_]) + mods.s[rng_] * 3.3 + mods.i[rng_])
    per_sample = len(words) / (time.perf_counter() - start)
    # with Nordic's spike filter, on a stream whose range changes every ~1000 samples (a DUT's bursts)
    sticky = np.repeat(rng.randint(0, 4, n // 1000 + 1), 1000)[:n].astype(np.uint32)
    sticky_buf = (raw | (sticky << 14) | ((idx % 64) << 18)).astype("<u4").tobytes()

    def decode_filtered():
        r, g, c, _ = unpack_words(sticky_buf)
        counter_steps(c)
        return SpikeFilter().apply(current_a(r, g, mods, 3300.0), g)

    filtered_rate = _samples_per_second(decode_filtered, n, seconds)
    print("2. PPK2 decode (unpack + counter gaps + calibrated current), one core")
    print("   per-sample Python (baseline): {:>12,.0f} samples/s".format(per_sample))
    print("   vectorised numpy:             {:>12,.0f} samples/s   ratio {:.0f}x   (goal >= 2,000,000/s)".format(
        rate, rate / per_sample))
    print("   + spike filter (a range switch per 1000 samples): {:>12,.0f} samples/s".format(filtered_rate))
    return rate


def _cpu_share(seconds):
    """Process CPU time / wall time while the main thread sleeps ``seconds`` (after a 0.2 s settle)."""
    time.sleep(0.2)
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    time.sleep(seconds)
    return (time.process_time() - cpu0) / (time.perf_counter() - wall0)


def _thread_cpu_share(target, seconds):
    """Process CPU share (of one core) while ``target(stop_event)`` runs in a thread for ``seconds``."""
    import threading

    stop = threading.Event()
    thread = threading.Thread(target=target, args=(stop,), daemon=True)
    thread.start()
    share = _cpu_share(seconds)
    stop.set()
    thread.join()
    return share


def _paced_sleep(stop, rate_hz=1000.0):
    """The floor: a thread that only wakes at ``rate_hz`` (what any 1 kHz poller pays the kernel)."""
    clock, sleep, period = time.perf_counter, time.sleep, 1.0 / rate_hz
    next_t = clock()
    while not stop.is_set():
        delay = next_t - clock()
        if delay > 0:
            sleep(delay)
        next_t += period


def _sampler_share(url, root, file_poll, seconds):
    from edgebench.power.sampler import Sampler
    from edgebench.power.url import open_source

    source = open_source(url, root=root)
    sampler = Sampler(source, rate_hz=1000.0, file_poll=file_poll)
    sampler.start()
    share = _cpu_share(seconds)
    rate = sampler.achieved_rate_hz(seconds)
    sampler.stop()
    source.close()
    return share, rate


def orin_tree():
    """A copy of the AGX Orin fixture whose INA3221s update every 1 ms (the fixture says 7 ms)."""
    root = tempfile.mkdtemp(prefix="edgebench-bench-orin-")
    shutil.copytree(os.path.join(os.path.dirname(FIXTURE), "agx_orin_jp6", "sys"), os.path.join(root, "sys"))
    for dirpath, _, files in os.walk(root):
        if "update_interval" in files:
            with open(os.path.join(dirpath, "update_interval"), "w") as handle:
                handle.write("1\n")
    return root


def bench_sampler_cpu(root, seconds, rounds=2):
    import scipy.signal  # noqa: F401  (the sampler imports it at start; keep it out of the figure)

    orin = orin_tree()
    cases = (
        ("ina3221:POM_5V_IN", root, "Nano, one rail (1 file)"),
        ("ina3221", root, "Nano, all rails, board-input rule (3 files)"),
        ("ina3221?rails=input", orin, "AGX Orin board-input rule (3 rails, 6 files)"),
    )
    shares = {}
    try:
        for _ in range(rounds):  # interleaved, so a busy neighbour hurts old and new alike
            shares.setdefault("floor", []).append(_thread_cpu_share(_paced_sleep, seconds))
            for url, tree, _ in cases:
                for file_poll in (False, True):
                    share, rate = _sampler_share(url, tree, file_poll, seconds)
                    shares.setdefault((url, file_poll), []).append((share, rate))
    finally:
        shutil.rmtree(orin, ignore_errors=True)
    floor = float(np.median(shares["floor"]))
    print("3. sampler thread CPU at 1 kHz, process CPU / wall, median of {} interleaved runs of {:g} s".format(
        rounds, seconds))
    print("   floor: a thread that only wakes at 1 kHz costs {:.2f}% of one core here".format(100 * floor))
    print("   {:<46} {:>16} {:>16} {:>9} {:>12}".format(
        "case", "old: read()", "new: file_poll", "new/old", "new - floor"))
    results = {}
    for url, _, text in cases:
        old = float(np.median([s for s, _ in shares[(url, False)]]))
        new = float(np.median([s for s, _ in shares[(url, True)]]))
        rate = float(np.median([r for _, r in shares[(url, True)]]))
        results[url] = (old, new, floor)
        print("   {:<46} {:>6.2f}% {:>8} {:>6.2f}% {:>8} {:>8.2f} {:>+11.2f}%   (goal <= 1%)".format(
            text, 100 * old, "", 100 * new, "({:.0f}/s)".format(rate), new / old if old else float("nan"),
            100 * (new - floor)))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each timed run (default 2)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of the sampler CPU runs (default 2)")
    args = parser.parse_args(argv)
    root = fake_tree()
    try:
        bench_sysfs(root, args.seconds)
        bench_ppk2(args.seconds)
        bench_sampler_cpu(root, args.seconds, max(1, args.rounds))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
