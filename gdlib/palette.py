"""The Okabe-Ito palette (Okabe and Ito, 2008): eight colours that stay distinguishable under the
common colour-vision deficiencies.

A module of its own, without matplotlib, so that the rule registry (:data:`gdlib.optim.RULES`)
can give every update rule its colour; :mod:`gdlib.plotting` builds the book's style from it.
"""

COLORS = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
