"""CUDA for the TensorRT backend behind one small interface: pycuda, or cuda-python where pycuda is absent.

JetPack 4.6 and 5 users install pycuda (``pip3 install pycuda``); NVIDIA's own TensorRT 10 samples
moved to cuda-python (``cuda.cudart``), which is what JetPack 6 users tend to have. Both give the
same things here:

* a CUDA context made current in this process (pycuda: the device's *primary* context, the one
  TensorRT's runtime API uses; cuda-python: ``cudaSetDevice``);
* page-locked host arrays (numpy views), device buffers, one stream;
* events created with ``BLOCKING_SYNC`` (as trtexec does by default: the host sleeps instead of
  spinning while it waits, which keeps CPU power out of an energy measurement), recorded on the
  stream and read with ``elapsed_ms`` (``cudaEventElapsedTime``, about 0.5 us resolution);
* asynchronous copies on the stream and synchronous ones for untimed use.

``open_cuda(prefer=None)`` picks the first that imports (``prefer`` = "pycuda" or "cuda-python"
forces one). Vendor errors become EdgebenchError, and a failed allocation becomes MemoryError, so
the worker records ``oom``.
"""
import ctypes

from edgebench.errors import BackendUnavailable, EdgebenchError
from edgebench.platform.versions import importable

CHOICES = ("pycuda", "cuda-python")


class CudaUnavailable(BackendUnavailable):
    """No usable CUDA device or driver behind the bindings."""


class CudaApi(object):
    """The interface. ``device_name``, ``compute_capability`` ((major, minor)) describe GPU 0."""

    name = None

    def device_name(self):
        raise NotImplementedError

    def compute_capability(self):
        raise NotImplementedError

    def pinned_empty(self, shape, dtype):
        """A page-locked numpy array."""
        raise NotImplementedError

    def device_alloc(self, nbytes):
        """A device buffer: ``int(buf)`` is its address; ``free_all`` releases it."""
        raise NotImplementedError

    def device_free(self, buf):
        """Free one buffer from ``device_alloc`` now (``close`` frees the rest)."""
        raise NotImplementedError

    def htod(self, device, host):
        """Synchronous host-to-device copy of a numpy array (any host memory)."""
        raise NotImplementedError

    def create_stream(self):
        raise NotImplementedError

    def stream_handle(self, stream):
        raise NotImplementedError

    def create_event(self):
        raise NotImplementedError

    def record(self, event, stream):
        raise NotImplementedError

    def wait_event(self, event):
        raise NotImplementedError

    def elapsed_ms(self, start, end):
        raise NotImplementedError

    def sync_stream(self, stream):
        raise NotImplementedError

    def htod_async(self, device, host, stream):
        raise NotImplementedError

    def dtoh_async(self, host, device, stream):
        raise NotImplementedError

    def dtod_async(self, dst, src, nbytes, stream):
        raise NotImplementedError

    def close(self):
        """Free what was allocated here and release the context. Safe to call twice."""


def _oom(text):
    from edgebench.engines.trt_compat import looks_like_oom

    return looks_like_oom(text)


# ----------------------------------------------------------------------------- pycuda


class PycudaApi(CudaApi):
    name = "pycuda"

    def __init__(self, device_index=0):
        import pycuda.driver as cuda

        self._cuda = cuda
        self._allocations = []
        self._context = None
        try:
            cuda.init()
            self._device = cuda.Device(device_index)
            try:
                self._context = self._device.retain_primary_context()
                self._context.push()
            except AttributeError:  # pycuda older than 2017.1
                self._context = self._device.make_context()
        except cuda.Error as exc:
            raise CudaUnavailable("cannot open CUDA device {} with pycuda: {}; check that the GPU is visible "
                                 "(nvidia-smi or tegrastats) and that this user is in the video group".format(
                                     device_index, exc))
        self._blocking = cuda.event_flags.BLOCKING_SYNC

    def device_name(self):
        return str(self._device.name())

    def compute_capability(self):
        major, minor = self._device.compute_capability()
        return int(major), int(minor)

    def pinned_empty(self, shape, dtype):
        try:
            return self._cuda.pagelocked_empty(shape, dtype)
        except self._cuda.Error as exc:
            raise MemoryError("cannot allocate page-locked host memory {}: {}".format(shape, exc))

    def device_alloc(self, nbytes):
        try:
            buf = self._cuda.mem_alloc(max(1, int(nbytes)))
        except self._cuda.Error as exc:
            if isinstance(exc, getattr(self._cuda, "MemoryError", ())) or _oom(exc):
                raise MemoryError("cannot allocate {} bytes of device memory: {}".format(nbytes, exc))
            raise EdgebenchError("cuMemAlloc failed: {}".format(exc))
        self._allocations.append(buf)
        return buf

    def device_free(self, buf):
        if buf in self._allocations:
            self._allocations.remove(buf)
        buf.free()

    def htod(self, device, host):
        self._cuda.memcpy_htod(device, host)

    def create_stream(self):
        return self._cuda.Stream()

    def stream_handle(self, stream):
        return int(stream.handle)

    def create_event(self):
        return self._cuda.Event(self._blocking)

    def record(self, event, stream):
        event.record(stream)

    def wait_event(self, event):
        event.synchronize()

    def elapsed_ms(self, start, end):
        return end.time_since(start)

    def sync_stream(self, stream):
        stream.synchronize()

    def htod_async(self, device, host, stream):
        self._cuda.memcpy_htod_async(device, host, stream)

    def dtoh_async(self, host, device, stream):
        self._cuda.memcpy_dtoh_async(host, device, stream)

    def dtod_async(self, dst, src, nbytes, stream):
        self._cuda.memcpy_dtod_async(dst, src, int(nbytes), stream)

    def close(self):
        for buf in self._allocations:
            try:
                buf.free()
            except Exception:  # freeing after a failed context: nothing else to do
                pass
        self._allocations = []
        if self._context is not None:
            context, self._context = self._context, None
            try:
                context.pop()
                context.detach()
            except Exception:  # the context may already be gone after a CUDA error
                pass


# ----------------------------------------------------------------------------- cuda-python


def _import_cudart():
    try:
        from cuda.bindings import runtime as cudart  # cuda-python 12.6+
    except ImportError:
        from cuda import cudart  # older cuda-python
    return cudart


class _DeviceBuffer(object):
    """A cudaMalloc'd buffer; ``int(buf)`` is the address."""

    __slots__ = ("ptr", "nbytes")

    def __init__(self, ptr, nbytes):
        self.ptr = int(ptr)
        self.nbytes = nbytes

    def __int__(self):
        return self.ptr

    __index__ = __int__


class CudaPythonApi(CudaApi):
    name = "cuda-python"

    def __init__(self, device_index=0):
        self._rt = _import_cudart()
        self._device_index = device_index
        self._device = []
        self._host = []
        self._streams = []
        self._events = []
        self._call("cudaSetDevice", device_index)
        self._props = self._call("cudaGetDeviceProperties", device_index)

    def _call(self, fn, *args):
        rt = self._rt
        result = getattr(rt, fn)(*args)
        err, values = result[0], result[1:]
        if err != rt.cudaError_t.cudaSuccess:
            text = "{} failed: {}".format(fn, getattr(err, "name", err))
            if err == rt.cudaError_t.cudaErrorMemoryAllocation:
                raise MemoryError(text)
            raise EdgebenchError(text)
        if not values:
            return None
        return values[0] if len(values) == 1 else values

    def device_name(self):
        name = self._props.name
        if isinstance(name, bytes):
            name = name.split(b"\0", 1)[0].decode("utf-8", "replace")
        return str(name).strip()

    def compute_capability(self):
        return int(self._props.major), int(self._props.minor)

    def pinned_empty(self, shape, dtype):
        import numpy as np

        dtype = np.dtype(dtype)
        count = int(np.prod(shape)) if len(shape) else 1
        nbytes = max(1, count * dtype.itemsize)
        ptr = int(self._call("cudaMallocHost", nbytes))
        self._host.append(ptr)
        raw = (ctypes.c_byte * nbytes).from_address(ptr)
        return np.frombuffer(raw, dtype=dtype, count=count).reshape(shape)

    def device_alloc(self, nbytes):
        nbytes = max(1, int(nbytes))
        buf = _DeviceBuffer(self._call("cudaMalloc", nbytes), nbytes)
        self._device.append(buf)
        return buf

    def device_free(self, buf):
        if buf in self._device:
            self._device.remove(buf)
        self._call("cudaFree", buf.ptr)

    def htod(self, device, host):
        import numpy as np

        host = np.ascontiguousarray(host)
        self._call("cudaMemcpy", int(device), host.ctypes.data, host.nbytes,
                   self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice)

    def create_stream(self):
        stream = self._call("cudaStreamCreate")
        self._streams.append(stream)
        return stream

    def stream_handle(self, stream):
        return int(stream)

    def create_event(self):
        event = self._call("cudaEventCreateWithFlags", self._rt.cudaEventBlockingSync)
        self._events.append(event)
        return event

    def record(self, event, stream):
        self._call("cudaEventRecord", event, stream)

    def wait_event(self, event):
        self._call("cudaEventSynchronize", event)

    def elapsed_ms(self, start, end):
        return float(self._call("cudaEventElapsedTime", start, end))

    def sync_stream(self, stream):
        self._call("cudaStreamSynchronize", stream)

    def htod_async(self, device, host, stream):
        kind = self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._call("cudaMemcpyAsync", int(device), host.ctypes.data, host.nbytes, kind, stream)

    def dtoh_async(self, host, device, stream):
        kind = self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._call("cudaMemcpyAsync", host.ctypes.data, int(device), host.nbytes, kind, stream)

    def dtod_async(self, dst, src, nbytes, stream):
        kind = self._rt.cudaMemcpyKind.cudaMemcpyDeviceToDevice
        self._call("cudaMemcpyAsync", int(dst), int(src), int(nbytes), kind, stream)

    def close(self):
        rt = self._rt
        for event in self._events:
            rt.cudaEventDestroy(event)
        for stream in self._streams:
            rt.cudaStreamDestroy(stream)
        for buf in self._device:
            rt.cudaFree(buf.ptr)
        for ptr in self._host:
            rt.cudaFreeHost(ptr)
        self._events, self._streams, self._device, self._host = [], [], [], []


# ----------------------------------------------------------------------------- choice


def available():
    """Which CUDA Python bindings are importable here (cheap, no import)."""
    out = []
    if importable("pycuda"):
        out.append("pycuda")
    if importable("cuda"):
        out.append("cuda-python")
    return out


def open_cuda(prefer=None, device_index=0):
    """A CudaApi with a current context on ``device_index``; EdgebenchError if no binding imports."""
    if prefer is not None and prefer not in CHOICES:
        raise EdgebenchError("unknown CUDA binding {!r}; choose {}".format(prefer, " or ".join(CHOICES)))
    order = [prefer] if prefer else list(CHOICES)
    reasons = []
    for name in order:
        try:
            if name == "pycuda":
                return PycudaApi(device_index)
            return CudaPythonApi(device_index)
        except ImportError as exc:
            reasons.append("{}: {}".format(name, exc))
        except (EdgebenchError, MemoryError):
            raise
        except Exception as exc:  # cuda-python raises RuntimeError("Failed to dlopen libcuda.so.1") without a driver
            raise CudaUnavailable("cannot open CUDA device {} with {}: {}: {}; the TensorRT backend needs an NVIDIA "
                                  "GPU with its CUDA driver (check nvidia-smi, or tegrastats on a Jetson)".format(
                                      device_index, name, type(exc).__name__, str(exc).strip() or "no reason"))
    raise EdgebenchError(
        "the TensorRT backend needs CUDA Python bindings and none imports ({}): pip3 install pycuda "
        "(JetPack 4.6/5) or pip3 install cuda-python (JetPack 6)".format("; ".join(reasons)))
