"""The errors callers of edgebench see.

Every error says what to do next. ``UsageError`` and its subclasses mean the input was wrong: the
CLI prints the message on one line and exits with status 2. Vendor exceptions (onnxruntime,
tensorrt, torch, pyserial) are translated into these at the backend boundary.
"""


class EdgebenchError(Exception):
    """Base class; the CLI prints ``str(err)`` and exits with ``exit_status``."""

    exit_status = 1


class UsageError(EdgebenchError):
    """Bad input from the user: unknown model, bad flag value, unreadable file."""

    exit_status = 2


class ModelError(UsageError):
    """A model cannot be found, built, exported or read."""


class BackendUnavailable(UsageError):
    """The requested engine backend is not installed or cannot run here."""


class UnsupportedPrecision(EdgebenchError):
    """The backend cannot build the requested precision; the point is stored as ``unsupported``."""


class StoreError(UsageError):
    """The results store cannot be opened, read or written."""


class PowerSourceError(UsageError):
    """A power source URL is malformed or its sensor cannot be opened."""
