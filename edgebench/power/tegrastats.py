"""``tegrastats`` as a fallback power source (when sysfs is not readable).

Runs ``tegrastats --interval MS`` and parses the power fields of every JetPack generation:

* JetPack 4: ``POM_5V_IN 1750/1628`` (current/average, mW, no unit)
* JetPack 5/6: ``VDD_IN 2763mW/2846mW``
* JetPack 7: ``VDD_GPU_SOC 5139mW/5139mW/5139mW`` (three values)

The first value is the current reading; averages are ignored. Rails labelled ``NC`` are skipped.
Board input follows :mod:`edgebench.power.rails`. URL: ``tegrastats[?interval_ms=100&path=FILE]``;
without ``path`` the binary is looked up as ``<root>/usr/bin/tegrastats``, then on ``$PATH`` when
the root is ``/``.
"""
import logging
import os
import re
import select
import shutil
import subprocess
import time
from collections import OrderedDict

from edgebench.errors import PowerSourceError
from edgebench.platform.root import under
from edgebench.platform.sysfs import is_real_root
from edgebench.power.rails import UNCONNECTED, board_input_rule
from edgebench.power.source import INSTANTANEOUS, Block, PowerSource, ProbeLost, Sample

logger = logging.getLogger(__name__)

# NAME value[unit]/value[unit][/value[unit]]  where unit is mW or W (JetPack 4 prints bare mW).
_POWER_FIELD = re.compile(
    r"(?:^|(?<=\s))([A-Za-z][A-Za-z0-9_]*) "
    r"(\d+(?:\.\d+)?)(mW|W)?/(\d+(?:\.\d+)?)(mW|W)?(?:/(\d+(?:\.\d+)?)(mW|W)?)?(?=\s|$)"
)
DEFAULT_INTERVAL_MS = 100


def parse_power_fields(line):
    """Rail -> current power in mW from one tegrastats line (empty when it carries no power)."""
    rails = OrderedDict()
    for match in _POWER_FIELD.finditer(line or ""):
        name = match.group(1)
        if name.upper() in UNCONNECTED or name in ("RAM", "SWAP", "IRAM"):
            continue
        value = float(match.group(2))
        if match.group(3) == "W":
            value *= 1000.0
        rails[name] = value
    return rails


def find_tegrastats(root=None, path=None):
    """The tegrastats executable to run, or None."""
    if path:
        return path if os.access(path, os.X_OK) else None
    candidate = under(root, "/usr/bin/tegrastats")
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    if is_real_root(root):
        return shutil.which("tegrastats")
    return None


class TegrastatsSource(PowerSource):
    """Streaming source: one sample per tegrastats line, host arrival timestamps."""

    scheme = "tegrastats"
    sampling = INSTANTANEOUS
    streaming = True
    reconnectable = True

    def __init__(self, url, root=None):
        PowerSource.__init__(self, url, root)
        params = url.reader()
        self.interval_ms = params.number("interval_ms", DEFAULT_INTERVAL_MS, positive=True, integer=True)
        self.path = params.text("path")
        params.finish()
        self.max_rate_hz = 1000.0 / self.interval_ms
        self.proc = None
        self.input_index = ()
        self._buffer = b""

    def open(self):
        exe = find_tegrastats(self.root, self.path)
        if not exe:
            raise PowerSourceError(
                "tegrastats not found ({}): it ships with JetPack on a Jetson; pass "
                "--power tegrastats?path=FILE or another power source".format(
                    self.path or under(self.root, "/usr/bin/tegrastats")
                )
            )
        try:
            self.proc = subprocess.Popen(
                [exe, "--interval", str(self.interval_ms)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
        except OSError as err:
            raise PowerSourceError("cannot run {}: {}".format(exe, err))
        deadline = time.perf_counter() + max(3.0 * self.interval_ms / 1000.0, 2.0)
        rails = None
        while time.perf_counter() < deadline and rails is None:
            for line, _ in self._lines(timeout_s=deadline - time.perf_counter()):
                fields = parse_power_fields(line)
                if fields:
                    rails = fields
                    break
            if self.proc.poll() is not None:
                break
        if not rails:
            self.close()
            raise PowerSourceError(
                "{} printed no power fields within {:.1f} s (run it by hand to check; some boards need root)".format(
                    exe, max(3.0 * self.interval_ms / 1000.0, 2.0)
                )
            )
        self.rails = tuple(rails)
        rule = board_input_rule(list(rails))
        self.board_rule = rule.text
        self.input_index = tuple(i for i, name in enumerate(self.rails) if name in rule.rails)
        self.detail = "{}; every {} ms".format(rule.text, self.interval_ms)
        self.is_open = True
        return self

    def _lines(self, timeout_s):
        """Complete lines available within ``timeout_s`` as (text, arrival time)."""
        out = []
        if self.proc is None or self.proc.stdout is None:
            return out
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], max(timeout_s, 0.0))
        if not ready:
            return out
        chunk = os.read(fd, 65536)
        now = time.perf_counter()
        if not chunk:
            raise ProbeLost("tegrastats exited (status {})".format(self.proc.poll()))
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\n")
        for raw in complete:
            out.append((raw.decode("utf-8", "replace"), now))
        return out

    def read_block(self, timeout_s=0.1):
        samples = []
        bad = 0
        for line, arrival in self._lines(timeout_s):
            fields = parse_power_fields(line)
            if not fields:
                bad += 1 if line.strip() else 0
                continue
            values = [fields.get(name, float("nan")) / 1000.0 for name in self.rails]
            power = sum(values[i] for i in self.input_index)
            samples.append(Sample(arrival, power, values))
        return Block.from_samples(samples, bad=bad)

    def read(self):
        deadline = time.perf_counter() + 3.0 * self.interval_ms / 1000.0 + 1.0
        while time.perf_counter() < deadline:
            block = self.read_block(0.05)
            if len(block):
                return Sample(block.t_s[-1], block.power_w[-1], block.rails_w[-1])
        raise ProbeLost("tegrastats printed nothing for {:.1f} s".format(3.0 * self.interval_ms / 1000.0 + 1.0))

    def close(self):
        proc = self.proc
        self.proc = None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self._buffer = b""
        self.is_open = False
