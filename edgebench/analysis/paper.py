"""The seed paper's figures, defined once for the analysis and the report to compare against.

Canziani, Paszke & Culurciello (2016), "An Analysis of Deep Neural Network Models for Practical
Applications", arXiv:1605.07678, measured on a Jetson TX1: a static memory floor of 200 MB plus
1.30 x the parameter size, 1.30 W idle and 11.8 +/- 0.7 W net power across models.
"""
from collections import OrderedDict

PAPER = OrderedDict(
    [
        ("citation", "Canziani, Paszke & Culurciello (2016), arXiv:1605.07678, Jetson TX1"),
        ("memory_floor_mb", 200.0),
        ("memory_slope_per_param_mb", 1.30),
        ("idle_power_w", 1.30),
        ("net_power_w", 11.8),
        ("net_power_std_w", 0.7),
    ]
)

MEMORY_LABEL = "{:g} MB + {:.2f} x params MB".format(PAPER["memory_floor_mb"], PAPER["memory_slope_per_param_mb"])
POWER_LABEL = "{:g} +/- {:g} W".format(PAPER["net_power_w"], PAPER["net_power_std_w"])
