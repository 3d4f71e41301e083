"""Power-source URLs: parsing, the scheme registry and ``auto``.

Grammar (like pyserial's and SQLAlchemy's URLs)::

    auto | none
    ina3221 | ina3221:RAIL                  on-board INA3221 (all rails, or one)  [?rails=all|input]
    tegrastats[?interval_ms=100&path=...]   NVIDIA tegrastats as a fallback
    rapl | rapl:ZONE                        Intel/AMD RAPL energy counters        [?interval...]
    nvml | nvml:INDEX                       NVIDIA NVML (discrete GPUs)
    serial://PORT?protocol=csv|scpi|ppk2|powersensor3[&baud=..&timeout=..&...]
    trace://FILE.csv[?loop=1&sampling=...]  replay a recorded trace in real time
    sim://?idle_w=1.3&active_w=13.1         synthetic, from CPU load, labelled SIMULATED

Query parameters are checked: an unknown one is an error that lists the known ones. Vendor modules
are imported only when their scheme is opened, so this module stays cheap to import.
"""
import importlib
import logging
from collections import OrderedDict

from edgebench.errors import PowerSourceError

logger = logging.getLogger(__name__)

# scheme -> "module:factory". ``serial`` dispatches on ?protocol=.
SCHEMES = OrderedDict(
    [
        ("auto", None),
        ("none", "edgebench.power.source:NullSource"),
        ("ina3221", "edgebench.power.ina3221:INA3221Source"),
        ("tegrastats", "edgebench.power.tegrastats:TegrastatsSource"),
        ("rapl", "edgebench.power.rapl:RaplSource"),
        ("nvml", "edgebench.power.nvml:NvmlSource"),
        ("serial", None),
        ("trace", "edgebench.power.trace:TraceSource"),
        ("sim", "edgebench.power.sim:SimSource"),
    ]
)

SERIAL_PROTOCOLS = OrderedDict(
    [
        ("csv", "edgebench.power.serial_csv:CsvProbeSource"),
        ("scpi", "edgebench.power.scpi:ScpiSource"),
        ("ppk2", "edgebench.power.ppk2:Ppk2Source"),
        ("powersensor3", "edgebench.power.powersensor3:PowerSensor3Source"),
    ]
)

# Order ``auto`` tries; the first source that opens wins. Synthetic and replay sources never.
AUTO_ORDER = ("ina3221", "tegrastats", "rapl", "nvml")


class SourceURL(object):
    """A parsed power-source URL: ``scheme``, ``target`` (port, file, rail...) and ``params``."""

    def __init__(self, text, scheme, target, params):
        self.text = text
        self.scheme = scheme
        self.target = target
        self.params = params

    def __str__(self):
        return self.text

    def __repr__(self):
        return "SourceURL({!r})".format(self.text)

    def reader(self):
        return ParamReader(self)


def parse_url(text):
    """Split a power-source URL into scheme, target and query parameters (no I/O)."""
    from urllib.parse import parse_qsl, unquote

    if text is None or not str(text).strip():
        raise PowerSourceError("empty power source: pass --power auto, none, ina3221, serial://PORT?... or sim://")
    text = str(text).strip()
    if "://" in text:
        scheme, rest = text.split("://", 1)
        target, _, query = rest.partition("?")
    else:
        head, _, query = text.partition("?")
        scheme, _, target = head.partition(":")
    scheme = scheme.strip().lower()
    if scheme not in SCHEMES:
        raise PowerSourceError(
            "unknown power source {!r}: use one of {} (e.g. serial:///dev/ttyACM0?protocol=ppk2)".format(
                text, ", ".join(SCHEMES)
            )
        )
    params = OrderedDict()
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise PowerSourceError(
            "malformed query {!r} in power source {!r}: write key=value&key=value".format(query, text)
        )
    for key, value in pairs:
        key = key.strip().lower()
        if key in params:
            raise PowerSourceError("parameter {!r} given twice in power source {!r}".format(key, text))
        params[key] = value
    return SourceURL(text, scheme, unquote(target), params)


class ParamReader(object):
    """Typed access to URL query parameters; :meth:`finish` rejects the ones nobody asked for."""

    def __init__(self, url):
        self.url = url
        self.used = set()

    def _raw(self, name):
        self.used.add(name)
        return self.url.params.get(name)

    def text(self, name, default=None, choices=None):
        value = self._raw(name)
        if value is None or value == "":
            return default
        if choices is not None and value.lower() not in choices:
            raise PowerSourceError(
                "{}={!r} in {!r} is not known: use one of {}".format(name, value, str(self.url), ", ".join(choices))
            )
        return value.lower() if choices is not None else value

    def number(self, name, default=None, minimum=None, positive=False, integer=False):
        import math

        value = self._raw(name)
        if value is None or value == "":
            return default
        try:
            number = int(value, 0) if integer else float(value)
        except ValueError:
            raise PowerSourceError(
                "{}={!r} in {!r} is not a {}".format(
                    name, value, str(self.url), "whole number" if integer else "number")
            )
        if not math.isfinite(number) or (positive and number <= 0) or (minimum is not None and number < minimum):
            raise PowerSourceError(
                "{}={!r} in {!r} is out of range ({})".format(
                    name, value, str(self.url), "must be > 0" if positive else "must be >= {}".format(minimum)
                )
            )
        return number

    def flag(self, name, default=False):
        value = self._raw(name)
        if value is None or value == "":
            return default
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise PowerSourceError("{}={!r} in {!r} must be 0 or 1".format(name, value, str(self.url)))

    def finish(self):
        unknown = [k for k in self.url.params if k not in self.used]
        if unknown:
            raise PowerSourceError(
                "unknown parameter{} {} in power source {!r}: known ones are {}".format(
                    "s" if len(unknown) > 1 else "",
                    ", ".join(repr(k) for k in unknown),
                    str(self.url),
                    ", ".join(sorted(self.used)) or "none",
                )
            )


def _load(spec):
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def source_class(url):
    """The class that serves ``url`` (a :class:`SourceURL`)."""
    if url.scheme == "serial":
        protocol = (url.params.get("protocol") or "").lower()
        if not url.target:
            raise PowerSourceError(
                "serial power source {!r} names no port: write serial:///dev/ttyACM0?protocol=ppk2".format(str(url))
            )
        if protocol not in SERIAL_PROTOCOLS:
            raise PowerSourceError(
                "serial power source {!r} needs ?protocol= one of {}".format(str(url), ", ".join(SERIAL_PROTOCOLS))
            )
        return _load(SERIAL_PROTOCOLS[protocol])
    return _load(SCHEMES[url.scheme])


def create_source(url, root=None):
    """Build (but do not open) the source for ``url`` (text or :class:`SourceURL`)."""
    if not isinstance(url, SourceURL):
        url = parse_url(url)
    if url.scheme == "auto":
        raise PowerSourceError("'auto' is resolved by open_source(), not create_source()")
    return source_class(url)(url, root=root)


def open_source(url, root=None):
    """Open the power source named by ``url``; ``auto`` picks the best one here and says which.

    Returns an opened :class:`edgebench.power.source.PowerSource` (the null source for ``none``, or
    for ``auto`` when nothing is found). Raises :class:`PowerSourceError` with the next step when a
    named source cannot be opened.
    """
    if not isinstance(url, SourceURL):
        url = parse_url(url)
    if url.scheme == "auto":
        return open_auto(root=root)[0]
    source = create_source(url, root=root)
    source.open()
    return source


def open_auto(root=None):
    """Try :data:`AUTO_ORDER`; return ``(source, tried)`` where ``tried`` lists (scheme, reason) misses."""
    from edgebench.power.source import NullSource

    tried = []
    for scheme in AUTO_ORDER:
        try:
            source = create_source(parse_url(scheme), root=root)
            source.open()
        except PowerSourceError as err:
            tried.append((scheme, str(err)))
            continue
        source.detail = "auto: {}{}".format(scheme, "; " + source.detail if source.detail else "")
        logger.info("power source auto -> %s", source.label)
        return source, tried
    reason = "; ".join("{}: {}".format(s, r) for s, r in tried)
    logger.info("power source auto found nothing (%s)", reason)
    return NullSource("none", root=root, reason="auto found no power source"), tried
