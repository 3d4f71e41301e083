"""Did the kernel's OOM killer kill a worker? Evidence, not a guess.

A worker that died from SIGKILL without a result was killed by somebody: the OOM killer, a user, a
supervisor. The kernel leaves traces only of the first, read here (``root`` is a fake filesystem root
in tests):

* ``/proc/vmstat`` ``oom_kill``: OOM kills since boot (Linux >= 4.13; mm/vmstat.c, "oom_kill");
* the memory cgroup of this process: cgroup v2 ``memory.events`` ``oom_kill`` (Documentation/admin-guide/
  cgroup-v2.rst) or cgroup v1 ``memory.oom_control`` ``oom_kill`` (Documentation/admin-guide/cgroup-v1/
  memory.rst, Linux >= 4.13);
* the kernel log (``/dev/kmsg``, when readable: root or ``kernel.dmesg_restrict=0``), where
  mm/oom_kill.c writes ``Killed process <pid> (<comm>)`` (older kernels: ``Kill process``).

JetPack 4.6 runs Linux 4.9, which has none of the counters: there only the kernel log can tell.
"""
import errno
import os


def kill_counts(root="/"):
    """``{source: count}`` of the OOM-kill counters readable here (call before starting a worker)."""
    counts = {}
    vmstat = _read(root, "proc/vmstat")
    for line in (vmstat or "").splitlines():
        name, _, value = line.partition(" ")
        if name == "oom_kill" and value.strip().isdigit():
            counts["/proc/vmstat oom_kill"] = int(value)
    for path in _cgroup_event_files(root):
        for line in (_read(root, path) or "").splitlines():
            name, _, value = line.partition(" ")
            if name == "oom_kill" and value.strip().isdigit():
                counts["/" + path + " oom_kill"] = int(value)
    return counts


def evidence(pid, before, root="/"):
    """Why we know the OOM killer killed ``pid`` (one line), or None when nothing shows it."""
    after = kill_counts(root)
    for source, count in sorted(after.items()):
        if count > before.get(source, count):
            return "{} rose from {} to {} while it ran".format(source, before[source], count)
    line = _kernel_log_kill(pid, root)
    if line:
        return "kernel log: {}".format(line)
    return None


def _read(root, path):
    try:
        with open(os.path.join(root, path), "r") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError):
        return None


def _cgroup_event_files(root):
    """memory.events (v2) / memory.oom_control (v1) of this process's memory cgroup."""
    files = []
    for line in (_read(root, "proc/self/cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        path = path.strip().lstrip("/")
        if controllers == "":  # v2 unified hierarchy
            files.append(os.path.join("sys/fs/cgroup", path, "memory.events").replace("//", "/"))
        elif "memory" in controllers.split(","):
            files.append(os.path.join("sys/fs/cgroup/memory", path, "memory.oom_control").replace("//", "/"))
    return files


def _kernel_log_kill(pid, root, limit_bytes=1 << 20):
    """The kernel log record saying ``pid`` was killed for memory, if /dev/kmsg can be read."""
    wanted = ("Killed process {} ".format(pid), "Kill process {} ".format(pid))
    try:
        fd = os.open(os.path.join(root, "dev/kmsg"), os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    found = None
    read = 0
    try:
        while read < limit_bytes:
            try:
                record = os.read(fd, 8192)  # one record per read (Documentation/ABI/testing/dev-kmsg)
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # overwritten while we read: go on
                    continue
                break  # EAGAIN: the end; EINVAL/EPERM: not readable here
            if not record:
                break
            read += len(record)
            text = record.decode("utf-8", "replace")
            message = text.split(";", 1)[-1].strip()
            if any(w in message for w in wanted):
                found = message.splitlines()[0][:200]
    finally:
        os.close(fd)
    return found
