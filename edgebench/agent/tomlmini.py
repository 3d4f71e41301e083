"""Read the agent's TOML config on any Python: ``tomllib`` (3.11+), else ``tomli``, else a tiny parser.

The board runs Python 3.6 without ``tomli``, so the fallback parser below reads the subset the agent
config needs, and nothing more:

* one ``key = value`` per line at the top level (no ``[tables]``), bare keys ``[A-Za-z0-9_-]+``;
* values: ``"basic strings"`` (escapes ``\\\\ \\" \\n \\t \\r \\uXXXX``), ``'literal strings'``,
  integers (``1_000``, ``-3``), floats (``0.5``, ``1e-3``), ``true``/``false`` and one-line arrays
  of those (``[1, 2, 3]``);
* ``#`` comments, on their own line or after a value; blank lines.

Anything else (tables, dotted keys, dates, multi-line strings) is an error that names the line and
says to keep the file flat or install ``tomli``. ``loads(text, parser="mini")`` forces the fallback
(the tests use it to check that both parsers agree).
"""
import re

_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_INT_RE = re.compile(r"^[+-]?(0|[1-9](_?[0-9])*)$")
_FLOAT_RE = re.compile(r"^[+-]?(0|[1-9](_?[0-9])*)(\.[0-9](_?[0-9])*)?([eE][+-]?[0-9](_?[0-9])*)?$")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


class TomlError(ValueError):
    """A config file is not valid TOML (or not in the subset the built-in parser reads)."""


def loads(text, parser=None):
    """Parse TOML ``text`` into a dict; ``parser`` is None (best available) or ``"mini"``."""
    if parser != "mini":
        lib = _library()
        if lib is not None:
            try:
                return lib.loads(text)
            except Exception as exc:  # tomllib.TOMLDecodeError / tomli.TOMLDecodeError
                raise TomlError(str(exc))
    return _parse(text)


def parser_name():
    lib = _library()
    return lib.__name__ if lib is not None else "edgebench.agent.tomlmini"


def _library():
    try:
        import tomllib

        return tomllib
    except ImportError:
        pass
    try:
        import tomli

        return tomli
    except ImportError:
        return None


def _parse(text):
    data = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            raise TomlError("line {}: tables ({}) are not supported: keep the agent config flat "
                            "(key = value lines)".format(number, stripped))
        key, sep, rest = stripped.partition("=")
        key = key.strip()
        if not sep or not _KEY_RE.match(key):
            raise TomlError("line {}: expected key = value, got {!r}".format(number, stripped))
        if key in data:
            raise TomlError("line {}: key {!r} is set twice".format(number, key))
        value, tail = _value(rest.strip(), number)
        tail = tail.strip()
        if tail and not tail.startswith("#"):
            raise TomlError("line {}: unexpected text after the value: {!r}".format(number, tail))
        data[key] = value
    return data


def _value(text, number):
    """Parse one value at the start of ``text``; return (value, rest of the line)."""
    if not text:
        raise TomlError("line {}: missing value".format(number))
    if text[0] == '"':
        if text.startswith('"""'):
            raise TomlError("line {}: multi-line strings are not supported".format(number))
        return _basic_string(text, number)
    if text[0] == "'":
        if text.startswith("'''"):
            raise TomlError("line {}: multi-line strings are not supported".format(number))
        end = text.find("'", 1)
        if end < 0:
            raise TomlError("line {}: unterminated string".format(number))
        return text[1:end], text[end + 1:]
    if text[0] == "[":
        return _array(text, number)
    m = re.match(r"^[^,\]#\s]+", text)
    token = m.group(0) if m else ""
    rest = text[len(token):]
    if token == "true":
        return True, rest
    if token == "false":
        return False, rest
    if _INT_RE.match(token):
        return int(token.replace("_", "")), rest
    if _FLOAT_RE.match(token):
        return float(token.replace("_", "")), rest
    if token in ("inf", "+inf", "-inf", "nan", "+nan", "-nan"):
        return float(token), rest
    raise TomlError("line {}: cannot read value {!r} (strings need quotes)".format(number, token or text))


def _basic_string(text, number):
    out = []
    i = 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return "".join(out), text[i + 1:]
        if ch == "\\":
            nxt = text[i + 1:i + 2]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt in ("u", "U"):
                width = 4 if nxt == "u" else 8
                digits = text[i + 2:i + 2 + width]
                if len(digits) != width or not re.match(r"^[0-9A-Fa-f]+$", digits):
                    raise TomlError("line {}: bad \\{} escape".format(number, nxt))
                out.append(chr(int(digits, 16)))
                i += 2 + width
                continue
            raise TomlError("line {}: unknown escape \\{}".format(number, nxt))
        out.append(ch)
        i += 1
    raise TomlError("line {}: unterminated string".format(number))


def _array(text, number):
    items = []
    rest = text[1:].lstrip()
    while True:
        if not rest:
            raise TomlError("line {}: unterminated array (arrays must fit on one line)".format(number))
        if rest[0] == "]":
            return items, rest[1:]
        value, rest = _value(rest, number)
        items.append(value)
        rest = rest.lstrip()
        if not rest:
            continue
        if rest.startswith(","):
            rest = rest[1:].lstrip()
        elif not rest.startswith("]"):
            raise TomlError("line {}: expected , or ] in the array".format(number))
