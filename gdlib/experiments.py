r"""Runners for the experiments lab: the source article's eight result tables, re-measured.

Each runner trains small gdlib models on an offline stand-in for the article's data, for every
setting of one table row and every seed, and returns a :class:`LabResult` whose metrics are
arrays shaped ``(rows, seeds, ...)``; the chapter prints their mean and standard deviation
beside the article's claim (:data:`CLAIMS`). The helpers at the end compare a claimed ordering
with a measured one, taking the spread over seeds into account (:func:`compare_orderings`), and
fit the straight lines that timing claims reduce to (:func:`fit_line`).

Every run draws its initial weights, batch order and dropout masks from one
``numpy.random.default_rng(seed)``, so all metrics except times are reproducible. Timing
runners record two clocks per epoch, both for the training steps only: the wall-clock
:attr:`gdlib.train.History.epoch_time` of :func:`~gdlib.train.fit`, and the CPU time of the
calling thread (``time.thread_time``), which other processes on a busy machine cannot
inflate. Compare their ratios and slopes, never their seconds, across machines.

The code lives in four modules, whose names this one gathers: :mod:`gdlib.lab_results`
(:class:`LabResult`, :func:`seed_mean_sd`, and :func:`welch_test` with its error rates), :mod:`gdlib.lab_runs` (the runners of tables 1, 2,
3, 4, 6 and 7), :mod:`gdlib.lab_timing` (:func:`fit_cpu_timed` and the timing tables 5 and 8)
and :mod:`gdlib.lab_claims` (:data:`CLAIMS` and the verdict helpers).

Introduced in the lab chapter (``ch-lab``).
"""

# The lab's public names, plus two private helpers that the tests call through this module:
# _linear_gradient_at_start (gdlib.lab_runs) and _timed_epochs_interleaved (gdlib.lab_timing).
from gdlib.lab_claims import (
    CLAIMS, ORDINAL, Claim, Comparison, compare_orderings, fit_line, markdown_table, mean_sd, trend,
)
from gdlib.lab_results import (
    SEEDS, LabResult, WelchTest, seed_mean_sd, seeds_for_power, student_t_sf, welch_power, welch_test,
)
from gdlib.lab_runs import (
    INIT_FOR, VARIANTS, _linear_gradient_at_start, activation_accuracy, dropout_accuracy,
    gradient_per_feature, input_sensitivity, lr_vs_loss, regularization, variants,
)
from gdlib.lab_timing import _timed_epochs_interleaved, batch_size_time, depth_time, fit_cpu_timed

__all__ = [
    "Claim", "CLAIMS", "SEEDS", "LabResult", "seed_mean_sd", "lr_vs_loss", "gradient_per_feature", "VARIANTS",
    "variants", "regularization", "batch_size_time", "INIT_FOR", "fit_cpu_timed", "activation_accuracy",
    "dropout_accuracy", "depth_time", "input_sensitivity", "Comparison", "compare_orderings",
    "trend", "fit_line", "ORDINAL", "mean_sd", "markdown_table", "WelchTest", "welch_test", "welch_power",
    "seeds_for_power", "student_t_sf",
]
