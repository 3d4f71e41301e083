"""Run a sweep point by point, each point committed at once.

A worker process measures consecutive points of one engine (model, backend, precision) while the
batch grows (:func:`reuses_worker`); a new one starts when the batch shrinks, the engine changes or
the previous point was not ``ok``, and for every point unless the plan has ``reuse_worker``
(``--reuse-worker``).

:class:`WorkerProcess` starts ``python -m edgebench.sweep.worker`` in its own session, sends each job
as a JSON line on stdin, reads each JSON result line from a dedicated pipe (stdout stays free for
libraries that print), and classifies a death without a result: killed by the kernel's OOM killer (only with evidence:
:mod:`edgebench.sweep.oom`), killed by SIGKILL from outside, aborted on a failed allocation, or crashed.

``Sweep`` turns a validated plan into stored measurement rows; the caller owns the store and the
progress display (callbacks), so the CLI and the agent share it.
"""
import hashlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

from edgebench._helpers import is_oom_text, signal_name, utc_now
from edgebench.engines.base import EngineOptions, EngineSpec
from edgebench.results import schema
from edgebench.sweep import oom
from edgebench.sweep.protocol import ProtocolError, WorkerJob, WorkerResult

WORKER_MODULE = "edgebench.sweep.worker"  # run as python -m; the agent finds its workers by it
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _tail(text, lines=3, width=400):
    kept = [ln.strip() for ln in text.strip().splitlines() if ln.strip()][-lines:]
    return " | ".join(kept)[-width:]


# glibc's default mmap threshold, pinned in every worker. Per the glibc manual (Malloc Tunable Parameters,
# M_MMAP_THRESHOLD): unset, it starts at 128 KiB and glibc adjusts it to the program's allocation pattern
# (mallopt(3): upwards, to the size of a large block freed); set, it stays fixed; the environment variable
# MALLOC_MMAP_THRESHOLD_ sets it at process start. Left dynamic, which of a worker's allocations live on the
# heap (and stay in its RSS after a free) depends on what the process did before: a reused worker's
# resnet18 batch 8 peaked at 231-306 MB against a fresh worker's steady 270 MB. Pinned, the two agree.
MMAP_THRESHOLD_BYTES = 128 * 1024


def _worker_env(memory_limit_mb):
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = _PACKAGE_PARENT + (os.pathsep + path if path else "")
    env.setdefault("MALLOC_MMAP_THRESHOLD_", str(MMAP_THRESHOLD_BYTES))
    if memory_limit_mb:
        # glibc reserves 64 MB of address space per malloc arena and thread; under an address-space
        # limit that reservation, not real use, would fail first.
        env.setdefault("MALLOC_ARENA_MAX", "2")
    return env


def classify_death(returncode, stderr_text, memory_limit_mb, oom_evidence=None):
    """(status, error) for a worker that exited without writing a result (``oom_evidence``: what shows
    the kernel's OOM killer killed it, from :func:`edgebench.sweep.oom.evidence`)."""
    oom_text = is_oom_text(stderr_text)
    tail = _tail(stderr_text)
    last = "; last output: " + tail if tail else ""
    if returncode is not None and returncode < 0:
        name = signal_name(-returncode)
        if -returncode == signal.SIGKILL and oom_evidence:
            return schema.STATUS_OOM, "worker killed by the kernel's out-of-memory killer ({}){}".format(
                oom_evidence, last)
        if -returncode == signal.SIGKILL:
            return schema.STATUS_KILLED, ("worker killed by SIGKILL with no sign of the out-of-memory killer (its "
                                          "counters and the kernel log say nothing): a user, a supervisor or a "
                                          "watchdog killed it" + last)
        if oom_text:
            return schema.STATUS_OOM, "worker died from {} after a failed allocation: {}".format(name, tail)
        return schema.STATUS_CRASHED, "worker died from {}{}".format(name, ": " + tail if tail else "")
    if oom_text:
        return schema.STATUS_OOM, "worker ran out of memory: {}".format(tail)
    return (
        schema.STATUS_CRASHED,
        "worker exited with status {} without a result{}".format(returncode, ": " + tail if tail else ""),
    )


class WorkerProcess(object):
    """A worker process that measures jobs one at a time (one JSON line each way).

    ``run(job, timeout_s)`` always returns a WorkerResult: the worker's, or the classified death of a
    worker that died without answering (then the process is gone and ``alive`` is False). A timeout
    kills the worker. ``close()`` ends it (stdin's end; killed if it does not leave).
    """

    def __init__(self, memory_limit_mb=None, on_start=None):
        self.memory_limit_mb = memory_limit_mb
        self.proc = None
        self.jobs = 0
        self._rfd = None
        self._buffer = b""
        self._stderr = tempfile.TemporaryFile()
        rfd, wfd = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE, "--result-fd", str(wfd),
                 "--parent-pid", str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
                pass_fds=(wfd,),
                env=_worker_env(memory_limit_mb),
                start_new_session=True,  # Ctrl-C reaches the sweep, which then stops the worker itself
            )
        except OSError:
            os.close(rfd)
            os.close(wfd)
            self._stderr.close()
            raise
        os.close(wfd)
        self._rfd = rfd
        if on_start:
            on_start(self.proc)

    @property
    def alive(self):
        return self.proc is not None and self._rfd is not None and self.proc.poll() is None

    def _read_line(self, deadline):
        """The next result line, b"" at the pipe's end, None at the deadline."""
        while b"\n" not in self._buffer:
            wait = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            if deadline is not None and wait == 0.0:
                return None
            ready, _, _ = select.select([self._rfd], [], [], wait)
            if ready:
                data = os.read(self._rfd, 1 << 16)
                if not data:
                    line, self._buffer = self._buffer, b""
                    return line
                self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _stderr_since(self, offset):
        self._stderr.seek(offset)
        return self._stderr.read().decode("utf-8", "replace")

    def run(self, job, timeout_s=None):
        if isinstance(job, dict):
            job = WorkerJob.from_json(json.dumps(job))
        self.jobs += 1
        stderr_at = os.fstat(self._stderr.fileno()).st_size
        oom_before = oom.kill_counts()
        try:
            try:
                self.proc.stdin.write(job.to_json().encode("utf-8") + b"\n")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass
            deadline = time.monotonic() + timeout_s if timeout_s else None
            raw = self._read_line(deadline)
            if raw is None:
                self.kill()
                self._stderr.close()
                return WorkerResult.failed(
                    schema.STATUS_TIMEOUT,
                    "no result within {:g} s; the worker was killed (raise --point-timeout)".format(timeout_s))
        except BaseException:
            self.kill()
            self._stderr.close()
            raise
        if raw:
            try:
                result = WorkerResult.from_json(raw.decode("utf-8", "replace"))
                if result.worker_reusable is False:
                    self.close()
                return result
            except ProtocolError as exc:
                if "schema does not know" in str(exc):  # a bug of ours: say so instead of dropping columns
                    return WorkerResult.failed(schema.STATUS_ERROR, "worker protocol: {}".format(exc))
        self.kill(wait_only=True)
        stderr_text = self._stderr_since(stderr_at)
        evidence = oom.evidence(self.proc.pid, oom_before) if self.proc.returncode == -signal.SIGKILL else None
        status, error = classify_death(self.proc.returncode, stderr_text, job.memory_limit_mb, evidence)
        self._stderr.close()
        return WorkerResult.failed(status, error)

    def kill(self, wait_only=False):
        """Kill the worker (or, ``wait_only``, wait for one that is leaving) and free its pipes."""
        if self.proc is not None:
            if not wait_only:
                try:
                    self.proc.kill()
                except OSError:
                    pass
            for stream in (self.proc.stdin,):
                try:
                    stream.close()
                except (OSError, BrokenPipeError):
                    pass
            self.proc.wait()
        self._release()

    def close(self, grace_s=10.0):
        """End the worker: stdin's end, then SIGKILL after ``grace_s`` if it has not left."""
        if self.proc is None or self._rfd is None:
            return
        try:
            self.proc.stdin.close()
        except (OSError, BrokenPipeError):
            pass
        try:
            self.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._release()
        self._stderr.close()

    def _release(self):
        """Close the result pipe (the worker's stderr file stays readable until the death is classified)."""
        if self._rfd is not None:
            os.close(self._rfd)
            self._rfd = None


def run_worker(job, timeout_s=None, on_start=None):
    """Measure one point (a WorkerJob, or its dict) in a fresh worker process; always returns a WorkerResult."""
    try:
        worker = WorkerProcess(job.get("memory_limit_mb") if isinstance(job, dict) else job.memory_limit_mb,
                               on_start)
    except OSError as exc:
        return WorkerResult.failed(schema.STATUS_CRASHED, "cannot start a worker: {}".format(exc))
    try:
        return worker.run(job, timeout_s)
    finally:
        worker.close()


def reuses_worker(previous, point, fresh_worker=False):
    """True when ``point`` (model_ref, precision, batch) may be measured by the worker that measured
    ``previous`` (model_ref, precision, batch, status): the same engine, a larger batch, and an ``ok``
    previous point. A smaller batch would run in memory the larger one left behind; after anything
    but ok the worker may be damaged (or is dead)."""
    if fresh_worker or previous is None:
        return False
    model_ref, precision, batch, status = previous
    return (model_ref, precision) == tuple(point[:2]) and point[2] > batch and status == schema.STATUS_OK


def env_key(environment):
    """Short fingerprint of the comparable part of the environment."""
    try:
        from edgebench.platform.environment import comparable_keys

        material = comparable_keys(environment)
    except Exception:  # a broken platform probe must not stop a sweep; fall back to the host
        material = {"host": environment.get("host"), "cpu": environment.get("cpu")}
    blob = json.dumps(material, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:12]


def collect_environment(root=None):
    try:
        from edgebench.platform.environment import collect_environment as collect

        env = collect(root)
    except Exception as exc:  # record what we can rather than fail the sweep
        import platform
        import socket

        env = {"host": socket.gethostname(), "python": platform.python_version(),
               "environment_error": "{}: {}".format(type(exc).__name__, exc)}
    from edgebench.engines import availability

    env["backends"] = dict((name, {"available": ok, "detail": detail}) for name, (ok, detail) in
                           availability().items())
    return env


def thermal_columns(before, after):
    """``temperature_max_c`` and ``throttled`` from thermal snapshots taken around a point."""
    if not before or not after:
        return {}
    from edgebench.platform.thermal import throttle_delta

    temps = [t for t in (before.get("max_temp_c"), after.get("max_temp_c")) if t is not None]
    delta = throttle_delta(before, after)
    has_counters = bool(before.get("oc_event_counts") or before.get("current_alarms"))
    return {
        "temperature_max_c": max(temps) if temps else None,
        "throttled": (1 if delta.get("throttled") else 0) if has_counters else None,
    }


class Sweep(object):
    """Measure every point of a plan whose models are already prepared.

    ``models`` maps each plan model reference to its PreparedModel. ``on_point(row)`` is called after
    each point is stored; ``on_start(point_key, index, total)`` before it is measured.
    """

    def __init__(self, plan, models, store, run_id, environment, backend, power=None):
        self.plan = plan
        self.models = models
        self.store = store
        self.run_id = run_id
        self.backend = backend
        self.power = power
        self.env_key = env_key(environment)
        self.current_process = None  # the live worker (or build) process, for callers that must kill it
        self.worker = None  # the WorkerProcess kept for the next point of the same engine
        self.worker_points = 0  # workers started for points (a reused one counts once)
        self._previous = None  # (model_ref, precision, batch, status) the kept worker measured last
        self._zones = None
        self.last_samples = (None, None)  # (timed, warm-up) samples in ms of the last measured point

    def thermal(self):
        """A thermal/throttle snapshot of the board (empty off a Jetson); never raises."""
        try:
            from edgebench.platform.thermal import sample_thermal, thermal_zones

            if self._zones is None:
                self._zones = thermal_zones(self.plan.root)
            return sample_thermal(self.plan.root, self._zones)
        except Exception:  # a sysfs oddity must not cost a measured point
            return None

    def job_for(self, prepared, precision, batch):
        plan = self.plan
        spec = EngineSpec(
            onnx_path=prepared.onnx_path,
            onnx_sha256=prepared.onnx_sha256,
            model=prepared.name,
            precision=precision,
            batch_size=batch,
            cache_dir=self.plan.cache_dir,
            threads=self.plan.threads,
            providers=self.plan.providers,
            options=EngineOptions(
                node_macs=prepared.node_macs,
                input_shape=list(prepared.input_shape),
                model_source=prepared.source,
                weights=prepared.weights,
                calib_data=plan.calib_data,
                calib_images=plan.calib_images,
                calib_algorithm=plan.calib_algorithm,
                layers=plan.layers,
                no_transfers=plan.no_transfers,
                shared_profile=plan.shared_profile,
                shared_profile_max=max(plan.batch_sizes),
                workspace_mb=plan.workspace_mb,
                tf32=plan.tf32,
                int8_fp16_fallback=plan.int8_fp16_fallback,
                trt_calib_algorithm=plan.trt_calib_algorithm,
                cuda_api=plan.cuda_api,
            ),
        )
        return WorkerJob(
            engine=spec.to_dict(),
            backend=self.backend,
            warmup_s=self.plan.warmup_s,
            iterations=self.plan.iterations,
            duration_s=self.plan.duration_s,
            max_duration_s=self.plan.max_duration_s,
            memory_limit_mb=self.plan.memory_limit_mb,
            root=self.plan.root,
            unstable_cv=self.plan.unstable_cv,
        )

    def base_row(self, prepared, precision, batch):
        return schema.empty_point(
            point_key=schema.point_key(prepared.name, self.backend, precision, batch),
            model=prepared.name,
            model_source=prepared.source,
            family=prepared.family,
            onnx_sha256=prepared.onnx_sha256,
            backend=self.backend,
            precision=precision,
            batch_size=batch,
            input_shape="x".join(str(d) for d in prepared.input_shape),
            env_key=self.env_key,
            params=prepared.params,
            macs=prepared.macs,
            gops=prepared.gops,
            top1=prepared.top1,
            top5=prepared.top5,
            top1_source=prepared.top1_source,
            memory_limit_mb=self.plan.memory_limit_mb,
        )

    def measured_accuracy(self, prepared, precision, calibration_fingerprint=None):
        """top1_measured/top5_measured from `edgebench accuracy` rows for this very engine, if any.

        The row must be for the same ONNX file, backend and precision; for int8 also for the same
        calibration data, since another calibration is another engine.
        """
        try:
            row = self.store.latest_accuracy(prepared.name, self.backend, precision, prepared.onnx_sha256)
        except Exception:  # an older store without the accuracy table: nothing measured
            return {}
        if not row:
            return {}
        if precision == "int8" and row.get("calibration_fingerprint") != calibration_fingerprint:
            return {}
        return {"top1_measured": row.get("top1"), "top5_measured": row.get("top5"),
                "accuracy_data": row.get("data_fingerprint")}

    def measure_point(self, model_ref, precision, batch):
        prepared = self.models[model_ref]
        row = self.base_row(prepared, precision, batch)
        row["started_at"] = utc_now()
        before = self.thermal()

        result = self.run_in_worker(self.job_for(prepared, precision, batch))
        row["finished_at"] = utc_now()
        row.update(thermal_columns(before, self.thermal()))
        window = result.window
        for key, value in result.columns.items():
            if value is not None:
                row[key] = value
        row["status"] = result.status
        row.update(self.measured_accuracy(prepared, precision, result.calibration_fingerprint))
        notes = [n for n in (row.get("note"),) if n] + list(prepared.notes)
        row["note"] = "; ".join(notes) if notes else None
        if self.power is not None and row["status"] == schema.STATUS_OK and window[0] is not None:
            row.update(self.power.summarize(window[0], window[1], window[2]))
        self.last_samples = (result.latencies_ms, result.warmup_latencies_ms)
        if row["status"] == schema.STATUS_OK:
            from edgebench.sweep.stats import stability_note

            row["stability_note"] = stability_note(row.get("latency_cv"), self.plan.unstable_cv,
                                                   row.get("other_cpu_load"), row.get("iterations"))
        return row

    def run_in_worker(self, job):
        """Run a point's job in the kept worker, starting one first when there is none (or it died)."""
        if self.worker is None or not self.worker.alive:
            self.close_worker()

            def remember(proc):
                self.current_process = proc

            try:
                self.worker = WorkerProcess(job.memory_limit_mb, remember)
            except OSError as exc:
                return WorkerResult.failed(schema.STATUS_CRASHED, "cannot start a worker: {}".format(exc))
            self.worker_points += 1
        return self.worker.run(job, self.plan.point_timeout_s)

    def close_worker(self):
        """End the kept worker, if any (the next point starts a fresh one)."""
        worker, self.worker = self.worker, None
        self._previous = None
        if worker is not None:
            worker.close()
        self.current_process = None

    def prepared_ahead(self, precision):
        """True when this backend prepares ``precision`` engines in a build process before the workers."""
        try:
            from edgebench.engines import backend_class

            return precision in backend_class(self.backend).prepared_ahead
        except Exception:  # not importable in the parent: the workers build as before
            return False

    def build(self, model_ref, precision, batch):
        """Prepare one model x precision's engine in a process of its own; return the WorkerResult."""
        job = self.job_for(self.models[model_ref], precision, batch)
        job.build_only = True

        def remember(proc):
            self.current_process = proc

        result = run_worker(job, self.plan.point_timeout_s, remember)
        self.current_process = None
        return result

    def _apply_build(self, row, build, first):
        """The build's columns on a point: ``build_s`` once (the first point), the cache hit after it."""
        if build is None:
            return row
        if build.status != schema.STATUS_OK:
            row.update(status=build.status, error="engine build: {}".format(build.columns.get("error")))
            return row
        if first:
            for name in ("build_s", "engine_cache_hit"):
                row[name] = build.columns.get(name)
        else:
            row["build_s"], row["engine_cache_hit"] = None, 1
        if build.columns.get("engine_size_mb") is not None:
            row["engine_size_mb"] = build.columns["engine_size_mb"]
        return row

    def run(self, on_start=None, on_point=None, skip=()):
        try:
            return self._run(on_start, on_point, skip)
        finally:
            self.close_worker()

    def _run(self, on_start, on_point, skip):
        points = self.plan.points()
        total = len(points)
        done = []
        builds = {}  # (model_ref, precision) -> WorkerResult of its build, None when not built ahead
        for index, (model_ref, precision, batch) in enumerate(points):
            key = schema.point_key(self.models[model_ref].name, self.backend, precision, batch)
            if key in skip:
                continue
            if on_start:
                on_start(key, index, total)
            self.last_samples = (None, None)
            if not reuses_worker(self._previous, (model_ref, precision, batch), not self.plan.reuse_worker):
                self.close_worker()  # before a build too: an idle worker must not hold memory meanwhile
            first = (model_ref, precision) not in builds
            if first:
                builds[(model_ref, precision)] = (
                    self.build(model_ref, precision, batch) if self.prepared_ahead(precision) else None)
            build = builds[(model_ref, precision)]
            if build is not None and build.status != schema.STATUS_OK:
                row = self.base_row(self.models[model_ref], precision, batch)
                row["started_at"] = row["finished_at"] = utc_now()
                row = self._apply_build(row, build, first)
            else:
                row = self._apply_build(self.measure_point(model_ref, precision, batch), build, first)
            # the worker waits for its next job meanwhile: the store write overlaps no timed loop
            self._previous = (model_ref, precision, batch, row["status"])
            row_id = self.store.add_point(self.run_id, row)
            latencies, warmup = self.last_samples
            if latencies and row["status"] == schema.STATUS_OK:
                self.store.add_latencies(row_id, self.run_id, key, latencies, warmup)
            done.append(row)
            if on_point:
                on_point(row)
        return done
