"""The worker: a child process measures points (model x backend x precision x batch) one at a time.

Isolation is the point: an engine that crashes, aborts or runs out of memory at batch 64 takes
only its worker down, and the sweep records the point and goes on. The sweep gives one worker
consecutive points of one engine while the batch grows (``--reuse-worker``; by default one point per worker);
between points the worker frees the previous session, resets its peak-RSS mark and re-reads the
system baseline, so each point's memory columns are its own.

Protocol (JSON only, no pickle): the parent writes jobs (:class:`edgebench.sweep.protocol.WorkerJob`),
one JSON line each, to the worker's stdin and passes a pipe as ``--result-fd N``; the worker writes one
result line per job (:class:`~edgebench.sweep.protocol.WorkerResult`: measurement columns plus the timed
window) there, and exits 0 at stdin's end. If the worker dies without writing, the parent classifies
the death (signal, abort, out of memory).

Inside: apply the memory limit, record RSS and system memory, load the engine (timed), run it
once (first inference, reported apart), warm up for ``warmup_s`` and at least one iteration, then
time iterations until both ``iterations`` and ``duration_s`` are met, capped by ``max_duration_s``.

A job with ``build_only`` set prepares the engine into the engine cache instead (the backend's
``prepare``: ONNX Runtime's fp16 conversion or int8 quantization) and returns its build columns;
the sweep runs one such job per model and precision before the batch workers.
"""
import json
import os
import sys
import time

from edgebench._helpers import die_with_parent as _set_parent_death_signal
from edgebench._helpers import first_line, is_oom_text
from edgebench.results import schema

EXIT_OK = 0


def _apply_memory_limit(limit_mb):
    import resource

    limit = int(limit_mb) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))



def timed_loop(run, iterations, duration_s, max_duration_s, clock=time.perf_counter, on_tick=None,
               tick_s=0.05):
    """Call ``run`` until ``iterations`` calls AND ``duration_s`` seconds, or ``max_duration_s``.

    Returns (per-iteration durations in s, timed seconds, start, end). Each duration is the time
    between consecutive clock readings, so the durations add up exactly to the timed seconds; the
    loop itself adds one clock read and one list append per iteration.

    ``on_tick`` (memory sampling) is called between iterations about every ``tick_s`` seconds, on
    this thread: a sampling *thread* would wake up in the middle of inferences and take a core from
    the engine's threads (measured: 14% fewer images/s at batch 1 on two cores). The tick's own time
    is excluded from the durations, from the timed seconds and from the stop rule.
    """
    durations = []
    append = durations.append
    start = prev = clock()
    min_end = start + duration_s
    max_end = start + max_duration_s if max_duration_s else float("inf")
    next_tick = start + tick_s if on_tick is not None else float("inf")
    excluded = 0.0
    n = 0
    while True:
        run()
        now = clock()
        append(now - prev)
        n += 1
        if (n >= iterations and now >= min_end) or now >= max_end:
            prev = now
            break
        if now >= next_tick:
            on_tick()
            after = clock()
            excluded += after - now
            min_end += after - now
            max_end += after - now
            next_tick = after + tick_s
            now = after
        prev = now
    return durations, prev - start - excluded, start, prev


def warm_up(run, warmup_s, clock=time.perf_counter, durations=None, since=None):
    """Warm up; return the number of runs made here.

    With ``since`` (the clock reading when the engine's first run began) this is trtexec's rule: a run
    that starts less than ``warmup_s`` after the first run began is a warm-up run, so the first run
    counts towards the warm-up time and a model slower than ``warmup_s`` needs no run here
    (trtexec: TensorRT samples/common/sampleInference.cpp ``inferenceLoop``, ``--warmUp`` default 200 ms).
    Without it, the warm-up starts now and runs at least once.

    ``durations`` (a list), when given, gets each run's duration in seconds.
    """
    prev = clock()
    start = prev if since is None else since
    n = 0
    while (since is None and n == 0) or prev - start < warmup_s:
        run()
        n += 1
        now = clock()
        if durations is not None:
            durations.append(now - prev)
        prev = now
    return n


def _failure(exc):
    """(status, error) of an exception escaping an engine."""
    from edgebench.errors import EdgebenchError, UnsupportedPrecision

    if isinstance(exc, UnsupportedPrecision):
        return schema.STATUS_UNSUPPORTED, str(exc)
    if isinstance(exc, MemoryError):
        return schema.STATUS_OOM, "out of memory: {}".format(str(exc) or "allocation failed")
    if isinstance(exc, EdgebenchError):
        return (schema.STATUS_OOM if is_oom_text(str(exc)) else schema.STATUS_ERROR), str(exc)
    text = "{}: {}".format(type(exc).__name__, first_line(exc, width=500, default=""))
    return (schema.STATUS_OOM if is_oom_text(text) else schema.STATUS_ERROR), text[:500]


def prepare_engine(job):
    """Build the job's engine into the cache in this process; return the flat result dict."""
    from edgebench.engines import get_backend
    from edgebench.engines.base import EngineSpec
    from edgebench.platform.memory import read_process_memory

    result = {}
    try:
        result.update(get_backend(job.backend).prepare(EngineSpec.from_dict(job.engine)))
        result["status"] = schema.STATUS_OK
    except Exception as exc:  # MemoryError included: the build's failure is the points' failure
        result["status"], result["error"] = _failure(exc)
    result["peak_rss_mb"] = read_process_memory()["peak_rss_mb"]
    return result


def measure(job, start_rss_mb=None):
    """Measure one point (a WorkerJob) in this process; return the flat result dict (never raises for
    engine errors).

    ``start_rss_mb`` (a reused worker: the RSS it had before its first point) keeps the baselines what a
    fresh worker reads: ``baseline_rss_mb`` is that start-up RSS, and ``system_used_before_mb`` is the
    system reading less what this worker holds above it (the backend's imports, the freed engine's
    leftovers), so ``system_used_peak_mb - system_used_before_mb`` means the same in both modes."""
    from edgebench.engines import get_backend
    from edgebench.engines.base import EngineSpec
    from edgebench.platform.cpuload import OtherLoad
    from edgebench.platform.memory import PeakTracker, read_process_memory, system_used_mb
    from edgebench.sweep.stats import latency_stats, samples_ms

    root = job.root
    result = {"memory_limit_mb": job.memory_limit_mb}
    rss_mb = read_process_memory()["rss_mb"]
    before_mb = system_used_mb(root)[0]
    if start_rss_mb is not None and rss_mb is not None:
        if before_mb is not None:
            before_mb -= max(0.0, rss_mb - start_rss_mb)
        rss_mb = start_rss_mb
    result["baseline_rss_mb"] = rss_mb
    result["system_used_before_mb"] = before_mb
    spec = EngineSpec.from_dict(job.engine)
    session = None
    try:
        backend = get_backend(job.backend)
        t0 = time.perf_counter()
        session = backend.load(spec)
        result["load_s"] = time.perf_counter() - t0
        result.update(session.info.columns())
        result["calibration_fingerprint"] = session.info.calibration_fingerprint
        run = session.run
        first_start = time.perf_counter()
        run()
        result["first_run_ms"] = (time.perf_counter() - first_start) * 1e3
        tracker = PeakTracker(root)
        tracker.sample()
        warmup_durations = []
        result["warmup_iterations"] = warm_up(run, float(job.warmup_s), durations=warmup_durations,
                                              since=first_start)
        tracker.sample()
        session.begin_timed_window()
        other = OtherLoad(root)
        other.start()
        durations, wall_s, start, end = timed_loop(
            run, int(job.iterations), float(job.duration_s), job.max_duration_s,
            on_tick=tracker.sample, tick_s=float(job.memory_interval_s or 0.05),
        )
        result["other_cpu_load"] = other.stop()
        peak = tracker.sample()
        result.update(latency_stats(durations, spec.batch_size, wall_s, float(job.unstable_cv)))
        result["latencies_ms"] = samples_ms(durations)  # the stored samples the statistics came from
        result["warmup_latencies_ms"] = samples_ms(warmup_durations)
        result.update(session.extra_columns())
        result["system_used_peak_mb"] = peak
        result["nvmap_used_peak_mb"] = tracker.nvmap_peak_mb
        result["window_start_s"] = start
        result["window_end_s"] = end
        result["images"] = spec.batch_size * len(durations)
        if len(durations) < int(job.iterations):
            extra = "stopped by --max-duration after {} iterations (fewer than --iterations {})".format(
                len(durations), job.iterations
            )
            result["note"] = "; ".join(n for n in (result.get("note"), extra) if n)
        result["status"] = schema.STATUS_OK
    except Exception as exc:  # engine errors, and vendor exceptions that escaped their backend: record
        result["status"], result["error"] = _failure(exc)
    finally:
        if session is not None:
            session.close()
    result["peak_rss_mb"] = read_process_memory()["peak_rss_mb"]
    return result


def _run_job(job, start_rss_mb=None):
    """One job's flat result dict; never raises (a failure is a status)."""
    try:
        return prepare_engine(job) if job.build_only else measure(job, start_rss_mb)
    except MemoryError:
        return {"status": schema.STATUS_OOM, "error": "out of memory while starting the worker"}
    except Exception as exc:  # e.g. an ImportError because a shared library could not be mapped
        text = "{}: {}".format(type(exc).__name__, exc)
        status = schema.STATUS_OOM if is_oom_text(text) else schema.STATUS_ERROR
        return {"status": status, "error": "worker failed to start: " + text[:400]}


def _release_memory():
    """Give the previous point's freed memory back to the kernel before the next point is measured:
    a collection, then glibc's ``malloc_trim(0)`` (absent off glibc: nothing to do)."""
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def main(argv=None):
    """Serve jobs: one JSON job per line on stdin, one JSON result per line on the result pipe.

    The parent sends the next job only after it has the previous result (and has stored it), so nothing
    of the parent's overlaps a timed loop. The worker leaves after stdin's end; it also leaves after its
    first result when it cannot reset its peak-RSS mark (no ``/proc/self/clear_refs``), because a second
    point's ``peak_rss_mb`` would then carry the first's peak; its result says so (``worker_reusable``).
    """
    import argparse

    parser = argparse.ArgumentParser(prog="edgebench-worker", description="measure points (internal)")
    parser.add_argument("--result-fd", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, default=None)
    args = parser.parse_args(argv)
    _set_parent_death_signal(args.parent_pid)
    from edgebench.platform.memory import reset_peak_rss
    from edgebench.sweep.protocol import WorkerJob

    out = os.fdopen(args.result_fd, "wb")
    limited = False
    start_rss_mb = None  # the first point's baseline RSS: what a fresh worker has before its engine
    points = 0
    reusable = reset_peak_rss()  # at start-up VmHWM is the current RSS anyway: this only asks the kernel
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            job = WorkerJob.from_json(line)
            if job.memory_limit_mb and not limited:
                _apply_memory_limit(job.memory_limit_mb)
                limited = True
            points += 1
            result = _run_job(job, start_rss_mb)
            if start_rss_mb is None:
                start_rss_mb = result.get("baseline_rss_mb")
            if not job.build_only:
                result["worker_point"] = points
            result["worker_reusable"] = reusable
            # one line: json.dumps escapes newlines inside strings; the parent checks it (WorkerResult.from_json)
            out.write(json.dumps(result, allow_nan=True).encode("utf-8") + b"\n")
            out.flush()
            if not reusable:
                break
            _release_memory()
            reset_peak_rss()  # VmHWM back to the current RSS, so the next point's peak is its own
    finally:
        out.close()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
