"""Which rails make up board input power, by each Jetson board's real rule.

* Jetson AGX Thor (JetPack 7): the carrier board's INA238 measures ``VIN``, the whole system input
  (module and carrier). It *replaces* the module's INA3221 rails (VDD_GPU, VDD_CPU_SOC_MSS,
  VIN_SYS_5V0), never adds to them -- as jetson-stats 7.x does (``total_power`` prefers ``VIN``
  over ``POM_5V_IN``/``VDD_IN``, rbonghi/jetson_stats jtop/core/power.py, PR #900).
* A rail that measures the module input (``POM_5V_IN`` on the Nano, ``VDD_IN`` on TX1, TX2,
  Xavier NX, Orin NX/Nano) *is* board input: its sub-rails are never added on top.
* AGX Xavier has no input rail: board input is the sum of its six rails
  (GPU, CPU, SOC, CV, VDDRQ, SYS5V).
* AGX Orin has no input rail: board input is VDD_GPU_SOC + VDD_CPU_CV + VIN_SYS_5V0
  (VDDQ_VDD2_1V8AO is fed from VIN_SYS_5V0, so it is already inside it).
* Any other set of rails: the sum of all of them, with a rule text that says it may double-count.

Module rails exclude the carrier board on every Jetson; an external probe at the barrel jack
measures more.
"""

SYSTEM_INPUT_RAIL = "VIN"  # Thor's carrier INA238
INPUT_RAILS = ("POM_5V_IN", "VDD_IN")
AGX_XAVIER_RAILS = ("GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V")
AGX_ORIN_RAILS = ("VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0")
UNCONNECTED = ("NC",)


class BoardRule(object):
    """``rails``: the rail names summed into board input; ``text``: the rule, for people."""

    def __init__(self, rails, text, known=True):
        self.rails = tuple(rails)
        self.text = text
        self.known = known

    def __repr__(self):
        return "BoardRule({!r}, {!r})".format(self.rails, self.text)


def board_input_rule(rail_names):
    """The :class:`BoardRule` for a board whose monitors expose ``rail_names``."""
    names = [n for n in rail_names if n.upper() not in UNCONNECTED]
    upper = {n.upper(): n for n in names}
    if SYSTEM_INPUT_RAIL in upper:
        others = len(names) - 1
        text = "{} (carrier INA238: the whole system input{})".format(
            upper[SYSTEM_INPUT_RAIL], "; the {} module rail{} not added".format(
                others, "s are" if others > 1 else " is") if others else "")
        return BoardRule([upper[SYSTEM_INPUT_RAIL]], text)
    for rail in INPUT_RAILS:
        if rail in upper:
            others = len(names) - 1
            text = "{} (module input rail{})".format(
                upper[rail], "; its {} other rail{} not added".format(others, "s are" if others > 1 else " is")
                if others else ""
            )
            return BoardRule([upper[rail]], text)
    if all(r in upper for r in AGX_ORIN_RAILS):
        text = "AGX Orin: VDD_GPU_SOC + VDD_CPU_CV + VIN_SYS_5V0 (VDDQ_VDD2_1V8AO is inside VIN_SYS_5V0)"
        return BoardRule([upper[r] for r in AGX_ORIN_RAILS], text)
    if all(r in upper for r in AGX_XAVIER_RAILS):
        return BoardRule([upper[r] for r in AGX_XAVIER_RAILS], "AGX Xavier: sum of its six rails (no input rail)")
    if not names:
        return BoardRule([], "no rails", known=False)
    if len(names) == 1:
        return BoardRule(names, "{} (the only rail)".format(names[0]))
    return BoardRule(
        names,
        "sum of all {} rails (unknown board: rails may be nested and double-counted; "
        "pick one with ina3221:RAIL)".format(len(names)),
        known=False,
    )
