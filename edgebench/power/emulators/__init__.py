"""Probe emulators that ship with edgebench (like pyserial's ``loop://``).

Each emulator opens a pseudo-terminal, serves one probe protocol on it with a known waveform
(:class:`~edgebench.power.emulators.waveform.Waveform`: a square wave of mean ``watts``), and is
opened by the real source code through the pty's path: ``serial://<path>?protocol=...``.
They run in a thread (:func:`start`) or as ``edgebench power emulate --protocol ...``.

Fault injection for tests: ``silence_after_s``/``silence_s`` (the probe goes quiet, then comes
back), ``vanish_after_s`` (the pty closes), per-protocol bad-data options.
"""
import importlib

EMULATORS = {
    "csv": "edgebench.power.emulators.csv_probe:CsvProbeEmulator",
    "scpi": "edgebench.power.emulators.scpi_meter:ScpiMeterEmulator",
    "ppk2": "edgebench.power.emulators.ppk2:Ppk2Emulator",
    "powersensor3": "edgebench.power.emulators.powersensor3:PowerSensor3Emulator",
}


def emulator_class(protocol):
    try:
        spec = EMULATORS[protocol]
    except KeyError:
        from edgebench.errors import UsageError

        raise UsageError("no emulator for protocol {!r}: use one of {}".format(protocol, ", ".join(sorted(EMULATORS))))
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def start(protocol, **options):
    """Start an emulator thread; returns it (``.path``, ``.url``, ``.stop()``)."""
    return emulator_class(protocol)(**options).start()
