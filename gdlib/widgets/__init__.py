r"""The explorers: sliders over the learning rate, the update rule, the start and the batch size
(layer 4, the top: uses every other package).

- :mod:`gdlib.widgets.runs`: the computations behind a frame (cached runs, captions);
- :mod:`gdlib.widgets.figures`: the figures a frame is drawn on;
- :mod:`gdlib.widgets.live`: the live ipywidgets twins (:func:`landscape_explorer`,
  :func:`training_explorer`);
- :mod:`gdlib.widgets.static`: the static HTML twins the book embeds.
"""

from gdlib.widgets.runs import (
    RULE_NAMES, LANDSCAPE_LRS, TRAINING_LRS, TRAINING_BATCH_SIZES, CONVERGENCE_TOL,
    LandscapeFrame, TrainingFrame, TrainingSetup, landscape_frame, training_frame,
    landscape_caption, training_caption
)
from gdlib.widgets.figures import DPI, LANDSCAPE_FIGSIZE, TRAINING_FIGSIZE, TRAINING_LOSS_LIMITS
from gdlib.widgets.live import (
    landscape_explorer, training_explorer, explore_landscape, explore_training, widget_mode
)
from gdlib.widgets.static import StaticWidget, static_landscape_explorer, static_training_explorer

__all__ = [
    "RULE_NAMES", "LANDSCAPE_LRS", "TRAINING_LRS", "TRAINING_BATCH_SIZES", "CONVERGENCE_TOL",
    "LandscapeFrame", "TrainingFrame", "TrainingSetup", "landscape_frame", "training_frame",
    "landscape_caption", "training_caption", "DPI", "LANDSCAPE_FIGSIZE", "TRAINING_FIGSIZE",
    "TRAINING_LOSS_LIMITS", "landscape_explorer", "training_explorer", "explore_landscape",
    "explore_training", "widget_mode", "StaticWidget", "static_landscape_explorer",
    "static_training_explorer"
]
