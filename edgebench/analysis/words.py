"""How figures are written for a person: formulas, counts with the right plural. Standard library only."""


def number(value, digits=4):
    """``value`` to ``digits`` significant figures, never ``-0``."""
    text = "{:.{}g}".format(value, digits)
    return "0" if text in ("-0", "0", "-0.0") else text


def formula(lhs, relation, intercept, slope, term):
    """``top1 <= 58.18 - 0.5 * images_per_s`` from intercept a and slope b of ``a + b * term``.

    A slope that rounds to zero drops the term (``top1 <= 58.18``); a negative one is written with a
    minus sign, never as ``+ (-0.5)``. ``term`` may name a divisor: pass ``"/ per_image_ms"`` and the
    slope is its numerator.
    """
    a = number(intercept)
    b = number(abs(slope))
    if b == "0":
        return "{} {} {}".format(lhs, relation, a)
    sign = "-" if slope < 0 else "+"
    if term.startswith("/"):
        rhs = "{} {}".format(b, term)
    else:
        rhs = "{} * {}".format(b, term)
    if a == "0":
        return "{} {} {}{}".format(lhs, relation, "-" if sign == "-" else "", rhs)
    return "{} {} {} {} {}".format(lhs, relation, a, sign, rhs)


def plural(count, singular, plural_form=None):
    """``1 model``, ``2 models``; ``plural_form`` for irregular words."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return "{} {}".format(count, word)
