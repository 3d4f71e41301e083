"""The one small interface every power source implements, and the null source.

A source is opened from a URL (see :mod:`edgebench.power.url`), then read either

* **polled** (``streaming = False``): the sampler calls :meth:`PowerSource.read` at its own pace
  (at most ``max_rate_hz``) and each call returns one :class:`Sample`; or
* **streaming** (``streaming = True``): the device pushes data (a PPK2, a CSV probe, tegrastats);
  :meth:`PowerSource.read_block` blocks up to ``timeout_s`` and returns a :class:`Block` of every
  sample that arrived.

Every timestamp is in seconds on the host's ``time.perf_counter()`` clock (CLOCK_MONOTONIC on
Linux, shared by every process); device timestamps are mapped onto it by
:class:`edgebench.power.clock.ClockMapper`.

``sampling`` says what one sample means: ``instantaneous`` (a point sample, integrated with the
trapezoid rule) or ``integrating`` (the mean power over the interval since the previous sample,
integrated as rectangles). Units: watts for power, seconds for time.
"""
import logging
import time

from edgebench.errors import PowerSourceError

logger = logging.getLogger(__name__)

INSTANTANEOUS = "instantaneous"
INTEGRATING = "integrating"
SAMPLING_KINDS = (INSTANTANEOUS, INTEGRATING)

SIMULATED_LABEL = "SIMULATED"


class ProbeLost(Exception):
    """The device stopped answering (port closed, read error, silence longer than its timeout).

    Internal: the sampler catches it, ends the current window with a flag and reconnects.
    """


class Sample(object):
    """One reading: host time ``t_s``, board power ``power_w`` and per-rail watts (``rails_w``).

    ``power_w`` is NaN when the reading failed (e.g. a rail returned ``-ENODATA``).
    """

    __slots__ = ("t_s", "power_w", "rails_w")

    def __init__(self, t_s, power_w, rails_w=()):
        self.t_s = float(t_s)
        self.power_w = float(power_w)
        self.rails_w = tuple(rails_w)

    def __repr__(self):
        return "Sample(t_s={:.6f}, power_w={:.4f}, rails_w={!r})".format(self.t_s, self.power_w, self.rails_w)


class Block(object):
    """Samples that arrived together, plus what went wrong while reading them.

    ``t_s`` and ``power_w`` are 1-D float arrays of equal length (strictly increasing ``t_s``);
    ``rails_w`` is a 2-D array (samples x rails) or ``None``. ``bad`` counts input that could not
    be used (unparseable lines, NaN readings), ``lost`` counts samples the device says it dropped
    (counter gaps); ``notes`` are short texts worth a flag.
    """

    __slots__ = ("t_s", "power_w", "rails_w", "bad", "lost", "notes")

    def __init__(self, t_s, power_w, rails_w=None, bad=0, lost=0, notes=()):
        self.t_s = t_s
        self.power_w = power_w
        self.rails_w = rails_w
        self.bad = int(bad)
        self.lost = int(lost)
        self.notes = list(notes)

    def __len__(self):
        return len(self.t_s)

    @classmethod
    def empty(cls, bad=0, lost=0, notes=()):
        import numpy as np

        return cls(np.empty(0), np.empty(0), None, bad=bad, lost=lost, notes=notes)

    @classmethod
    def from_samples(cls, samples, bad=0, lost=0, notes=()):
        import numpy as np

        if not samples:
            return cls.empty(bad=bad, lost=lost, notes=notes)
        t_s = np.array([s.t_s for s in samples], dtype=float)
        power_w = np.array([s.power_w for s in samples], dtype=float)
        rails_w = None
        if samples[0].rails_w:
            rails_w = np.array([s.rails_w for s in samples], dtype=float)
        return cls(t_s, power_w, rails_w, bad=bad, lost=lost, notes=notes)


class FilePoll(object):
    """How a polled source that reads integer files is sampled without per-sample Python objects.

    ``fds``: the open files read once per sample (``os.pread`` at offset 0, one system call each);
    ``convert(values)``: a (samples x files) float array of their integer values -> ``(power_w,
    rails_w)`` arrays; ``slow(index, fd)``: the value of file ``index`` when its text is not a plain
    integer (units, errors): a float, NaN when it cannot be read. The sampler fills preallocated
    buffers with these values and converts a batch at a time (:meth:`Sampler._poll_files`).
    """

    __slots__ = ("fds", "convert", "slow")

    def __init__(self, fds, convert, slow):
        self.fds = tuple(fds)
        self.convert = convert
        self.slow = slow


class PowerSource(object):
    """Base class. Subclasses set the class attributes and implement ``open``/``read``.

    Attributes every source has after :meth:`open`:

    * ``scheme`` - URL scheme (``ina3221``, ``serial``, ...).
    * ``rails`` - names of the per-rail readings in ``Sample.rails_w`` (may be empty).
    * ``board_rule`` - how ``power_w`` is made from the rails ("VDD_IN", "sum of 6 rails", ...).
    * ``sampling`` - ``instantaneous`` or ``integrating``.
    * ``max_rate_hz`` - fastest sustainable sample rate.
    * ``streaming`` - device-paced (True) or polled (False).
    * ``device_timestamps`` - timestamps come from the device clock (mapped onto the host's).
    * ``simulated`` - synthetic data, labelled SIMULATED everywhere.
    * ``has_data`` - False only for the null source.
    """

    scheme = ""
    sampling = INSTANTANEOUS
    streaming = False
    device_timestamps = False
    simulated = False
    has_data = True
    max_rate_hz = 10.0
    reconnectable = False

    def __init__(self, url, root=None):
        self.url = url
        self.root = root
        self.rails = ()
        self.board_rule = ""
        self.detail = ""
        self.is_open = False

    # -- lifecycle -------------------------------------------------------------------------------
    def open(self):
        self.is_open = True
        return self

    def close(self):
        self.is_open = False

    def __enter__(self):
        if not self.is_open:
            self.open()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- reading ---------------------------------------------------------------------------------
    def read(self):
        """One fresh :class:`Sample` (polled sources)."""
        raise NotImplementedError

    def read_block(self, timeout_s=0.1):
        """Every sample that arrived within ``timeout_s`` (streaming sources); polled sources read one."""
        return Block.from_samples([self.read()])

    def file_poll(self):
        """A :class:`FilePoll` when the source can be sampled as integer files (the sampler's cheap
        path), else None: the sampler calls :meth:`read`."""
        return None

    def no_data_reason(self):
        """One line saying why no valid sample came (a source that can tell overrides this), or None."""
        return None

    # -- description -----------------------------------------------------------------------------
    @property
    def label(self):
        """What produced the numbers, for the ``power_source`` column; SIMULATED sources say so."""
        text = str(self.url)
        if self.detail:
            text = "{} ({})".format(text, self.detail)
        if self.simulated and SIMULATED_LABEL not in text:
            text = "{} {}".format(SIMULATED_LABEL, text)
        return text

    def describe(self):
        return {
            "source": self.label,
            "url": str(self.url),
            "scheme": self.scheme,
            "simulated": bool(self.simulated),
            "sampling": self.sampling,
            "streaming": bool(self.streaming),
            "max_rate_hz": self.max_rate_hz,
            "device_timestamps": bool(self.device_timestamps),
            "rails": list(self.rails),
            "board_rule": self.board_rule,
        }

    def __repr__(self):
        return "<{} {}>".format(type(self).__name__, self.label)


class NullSource(PowerSource):
    """``none``: a source with no power data. Summaries say "no power data"; nothing is None-checked."""

    scheme = "none"
    has_data = False
    max_rate_hz = 0.0
    streaming = True

    def __init__(self, url="none", root=None, reason=""):
        PowerSource.__init__(self, url, root)
        self.reason = reason
        self.board_rule = "no power data"

    @property
    def label(self):
        return "none"

    def read(self):
        return Sample(time.perf_counter(), float("nan"))

    def read_block(self, timeout_s=0.1):
        time.sleep(min(max(timeout_s, 0.0), 0.5))
        return Block.empty()


def check_sampling(value, url):
    """Validate a ``sampling=`` URL parameter."""
    if value not in SAMPLING_KINDS:
        raise PowerSourceError(
            "sampling={!r} in {!r} is not known: use sampling=instantaneous (point samples) or "
            "sampling=integrating (each reading is the mean since the previous one)".format(value, str(url))
        )
    return value
