"""Tests of gdlib.experiments: the lab's runners on tiny sizes, the article's claims as quoted,
and the verdict helpers (golden cases, properties, error messages)."""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlib import experiments as lab
from gdlib.data import HOUSE_EFFECTS, HOUSE_FEATURES
# two helpers tested on their own, from the modules that define them
from gdlib.experiments.runs import _linear_gradient_at_start
from gdlib.experiments.timing import _timed_epochs_interleaved
from gdlib.experiments import (
    CLAIMS, LabResult, compare_orderings, fit_line, markdown_table, mean_sd, seed_mean_sd,
    trend,
)
from gdlib.experiments import seeds_for_power, student_t_sf, welch_power, welch_test

SEED_TABLES = Path("/work/shared/seed-tables.md")


def deterministic_metrics(result: LabResult) -> dict:
    return {k: v for k, v in result.metrics.items() if k not in result.timing}


def assert_same_measurements(a: LabResult, b: LabResult) -> None:
    left, right = deterministic_metrics(a), deterministic_metrics(b)
    assert left.keys() == right.keys()
    for key in left:
        np.testing.assert_array_equal(left[key], right[key], err_msg=key)


# -- the runners, tiny ------------------------------------------------------------------------


def test_lr_vs_loss_shape_determinism_and_direction():
    run = lambda: lab.lr_vs_loss((0.1, 0.01), seeds=(0, 1), num_epochs=2)  # noqa: E731
    first, second = run(), run()
    assert first.rows == (0.1, 0.01) and first.seeds == (0, 1)
    assert first.metrics["loss"].shape == (2, 2, 3)
    assert first.metrics["train_acc"].shape == (2, 2)
    assert_same_measurements(first, second)
    loss = first.mean("loss")
    np.testing.assert_allclose(loss[:, 0], np.log(10), atol=0.01)  # init="small": chance level
    assert np.all(np.diff(loss, axis=1) < 0)  # plain SGD far below its limit: the loss falls
    assert np.all(loss[0, 1:] < loss[1, 1:])  # ... and faster with the larger rate


def test_gradient_per_feature_shapes_and_units():
    result = lab.gradient_per_feature(seeds=(0,), n=100, num_epochs=2)
    assert result.rows == HOUSE_FEATURES
    for values in result.metrics.values():
        assert values.shape == (5, 1) and np.all(np.isfinite(values))
    np.testing.assert_allclose(result.metrics["true_effect"][:, 0],
                               [abs(HOUSE_EFFECTS[f]) for f in HOUSE_FEATURES])
    from gdlib.data import house_prices
    std = np.array([house_prices(100, 0).meta["feature_std"][f] for f in HOUSE_FEATURES])
    np.testing.assert_allclose(result.metrics["sensitivity_raw"][:, 0],
                               result.metrics["sensitivity"][:, 0] / std)


def test_linear_gradient_at_start_is_twice_the_covariance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 3.0
    expected = np.abs(2 * np.mean((X - X.mean(0)) * (y - y.mean())[:, None], axis=0))
    np.testing.assert_allclose(_linear_gradient_at_start(X, y), expected, rtol=1e-10, atol=1e-12)


def test_variants_stops_at_target_and_counts_updates():
    result = lab.variants(seeds=(0,), max_epochs=2, n=100, hidden=4, target_loss=10.0)
    assert result.rows == tuple(lab.VARIANTS)
    for values in result.metrics.values():
        assert values.shape == (4, 1)
    # a target above the initial loss is met after the first epoch by every variant
    np.testing.assert_array_equal(result.metrics["epochs_to_target"][:, 0], 1)
    n_train = result.config["n_train"]
    steps = [1 if b is None else math.ceil(n_train / b) for _, _, b in lab.VARIANTS.values()]
    np.testing.assert_array_equal(result.metrics["updates_to_target"][:, 0], steps)
    assert set(result.timing) == {"seconds_to_target", "epoch_cpu", "update_cpu", "epoch_time"}
    assert (("SGD", 0) in result.histories)


def test_variants_unreached_target_is_nan():
    settings_ = {"slow": ("sgd", 1e-6, None)}
    result = lab.variants(settings_, seeds=(0,), max_epochs=1, n=100, hidden=4, target_loss=0.01)
    assert np.isnan(result.metrics["epochs_to_target"][0, 0])
    assert np.isnan(result.mean("updates_to_target")[0])


def test_regularization_penalty_is_the_difference():
    result = lab.regularization(((0.01, 0.01), (0.0, 0.0)), seeds=(0,), num_epochs=1)
    assert result.metrics["val_loss"].shape == (2, 1)
    assert result.metrics["penalty"][0, 0] > 0
    assert result.metrics["penalty"][1, 0] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(result.metrics["val_objective"],
                               result.metrics["val_loss"] + result.metrics["penalty"])


def test_batch_size_time_shapes():
    result = lab.batch_size_time((32, 64), seeds=(0,), num_epochs=1, n_steps=200)
    n = result.config["n_train"]
    assert result.metrics["epoch_time"].shape == result.metrics["epoch_cpu"].shape == (2, 1, 1)
    assert result.metrics["train_loss"].shape == (2, 1, 2)
    np.testing.assert_array_equal(result.metrics["steps_per_epoch"][:, 0], [math.ceil(n / 32), math.ceil(n / 64)])
    assert np.all(result.metrics["epoch_time"] > 0) and np.all(result.metrics["epoch_cpu"] > 0)
    assert result.per_run("epoch_time").shape == (2, 1)


def test_activation_accuracy_shapes_and_init_pairing():
    result = lab.activation_accuracy(("sigmoid", "relu"), seeds=(0,), hidden=(4, 4), num_epochs=1, n=100)
    assert result.metrics["train_acc"].shape == (2, 1)
    assert result.metrics["grad_norm"].shape == (2, 1, 3)
    assert np.all(result.metrics["grad_norm"] > 0)
    assert lab.INIT_FOR == {"sigmoid": "glorot", "tanh": "glorot", "relu": "he", "leaky_relu": "he"}


def test_dropout_accuracy_shapes_and_determinism():
    run = lambda: lab.dropout_accuracy((0.0, 0.5), seeds=(0,), num_epochs=1, n=100, hidden=4)  # noqa: E731
    first, second = run(), run()
    assert first.metrics["test_acc"].shape == (2, 1)
    assert first.metrics["val_acc"].shape == (2, 1, 2)
    assert 0 < first.config["bayes_accuracy"] <= 1
    assert_same_measurements(first, second)


def test_depth_time_shapes():
    result = lab.depth_time((4, 6), seeds=(0,), num_epochs=1)
    assert result.rows == (4, 6)
    assert result.metrics["epoch_cpu"].shape == (2, 1, 1)
    assert result.metrics["train_loss"].shape == (2, 1)


def small_problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    return X, (X[:, 0] > 0).astype(int)


def test_fit_cpu_timed_gives_one_cpu_time_per_epoch_and_keeps_the_callback():
    from gdlib.nn import MLP
    X, y = small_problem()
    calls = []
    model = MLP([4, 8, 2], rng=0)
    history, cpu = lab.fit_cpu_timed(model, X, y, lr=0.1, num_epochs=3, batch_size=10, rng=1,
                                     callback=lambda e, h: calls.append(e) or e == 2)
    assert calls == [0, 1, 2] and history.num_epochs == 2
    assert len(cpu) == 2 and all(t > 0 for t in cpu)
    # the wrapper trains the model itself: the same result as fit without it
    from gdlib.train import fit
    twin = MLP([4, 8, 2], rng=0)
    fit(twin, X, y, lr=0.1, num_epochs=2, batch_size=10, rng=1)
    for key in model.params:
        np.testing.assert_array_equal(model.params[key], twin.params[key])


def test_interleaved_epochs_train_like_one_fit_per_run_for_plain_sgd():
    from gdlib.nn import MLP
    from gdlib.train import fit
    X, y = small_problem()
    runs = {key: (MLP([4, 8, 2], rng=key), np.random.default_rng(key), {"batch_size": b})
            for key, b in ((0, 10), (1, 60))}
    wall, cpu, loss = _timed_epochs_interleaved(runs, X, y, 3, lr=0.1)
    for key, b in ((0, 10), (1, 60)):
        twin = MLP([4, 8, 2], rng=key)
        h = fit(twin, X, y, lr=0.1, num_epochs=3, batch_size=b, rng=np.random.default_rng(key))
        np.testing.assert_allclose(loss[key], h.loss_per_epoch)
        for name in twin.params:
            np.testing.assert_array_equal(runs[key][0].params[name], twin.params[name])
        assert wall[key].shape == cpu[key].shape == (3,)


@pytest.mark.parametrize("call, match", [
    (lambda: lab.lr_vs_loss((0.0,)), "lr"),
    (lambda: lab.lr_vs_loss(0.01), "lrs"),
    (lambda: lab.lr_vs_loss(seeds=()), "seeds"),
    (lambda: lab.lr_vs_loss(seeds=3), "seeds"),
    (lambda: lab.lr_vs_loss(seeds=(-1,)), "seeds"),
    (lambda: lab.lr_vs_loss(num_epochs=0), "num_epochs"),
    (lambda: lab.depth_time((21,)), "depth"),
    (lambda: lab.activation_accuracy(("swish",)), "activations"),
    (lambda: lab.dropout_accuracy((1.0,)), "dropout"),
    (lambda: lab.regularization(((0.01,),)), "strengths"),
    (lambda: lab.regularization(((-0.1, 0.0),)), "l1 or l2"),
    (lambda: lab.batch_size_time((0,)), "batch_size"),
    (lambda: lab.variants(target_loss=0), "target_loss"),
])
def test_runner_arguments_are_checked(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# -- LabResult and the statistics ------------------------------------------------------------


def test_lab_result_mean_sd_per_run_and_column():
    values = np.array([[[1.0, 3.0], [3.0, 5.0]], [[2.0, 2.0], [np.nan, np.nan]]])  # (rows, seeds, epochs)
    result = LabResult("toy", ("a", "b"), (0, 1), {"t": values, "acc": np.array([[0.5, 0.7], [0.9, np.nan]])})
    np.testing.assert_allclose(result.per_run("t", np.nanmin), [[1.0, 3.0], [2.0, np.nan]])
    np.testing.assert_allclose(result.mean("acc"), [0.6, 0.9])
    np.testing.assert_allclose(result.sd("acc"), [np.std([0.5, 0.7], ddof=1), 0.0])
    assert result.column("acc") == pytest.approx({"a": 0.6, "b": 0.9})
    with pytest.raises(KeyError, match="metric"):
        result.mean("loss")


def test_seed_mean_sd_all_nan_row_is_nan_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mean, sd = seed_mean_sd([[np.nan, np.nan], [1.0, 2.0]])
    assert np.isnan(mean[0]) and np.isnan(sd[0])
    assert mean[1] == 1.5 and sd[1] == pytest.approx(math.sqrt(0.5))
    with pytest.raises(ValueError, match="shape"):
        seed_mean_sd([1.0, 2.0])


# -- the claims, as printed ------------------------------------------------------------------


def printed_cell(text: str):
    text = text.strip().rstrip("%")
    try:
        return float(text)
    except ValueError:
        return text.lower()


def claim_rows(claim) -> list[list]:
    rows = []
    for key, value in claim.values.items():
        keys = list(key) if isinstance(key, tuple) else [claim.label(key)]
        values = list(value) if isinstance(value, tuple) else [value]
        rows.append([printed_cell(str(k)) for k in keys] + [printed_cell(str(v)) for v in values])
    return rows


@pytest.mark.skipif(not SEED_TABLES.is_file(), reason="the seed tables are not in this checkout")
def test_claims_match_the_seed_tables():
    tables, current = [], None
    for line in SEED_TABLES.read_text().splitlines():
        if line.startswith("## "):
            current = []
            tables.append(current)
        elif line.startswith("|") and current is not None and not re.match(r"^\|[-| ]+\|$", line):
            current.append([printed_cell(c) for c in line.strip().strip("|").split("|")])
    printed = [rows[1:] for rows in tables if rows]  # drop each header row
    assert len(printed) == len(CLAIMS) == 8
    for claim, rows in zip(CLAIMS.values(), printed):
        assert claim_rows(claim) == rows, claim.title


def test_claims_cover_the_eight_tables_with_our_row_labels():
    assert list(CLAIMS) == ["lr_vs_loss", "gradient_per_feature", "variants", "regularization",
                            "batch_size_time", "activation_accuracy", "dropout_accuracy", "depth_time"]
    assert set(CLAIMS["gradient_per_feature"].values) == set(HOUSE_FEATURES)
    assert set(CLAIMS["variants"].values) == set(lab.VARIANTS)
    assert set(CLAIMS["activation_accuracy"].values) == set(lab.INIT_FOR)
    assert all(len(row) == 10 for row in CLAIMS["lr_vs_loss"].values.values())
    words = {w for pair in CLAIMS["variants"].values.values() for w in pair}
    assert words <= set(lab.ORDINAL)


# -- the verdict helpers -----------------------------------------------------------------------


def test_compare_orderings_golden():
    claimed = {"a": 1.0, "b": 2.0, "c": 3.0}
    same = compare_orderings(claimed, {"a": 10.0, "b": 20.0, "c": 30.0})
    assert same == (3, 0, 0, 0, pytest.approx(1.0), "holds")
    reversed_ = compare_orderings(claimed, {"a": 3.0, "b": 2.0, "c": 1.0})
    assert (reversed_.disagree, reversed_.verdict, reversed_.spearman) == (3, "contradicted", pytest.approx(-1.0))
    # a and b: t = 1 / sqrt(2/3) = 1.22 with 4 degrees of freedom, p = 0.29: unresolved; the others agree
    partly = compare_orderings(claimed, {"a": 10.0, "b": 11.0, "c": 30.0}, {"a": 1.0, "b": 1.0, "c": 1.0}, n_seeds=3)
    assert (partly.agree, partly.unresolved, partly.verdict) == (2, 1, "holds where resolved")
    mixed = compare_orderings(claimed, {"a": 1.0, "b": 3.0, "c": 2.0})
    assert (mixed.agree, mixed.disagree, mixed.verdict) == (2, 1, "mixed")
    blurred = compare_orderings(claimed, {"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 5.0, "b": 5.0, "c": 5.0}, n_seeds=3)
    assert blurred.verdict == "unresolved"
    # more seeds shrink the standard error of the difference: the same spread is resolved with 30
    sharp = compare_orderings(claimed, {"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 1.0, "b": 1.0, "c": 1.0}, n_seeds=30)
    assert sharp.verdict == "holds"
    # an extra (test-set) standard error can only unresolve pairs
    noisy = compare_orderings(claimed, {"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 1.0, "b": 1.0, "c": 1.0}, n_seeds=30,
                              extra_se=1.0)
    assert noisy.verdict == "unresolved"


def test_compare_orderings_skips_pairs_the_claim_ties():
    result = compare_orderings({"SGD": 2, "Adam": 2, "GD": 0}, {"SGD": 5.0, "Adam": 1.0, "GD": 0.5})
    assert (result.claim_ties, result.agree, result.verdict) == (1, 2, "holds")


@pytest.mark.parametrize("claimed, measured, sd, match", [
    ({"a": 1, "b": 2}, {"a": 1, "c": 2}, None, "same rows"),
    ({"a": 1, "b": 2}, {"a": 1, "b": float("nan")}, None, "finite"),
    ({"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": -1.0, "b": 0.0}, "measured_sd"),
    ({"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 0.0}, "measured_sd"),
    ({"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 0.5, "b": 0.5}, "n_seeds"),
])
def test_compare_orderings_errors(claimed, measured, sd, match):
    with pytest.raises(ValueError, match=match):
        compare_orderings(claimed, measured, sd)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-1000, 1000), min_size=2, max_size=8, unique=True),
       st.floats(0.1, 10.0), st.floats(-100.0, 100.0))
def test_compare_orderings_is_invariant_to_monotone_rescaling(values, scale, shift):
    claimed = {i: v for i, v in enumerate(values)}
    pairs = len(values) * (len(values) - 1) // 2
    up = compare_orderings(claimed, {i: scale * v + shift for i, v in claimed.items()})
    down = compare_orderings(claimed, {i: -scale * v + shift for i, v in claimed.items()})
    assert (up.agree, up.verdict) == (pairs, "holds") and up.spearman == pytest.approx(1.0)
    assert (down.disagree, down.verdict) == (pairs, "contradicted") and down.spearman == pytest.approx(-1.0)


# -- Welch's test behind the verdicts --------------------------------------------------------


def test_student_t_sf_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    t = np.array([0.0, 0.3, 1.0, 2.2, -3.5, 8.0, 40.0])
    for df in (1.0, 2.5, 4.0, 17.3, 300.0):
        np.testing.assert_allclose(student_t_sf(t, df), 2 * stats.t.sf(np.abs(t), df), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(student_t_sf(t, np.inf), 2 * stats.norm.sf(np.abs(t)), rtol=1e-12, atol=1e-15)


def test_welch_test_matches_scipy_and_adds_the_extra_error():
    stats = pytest.importorskip("scipy.stats")
    for args in ((1.0, 0.5, 5, 0.2, 0.8, 6), (3.0, 2.0, 3, 0.0, 0.1, 10), (0.0, 1.0, 6, 0.1, 1.0, 6)):
        ours = welch_test(*args)
        theirs = stats.ttest_ind_from_stats(*args, equal_var=False)
        assert ours.t == pytest.approx(theirs.statistic) and ours.p_value == pytest.approx(theirs.pvalue)
        assert ours.significant == (theirs.pvalue < 0.05)
    # with no spread over seeds, only the (known) extra errors: a z-test
    z = welch_test(0.80, 0.0, 6, 0.78, 0.0, 6, extra_se_a=0.01, extra_se_b=0.01)
    assert z.df == math.inf and z.p_value == pytest.approx(2 * stats.norm.sf(0.02 / math.sqrt(2e-4)))
    # no spread and no extra error: the difference is exact
    assert welch_test(1.0, 0.0, 3, 1.0, 0.0, 3).significant is False
    assert welch_test(1.0, 0.0, 3, 1.5, 0.0, 3).significant is True


def test_welch_power_false_positive_rate_and_power_match_scipy_on_the_same_draws():
    stats = pytest.importorskip("scipy.stats")
    trials, n = 20_000, 6
    for delta in (0.0, 2.0):
        ours = welch_power(n, delta, trials=trials, rng=np.random.default_rng(5))
        rng = np.random.default_rng(5)  # the same draws, tested by scipy
        a = rng.standard_normal((trials, n))
        b = rng.standard_normal((trials, n)) + delta
        theirs = float(np.mean(stats.ttest_ind(a, b, axis=1, equal_var=False).pvalue < 0.05))
        assert ours == pytest.approx(theirs, abs=1 / trials)
    # the rates themselves: about alpha with equal means (Welch is slightly conservative), and
    # the power of the normal approximation, 1 - Phi(1.96 - 2 / sqrt(2/6)) = 0.94, less the
    # t distribution's heavier tails
    false_positive = welch_power(n, 0.0, trials=trials, rng=np.random.default_rng(6))
    assert 0.035 < false_positive < 0.055
    power = welch_power(n, 2.0, trials=trials, rng=np.random.default_rng(7))
    assert 0.80 < power < 1 - stats.norm.cdf(1.96 - 2 / math.sqrt(2 / n))


def test_seeds_for_power_is_the_smallest_count_that_reaches_it():
    n, tried = seeds_for_power(2.0, 0.8, trials=20_000, rng=np.random.default_rng(0))
    assert tried[n] >= 0.8 and all(p < 0.8 for k, p in tried.items() if k < n)
    assert list(tried) == list(range(2, n + 1))
    with pytest.raises(ValueError, match="max_seeds"):
        seeds_for_power(0.5, 0.9, max_seeds=3, trials=1000, rng=np.random.default_rng(0))


@pytest.mark.parametrize("kwargs, match", [
    (dict(sd_a=-1.0), "sd_a"), (dict(n_b=1), "n_b"), (dict(alpha=1.5), "alpha"), (dict(extra_se_a=-0.1), "extra_se_a"),
    (dict(mean_a=float("nan")), "mean_a"),
])
def test_welch_test_errors_name_the_argument(kwargs, match):
    args = dict(mean_a=1.0, sd_a=0.5, n_a=3, mean_b=2.0, sd_b=0.5, n_b=3)
    alpha = kwargs.pop("alpha", 0.05)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        welch_test(**args, alpha=alpha)


def test_trend():
    assert trend([3.0, 2.0, 1.0]) == "decreasing"
    assert trend([1.0, 2.0, 2.0]) == "increasing"
    assert trend([1.0, 3.0, 2.0]) == "not monotonic"
    assert trend([1.0, 1.1, 1.2], [0.5, 0.5, 0.5], n_seeds=3) == "flat"
    assert trend([3.0, 2.9, 1.0], [0.1, 0.1, 0.1], n_seeds=3) == "decreasing"  # the level step does not count
    # no resolved step, but monotone means with resolved ends: a creeping trend
    assert trend([1.0, 1.3, 1.6, 1.9], [0.2, 0.2, 0.2, 0.2], n_seeds=3) == "increasing"
    assert trend([1.0, 1.5, 1.2, 1.6], [0.3, 0.3, 0.3, 0.3], n_seeds=3) == "flat"  # nothing resolved
    with pytest.raises(ValueError, match="values"):
        trend([1.0])


# A slope below ~1e-6 makes y vary by a few ulps of the intercept: rounding, not a line, sets R^2.
@given(st.floats(-5, 5).filter(lambda s: s == 0 or abs(s) > 1e-6), st.floats(-5, 5))
def test_fit_line_is_exact_on_a_line(slope, intercept):
    x = np.array([20.0, 32.0, 44.0, 56.0])
    fitted = fit_line(x, intercept + slope * x)
    assert fitted[0] == pytest.approx(slope, abs=1e-9)
    assert fitted[1] == pytest.approx(intercept, abs=1e-7)
    assert fitted[2] == pytest.approx(1.0)


def test_fit_line_golden_and_errors():
    slope, intercept, r2 = fit_line([20, 32, 44, 56], [75, 110, 140, 180])  # the article's depth table
    assert (slope, intercept) == (pytest.approx(2.875), pytest.approx(17.0))
    assert 0.99 < r2 < 1
    with pytest.raises(ValueError, match="x"):
        fit_line([1.0, 1.0], [2.0, 3.0])


def test_input_sensitivity_of_a_linear_model_is_the_absolute_coefficient():
    beta = np.array([0.5, -2.0, 0.0])
    X = np.random.default_rng(1).normal(size=(20, 3))
    np.testing.assert_allclose(lab.input_sensitivity(lambda Z: Z @ beta + 1.0, X), np.abs(beta), atol=1e-8)
    with pytest.raises(ValueError, match="h"):
        lab.input_sensitivity(lambda Z: Z @ beta, X, h=0.0)


def test_mean_sd_and_markdown_table():
    assert mean_sd(0.51234, 0.0041) == "0.512 ± 0.004"
    assert mean_sd(float("nan"), 0.0) == "—"
    table = markdown_table(["a", "b"], [[1, "x|y"]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | x\\|y |"]
    with pytest.raises(ValueError, match="cells"):
        markdown_table(["a", "b"], [[1]])
