"""Tests for gdlib.train: mini-batches, the fit loop against hand-written loops, divergence,
schedules, the History record, and error messages."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlib import optim
from gdlib.train import DivergenceWarning, History, evaluate, fit, iterate_minibatches
from gdlib.train.updaters import _flat_buffer


class LinearRegression:
    """The smallest model fit accepts: y_hat = X w + b, loss = mean squared error."""

    def __init__(self, d, rng):
        rng = np.random.default_rng(rng)
        self.params = {"w": rng.normal(size=d), "b": np.zeros(1)}

    def loss_and_grads(self, X, y, *, rng=None, train=True):
        r = X @ self.params["w"] + self.params["b"][0] - y
        n = len(y)
        return float(r @ r / n), {"w": 2 * X.T @ r / n, "b": np.array([2 * r.sum() / n])}

    def predict(self, X):
        return X @ self.params["w"] + self.params["b"][0]

    def score(self, X, y):
        r = self.predict(X) - y
        return float(1 - r @ r / np.sum((y - y.mean()) ** 2))


def regression_data(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ np.arange(1.0, d + 1) + 0.5 + 0.1 * rng.normal(size=n)
    return X, y


def hand_loop(model, X, y, *, lr, num_epochs, batch_size, rng, init, step, schedule=None, **hyper):
    """Mini-batch gradient descent written out, one state per parameter array."""
    rng = np.random.default_rng(rng)
    states = {k: init(v) for k, v in model.params.items()}
    losses, t = [], 0
    for _ in range(num_epochs):
        for Xb, yb in iterate_minibatches(X, y, batch_size, rng):
            loss, grads = model.loss_and_grads(Xb, yb, rng=rng, train=True)
            losses.append(loss)
            eta = schedule(t) if schedule else lr
            for k in model.params:
                model.params[k], states[k] = step(model.params[k], grads[k], states[k], lr=eta, **hyper)
            t += 1
    return losses


# ---------------------------------------------------------------- iterate_minibatches


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_minibatches_visit_every_example_once(n, data, seed):
    batch_size = data.draw(st.integers(1, n))
    X = np.arange(n, dtype=float)[:, None] * np.ones((1, 2))
    y = np.arange(n)
    batches = list(iterate_minibatches(X, y, batch_size, np.random.default_rng(seed)))
    assert len(batches) == math.ceil(n / batch_size)
    assert all(len(yb) == batch_size for _, yb in batches[:-1])
    assert len(batches[-1][1]) == n - batch_size * (len(batches) - 1)  # last one kept
    seen = np.concatenate([yb for _, yb in batches])
    assert sorted(seen) == list(range(n))
    for Xb, yb in batches:
        np.testing.assert_array_equal(Xb[:, 0], yb)  # rows stay paired with their labels


def test_minibatches_fresh_order_each_epoch_and_reproducible():
    X, y = np.zeros((50, 1)), np.arange(50)
    rng = np.random.default_rng(1)
    first = np.concatenate([yb for _, yb in iterate_minibatches(X, y, 10, rng)])
    second = np.concatenate([yb for _, yb in iterate_minibatches(X, y, 10, rng)])
    assert not np.array_equal(first, second)
    again = np.concatenate([yb for _, yb in iterate_minibatches(X, y, 10, np.random.default_rng(1))])
    np.testing.assert_array_equal(first, again)
    other = np.concatenate([yb for _, yb in iterate_minibatches(X, y, 10, np.random.default_rng(2))])
    assert not np.array_equal(first, other)
    seeded = np.concatenate([yb for _, yb in iterate_minibatches(X, y, 10, 1)])  # int seed
    np.testing.assert_array_equal(first, seeded)


@pytest.mark.parametrize("batch_size", [None, 7])
def test_full_batch_is_the_data_in_order_and_draws_nothing(batch_size):
    X, y = np.arange(14.0).reshape(7, 2), np.arange(7)
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    (Xb, yb), = list(iterate_minibatches(X, y, batch_size, rng))
    np.testing.assert_array_equal(Xb, X)
    np.testing.assert_array_equal(yb, y)
    assert rng.bit_generator.state == before


def test_minibatches_leave_the_data_alone():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    X0, y0 = X.copy(), y.copy()
    for Xb, yb in iterate_minibatches(X, y, 3, 0):
        Xb[...] = -1
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(batch_size=0), ValueError, "batch_size=0"),
    (dict(batch_size=11), ValueError, "batch_size=11"),
    (dict(batch_size=2.5), TypeError, "batch_size"),
    (dict(rng=None), TypeError, "rng=None"),
    (dict(y=np.arange(9)), ValueError, "same number of rows"),
    (dict(X=np.full((10, 2), np.nan)), ValueError, "X contains"),
])
def test_minibatch_errors(kwargs, error, match):
    args = dict(X=np.zeros((10, 2)), y=np.arange(10), batch_size=3, rng=0) | kwargs
    with pytest.raises(error, match=match):
        list(iterate_minibatches(**args))


# ---------------------------------------------------------------- fit against hand-written loops


@pytest.mark.parametrize("batch_size", [None, 40])
def test_batch_gd_equals_hand_written_loop(batch_size):
    X, y = regression_data()
    model, ref = LinearRegression(3, 0), LinearRegression(3, 0)
    history = fit(model, X, y, rule=(optim.sgd_init, optim.sgd_step), lr=0.05, num_epochs=15,
                  batch_size=batch_size, rng=0)
    # batch gradient descent by hand: theta <- theta - lr * grad J(theta), 15 times
    losses = []
    for _ in range(15):
        loss, grads = ref.loss_and_grads(X, y)
        losses.append(loss)
        ref.params = {k: v - 0.05 * grads[k] for k, v in ref.params.items()}
    np.testing.assert_allclose(history.loss_per_step, losses, rtol=0, atol=1e-12)
    for k in ref.params:
        np.testing.assert_allclose(model.params[k], ref.params[k], rtol=0, atol=1e-12)
    assert history.steps == 15 and history.gradient_evaluations == 15 * 40
    assert len(history.loss_per_epoch) == 16  # epoch 0 (before training) included
    assert history.loss_per_epoch[0] == pytest.approx(losses[0])


@pytest.mark.parametrize("rule, hyper", [("sgd", {}), ("momentum", {"beta": 0.8}),
                                         ("adam", {"beta1": 0.8})])
def test_minibatch_fit_equals_hand_written_loop(rule, hyper):
    X, y = regression_data(n=37)
    model, ref = LinearRegression(3, 1), LinearRegression(3, 1)
    history = fit(model, X, y, rule=rule, lr=0.02, num_epochs=4, batch_size=5, rng=7, **hyper)
    r = optim.RULES[rule]
    losses = hand_loop(ref, X, y, lr=0.02, num_epochs=4, batch_size=5, rng=7, init=r.init,
                       step=r.step, **hyper)
    assert history.steps == 4 * 8 and history.gradient_evaluations == 4 * 37
    np.testing.assert_array_equal(history.loss_per_step, losses)
    for k in ref.params:
        np.testing.assert_array_equal(model.params[k], ref.params[k])


@pytest.mark.parametrize("rule", sorted(optim.RULES))
def test_one_epoch_of_fit_on_an_mlp_is_the_hand_written_loop(rule):
    """fit is iterate_minibatches + the model's own loss_and_grads + the rule's public step on
    each array, nothing else: after one epoch (dropout drawing from the same rng, a last batch
    smaller than the others, hyperparameters drawn from the rule's check ranges) the weights
    and batch losses are those of the loop written out by hand, bit for bit."""
    from gdlib.nn import MLP

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(61, 5)), rng.integers(0, 3, 61)
    r = optim.RULES[rule]
    hyper = {k: value.draw(rng) for k, value in r.check_ranges.items()}
    model, ref = MLP((5, 8, 3), rng=1, dropout=0.2), MLP((5, 8, 3), rng=1, dropout=0.2)
    history = fit(model, X, y, rule=rule, lr=0.01, num_epochs=1, batch_size=16, rng=3, **hyper)
    losses = hand_loop(ref, X, y, lr=0.01, num_epochs=1, batch_size=16, rng=3, init=r.init,
                       step=r.step, **hyper)
    assert history.steps == 4 and not history.diverged
    assert history.loss_per_step == losses
    for k in ref.params:
        np.testing.assert_array_equal(model.params[k], ref.params[k], err_msg=k)  # bit for bit
    assert not np.allclose(model.params["W1"], MLP((5, 8, 3), rng=1).params["W1"])  # it moved


def test_a_decorated_student_step_is_called_at_every_step():
    """Only gdlib's own steps are run through their unchecked arithmetic after the first
    step: a student's step that wraps another (functools.wraps sets __wrapped__) is called
    whole every time."""
    import functools

    calls = []

    @functools.wraps(optim.sgd_step)
    def logged_step(x, g, state, *, lr):
        calls.append(lr)
        return optim.sgd_step(x, g, state, lr=lr)

    X, y = regression_data(n=20)
    h = fit(LinearRegression(3, 0), X, y, rule=(optim.sgd_init, logged_step), lr=0.05,
            num_epochs=2, batch_size=5, rng=0)
    assert h.steps == 8 and len(calls) == 8 * 2  # one call per parameter array per step


def test_separate_and_non_contiguous_parameters_are_updated_in_place():
    """A model whose arrays are not views into one vector (one of them not even contiguous):
    fit updates a private flat vector and copies every step back into the model's arrays."""
    X, y = regression_data(n=24, d=4)
    model, ref = LinearRegression(4, 2), LinearRegression(4, 2)
    model.params["w"] = model.params["w"].reshape(2, 2).T  # a transposed view: strided
    ref.params["w"] = ref.params["w"].reshape(2, 2).T.copy()
    w = model.params["w"]
    assert not w.flags.c_contiguous and _flat_buffer(list(model.params.values())) is None

    class Reshaped:  # the model's w is (2, 2); its gradient is computed on the flat w
        def __init__(self, base):
            self.base, self.params = base, base.params

        def loss_and_grads(self, X, y, *, rng=None, train=True):
            flat = dict(self.params, w=self.params["w"].ravel())
            self.base.params = flat
            try:
                loss, grads = self.base.loss_and_grads(X, y)
            finally:
                self.base.params = self.params
            return loss, dict(grads, w=grads["w"].reshape(2, 2))

        def predict(self, X):
            return X @ self.params["w"].ravel() + self.params["b"][0]

    h = fit(Reshaped(model), X, y, rule="momentum", beta=0.5, lr=0.02, num_epochs=2,
            batch_size=7, rng=1)
    losses = hand_loop(Reshaped(ref), X, y, lr=0.02, num_epochs=2, batch_size=7, rng=1,
                       init=optim.momentum_init, step=optim.momentum_step, beta=0.5)
    assert model.params["w"] is w and h.steps == 8
    np.testing.assert_array_equal(h.loss_per_step, losses)
    for k in ref.params:
        np.testing.assert_allclose(model.params[k], ref.params[k], rtol=1e-13, atol=0)


def test_a_callback_may_replace_an_mlp_parameter_array():
    """After a callback replaces params["W1"] (W1 is then no view into the MLP's flat vector),
    fit keeps training the new array in place, as two fit calls around the replacement do."""
    from gdlib.nn import MLP

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 5)), rng.integers(0, 3, 40)
    a, b = MLP((5, 6, 3), rng=1), MLP((5, 6, 3), rng=1)
    replaced = []

    def halve_w1(epoch, history):
        if epoch == 1:
            a.params["W1"] = a.params["W1"] * 0.5
            replaced.append(a.params["W1"])

    fit(a, X, y, lr=0.1, num_epochs=2, batch_size=16, rng=np.random.default_rng(5), callback=halve_w1)
    shared = np.random.default_rng(5)
    fit(b, X, y, lr=0.1, num_epochs=1, batch_size=16, rng=shared)
    b.params["W1"] = b.params["W1"] * 0.5
    fit(b, X, y, lr=0.1, num_epochs=1, batch_size=16, rng=shared)
    assert a.params["W1"] is replaced[0]
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)


def test_bare_student_step_gives_the_same_run_as_the_reference():
    def my_sgd(x, g, state, *, lr):
        return x - lr * g, state

    X, y = regression_data()
    a, b = LinearRegression(3, 2), LinearRegression(3, 2)
    ha = fit(a, X, y, rule=my_sgd, lr=0.03, num_epochs=3, batch_size=8, rng=4)
    hb = fit(b, X, y, rule="sgd", lr=0.03, num_epochs=3, batch_size=8, rng=4)
    assert ha.loss_per_step == hb.loss_per_step
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert ha.config["rule"] == "my_sgd"


def test_bare_step_with_init_and_pair_form_agree():
    def velocity(x):
        return np.zeros_like(x)

    def my_momentum(x, g, v, *, lr, beta):
        v = beta * v + g
        return x - lr * v, v

    X, y = regression_data()
    models = [LinearRegression(3, 5) for _ in range(3)]
    runs = [
        fit(models[0], X, y, rule=my_momentum, init=velocity, lr=0.02, num_epochs=3, batch_size=6,
            rng=1, beta=0.7),
        fit(models[1], X, y, rule=(velocity, my_momentum), lr=0.02, num_epochs=3, batch_size=6,
            rng=1, beta=0.7),
        fit(models[2], X, y, rule="momentum", lr=0.02, num_epochs=3, batch_size=6, rng=1, beta=0.7),
    ]
    for h in runs[1:]:
        np.testing.assert_allclose(h.loss_per_step, runs[0].loss_per_step, rtol=1e-13)


@pytest.mark.parametrize("rule", [name for name, r in optim.RULES.items() if r.elementwise])
def test_elementwise_rule_on_mlp_equals_one_state_per_array(rule):
    """fit runs a rule the registry marks elementwise once on all parameters concatenated; that
    must equal the per-array run of the same functions (given as a wrapped pair, which takes the
    general path), with hyperparameters drawn from the rule's check ranges."""
    from gdlib.nn import MLP

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 5)), rng.integers(0, 3, 60)
    r = optim.RULES[rule]
    hyper = {k: value.draw(rng) for k, value in r.check_ranges.items()}
    wrapped = (lambda x: r.init(x), lambda x, g, s, **kw: r.step(x, g, s, **kw))
    a = MLP((5, 8, 3), rng=1, dropout=0.2)
    b = MLP((5, 8, 3), rng=1, dropout=0.2)
    ha = fit(a, X, y, rule=rule, lr=0.01, num_epochs=3, batch_size=16, rng=3, **hyper)
    hb = fit(b, X, y, rule=wrapped, lr=0.01, num_epochs=3, batch_size=16, rng=3, **hyper)
    assert ha.loss_per_step == hb.loss_per_step
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert ha.grad_norms == hb.grad_norms


def test_a_rule_that_is_not_elementwise_keeps_one_state_per_array():
    """A step that normalises by the norm of its whole array mixes coordinates: fit must give
    the weights Optimizer gives (one call per array), which the flat vector would not."""
    from gdlib.nn import MLP

    def normalised_step(x, g, state, *, lr):
        return x - lr * g / (np.linalg.norm(g) + 1e-12), state

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 5)), rng.integers(0, 3, 60)
    runs = {}
    for elementwise in (False, True):  # True is a lie: it lets fit take the flat path
        rule = optim.Rule("normalised", lambda x: None, normalised_step, {},
                          elementwise=elementwise)
        model = MLP((5, 8, 3), rng=1)
        fit(model, X, y, rule=rule, lr=0.01, num_epochs=2, batch_size=60, rng=3)
        runs[elementwise] = model.params
    by_hand = MLP((5, 8, 3), rng=1)
    opt = optim.Optimizer(normalised_step, lr=0.01)
    for _ in range(2):
        _, grads = by_hand.loss_and_grads(X, y)
        opt.step(by_hand.params, grads)
    for k in by_hand.params:
        np.testing.assert_allclose(runs[False][k], by_hand.params[k], rtol=1e-12)
    assert not all(np.allclose(runs[True][k], by_hand.params[k]) for k in by_hand.params)


def test_parameters_are_updated_in_place():
    X, y = regression_data()
    model = LinearRegression(3, 0)
    w = model.params["w"]
    w0 = w.copy()
    fit(model, X, y, lr=0.1, num_epochs=2, batch_size=10, rng=0)
    assert model.params["w"] is w and not np.array_equal(w, w0)


def test_fit_is_deterministic_given_the_seed():
    X, y = regression_data()
    runs = []
    for seed in (3, 3, 4):
        model = LinearRegression(3, 0)
        runs.append((fit(model, X, y, lr=0.05, num_epochs=3, batch_size=4, rng=seed), model))
    assert runs[0][0].loss_per_step == runs[1][0].loss_per_step
    np.testing.assert_array_equal(runs[0][1].params["w"], runs[1][1].params["w"])
    assert runs[0][0].loss_per_step != runs[2][0].loss_per_step


def test_schedule_sets_the_learning_rate_of_each_step():
    from gdlib.optim import make_schedule

    schedule = make_schedule("exponential_decay", lr0=0.1, gamma=0.9)
    X, y = regression_data(n=30)
    model, ref = LinearRegression(3, 0), LinearRegression(3, 0)
    history = fit(model, X, y, lr=None, schedule=schedule, num_epochs=3, batch_size=7, rng=2)
    losses = hand_loop(ref, X, y, lr=None, schedule=schedule, num_epochs=3, batch_size=7, rng=2,
                       init=optim.sgd_init, step=optim.sgd_step)
    np.testing.assert_array_equal(history.loss_per_step, losses)
    np.testing.assert_array_equal(model.params["w"], ref.params["w"])
    # and it overrides lr: a constant lr would give another run
    other = fit(LinearRegression(3, 0), X, y, lr=0.1, num_epochs=3, batch_size=7, rng=2)
    assert other.loss_per_step != history.loss_per_step


def test_schedule_returning_a_bad_lr_is_an_error():
    X, y = regression_data()
    with pytest.raises(ValueError, match=r"schedule\(3\).*lr=0"):
        fit(LinearRegression(3, 0), X, y, lr=None, schedule=lambda t: 0.1 if t < 3 else 0,
            num_epochs=2, batch_size=5, rng=0)


def test_fit_converges_on_linear_regression():
    X, y = regression_data(n=200)
    model = LinearRegression(3, 0)
    history = fit(model, X, y, lr=0.05, num_epochs=30, batch_size=20, rng=0)
    np.testing.assert_allclose(model.params["w"], [1, 2, 3], atol=0.05)
    assert history.final_loss < 0.02 < history.loss_per_epoch[0]
    assert not history.diverged and history.message.startswith("completed 30 epoch")


def test_mlp_learns_digits():
    from gdlib.data import load_digits
    from gdlib.nn import MLP

    data = load_digits(0)
    model = MLP((64, 32, 10), rng=0)
    history = fit(model, data.X_train, data.y_train, lr=0.1, num_epochs=5, batch_size=32, rng=0,
                  X_val=data.X_val, y_val=data.y_val)
    assert history.val_acc[-1] > 0.85 and history.train_acc[-1] > 0.85
    assert history.val_loss[-1] < history.val_loss[0] / 3
    assert evaluate(model, data.X_test, data.y_test)[1] > 0.85


# ---------------------------------------------------------------- History


def test_history_records_per_epoch_metrics():
    X, y = regression_data(n=30)
    X_val, y_val = regression_data(n=10, seed=1)
    model = LinearRegression(3, 0)
    h = fit(model, X, y, rule="momentum", beta=0.5, lr=0.02, num_epochs=4, batch_size=8, rng=0,
            X_val=X_val, y_val=y_val)
    assert isinstance(h, History)
    assert len(h.loss_per_step) == h.steps == 16
    for key in ("loss_per_epoch", "train_acc", "val_loss", "val_acc"):
        assert len(getattr(h, key)) == 5, key
    assert len(h.epoch_time) == h.num_epochs == 4 and all(t > 0 for t in h.epoch_time)
    assert set(h.grad_norms) == {"w", "b"} and all(len(v) == 4 for v in h.grad_norms.values())
    assert h.final_loss == h.loss_per_epoch[-1]
    assert h.val_loss[-1] == pytest.approx(evaluate(model, X_val, y_val)[0])
    assert h.config["hyper"] == {"beta": 0.5} and h.config["batch_size"] == 8
    rows = h.to_rows()
    assert [r["epoch"] for r in rows] == [0, 1, 2, 3, 4]
    assert rows[0]["epoch_time"] is None and rows[2]["grad_norm[w]"] == h.grad_norms["w"][1]
    assert h.as_dict()["loss_per_step"] == h.loss_per_step


def test_mean_batch_loss_per_epoch_replays_the_epochs_by_hand():
    X, y = regression_data(n=30)
    h = fit(LinearRegression(3, 0), X, y, lr=0.05, num_epochs=3, batch_size=8, rng=4)
    model, rng, expected = LinearRegression(3, 0), np.random.default_rng(4), []
    for _ in range(3):  # fit's loop by hand: size-weighted batch losses, each before its update
        total = 0.0
        for X_b, y_b in iterate_minibatches(X, y, 8, rng):
            loss, grads = model.loss_and_grads(X_b, y_b)
            total += len(y_b) * loss
            for key in model.params:
                model.params[key] -= 0.05 * grads[key]
        expected.append(total / 30)
    np.testing.assert_allclose(h.mean_batch_loss_per_epoch(), expected, rtol=1e-12)
    full = fit(LinearRegression(3, 0), X, y, lr=0.05, num_epochs=2, batch_size=None, rng=0)
    assert full.mean_batch_loss_per_epoch() == pytest.approx(full.loss_per_step, rel=1e-15)
    assert full.mean_batch_loss_per_epoch() == pytest.approx(full.loss_per_epoch[:-1], rel=1e-12)
    with pytest.raises(ValueError, match="needs the History of a fit call"):
        History().mean_batch_loss_per_epoch()


def test_mean_batch_loss_per_epoch_leaves_out_the_epoch_a_divergence_cut_short():
    X, y = regression_data(n=30)
    with pytest.warns(DivergenceWarning):
        h = fit(LinearRegression(3, 0), X, y, lr=1.0, num_epochs=50, batch_size=8, rng=0)
    assert h.diverged and h.num_epochs == 2 and len(h.loss_per_step) == 2 * 4 + 3
    means = h.mean_batch_loss_per_epoch()
    assert len(means) == 2 and means[1] == pytest.approx(
        (8 * sum(h.loss_per_step[4:7]) + 6 * h.loss_per_step[7]) / 30, rel=1e-12)


def test_grad_norms_are_the_mean_norm_over_the_epoch():
    X, y = regression_data()
    model, ref = LinearRegression(3, 0), LinearRegression(3, 0)
    h = fit(model, X, y, lr=0.05, num_epochs=2, batch_size=None, rng=0)
    _, g = ref.loss_and_grads(X, y)
    assert h.grad_norms["w"][0] == pytest.approx(np.linalg.norm(g["w"]), rel=1e-12)
    h = fit(LinearRegression(3, 0), X, y, lr=0.05, num_epochs=1, batch_size=40, rng=0,
            record_grad_norms=False)
    assert h.grad_norms == {}


def test_callback_can_stop_training():
    X, y = regression_data()
    seen = []

    def callback(epoch, history):
        seen.append((epoch, len(history.loss_per_epoch)))
        return epoch == 2

    h = fit(LinearRegression(3, 0), X, y, lr=0.05, num_epochs=10, batch_size=10, rng=0,
            callback=callback)
    assert seen == [(0, 1), (1, 2), (2, 3)]
    assert h.num_epochs == 2 and "callback" in h.message and not h.diverged


# ---------------------------------------------------------------- divergence


def assert_clean(history, model):
    assert history.diverged and history.diverged_at == len(history.loss_per_step)
    assert history.message.startswith("diverged at epoch")
    assert all(math.isfinite(v) for v in history.loss_per_step + history.loss_per_epoch)
    assert all(math.isfinite(v) for norms in history.grad_norms.values() for v in norms)
    assert all(np.all(np.isfinite(p)) for p in model.params.values())
    assert len(history.epoch_time) == len(history.loss_per_epoch) - 1


@pytest.mark.parametrize("lr", [5.0, 1e6])
def test_divergence_is_flagged_and_leaves_no_nan(lr):
    X, y = regression_data()
    model = LinearRegression(3, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy overflow must not leak out
        with pytest.warns(DivergenceWarning, match="diverged at epoch .* step .*lr="):
            h = fit(model, X, y, lr=lr, num_epochs=50, batch_size=10, rng=0)
    assert_clean(h, model)
    assert h.diverged_at < 50 * 4


def test_divergence_restores_the_last_finite_parameters():
    X, y = regression_data()
    model = LinearRegression(3, 0)
    with pytest.warns(DivergenceWarning):
        h = fit(model, X, y, lr=3.0, num_epochs=500, batch_size=None, rng=0,
                divergence_factor=None)  # run until something overflows
    assert_clean(h, model)
    assert h.steps == h.diverged_at > 10
    assert float(np.sum(model.params["w"] ** 2)) > 1e100  # huge, but finite


def test_divergence_of_an_mlp():
    from gdlib.nn import MLP

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 4)) * 10, rng.integers(0, 3, 64)
    model = MLP((4, 16, 3), rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.warns(DivergenceWarning):
            h = fit(model, X, y, rule="sgd", lr=1e4, num_epochs=30, batch_size=8, rng=0)
    assert_clean(h, model)


def test_divergence_warning_is_a_user_warning():
    assert issubclass(DivergenceWarning, UserWarning)
    assert not issubclass(DivergenceWarning, RuntimeWarning)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(lr=0), ValueError, "lr=0"),
    (dict(lr=-1), ValueError, "lr=-1"),
    (dict(lr=float("nan")), ValueError, "lr=nan"),
    (dict(lr=None), ValueError, "lr=None"),
    (dict(lr="0.1"), TypeError, "lr='0.1'"),
    (dict(batch_size=0), ValueError, "batch_size=0"),
    (dict(batch_size=41), ValueError, "batch_size=41"),
    (dict(num_epochs=0), ValueError, "num_epochs=0"),
    (dict(num_epochs=2.0), TypeError, "num_epochs=2.0"),
    (dict(rule="sdg"), ValueError, "rule='sdg'"),
    (dict(rule=42), TypeError, "rule=42"),
    (dict(beta=0.9), TypeError, "beta"),
    (dict(rule="adam", gamma=0.9), TypeError, "gamma"),
    (dict(rng=None), TypeError, "rng=None"),
    (dict(X_val=np.zeros((3, 3))), ValueError, "X_val and y_val"),
    (dict(X_val=np.zeros((3, 2)), y_val=np.zeros(3)), ValueError, "X_val"),
    (dict(divergence_factor=0), ValueError, "divergence_factor=0"),
    (dict(schedule=0.1), TypeError, "schedule=0.1"),
    (dict(callback="stop"), TypeError, "callback='stop'"),
])
def test_fit_argument_errors(kwargs, error, match):
    X, y = regression_data()
    args = dict(lr=0.1, num_epochs=1, batch_size=10, rng=0) | kwargs
    with pytest.raises(error, match=match):
        fit(LinearRegression(3, 0), X, y, **args)


@pytest.mark.parametrize("X_change, y_change, match", [
    (lambda X: np.where(np.arange(40)[:, None] == 3, np.nan, X), None, "X contains 3 NaN"),
    (lambda X: np.where(np.arange(40)[:, None] == 3, np.inf, X), None, "X contains"),
    (None, lambda y: np.where(np.arange(40) == 0, np.nan, y), "y contains NaN"),
    (None, lambda y: y[:-1], "X and y must have the same number of rows.*40.*39"),
    (lambda X: X[:, 0], None, "X must have at least 2 dimensions"),
])
def test_fit_data_errors(X_change, y_change, match):
    X, y = regression_data()
    X = X_change(X) if X_change else X
    y = y_change(y) if y_change else y
    with pytest.raises(ValueError, match=match):
        fit(LinearRegression(3, 0), X, y, lr=0.1, num_epochs=1, rng=0)


def test_a_step_that_returns_no_state_is_explained():
    X, y = regression_data()
    with pytest.raises(TypeError, match="pair"):
        fit(LinearRegression(3, 0), X, y, rule=lambda x, g, s, *, lr: x - lr * g, lr=0.1,
            num_epochs=1, rng=0)


def test_a_model_evaluate_method_replaces_the_extra_passes():
    class Counting(LinearRegression):
        calls = 0

        def loss_and_grads(self, X, y, *, rng=None, train=True):
            assert train, "evaluation must go through evaluate()"
            return super().loss_and_grads(X, y, rng=rng, train=train)

        def evaluate(self, X, y):
            Counting.calls += 1
            r = self.predict(X) - y
            return float(r @ r / len(y)), 0.5

    X, y = regression_data()
    h = fit(Counting(3, 0), X, y, lr=0.05, num_epochs=3, batch_size=10, rng=0, X_val=X, y_val=y)
    assert Counting.calls == 8 and h.train_acc == [0.5] * 4 and h.val_acc == [0.5] * 4
    assert h.loss_per_epoch == h.val_loss
    assert evaluate(Counting(3, 0), X, y)[1] == 0.5


@pytest.mark.parametrize("grads, error, match", [
    ({"w": np.zeros(3)}, KeyError, "no entry for parameter 'b'"),
    ({"w": np.zeros((3, 1)), "b": np.zeros(1)}, ValueError, r"grads\['w'\] must have the shape"),
])
def test_gradients_that_do_not_match_the_parameters_are_explained(grads, error, match):
    class Broken(LinearRegression):
        def loss_and_grads(self, X, y, *, rng=None, train=True):
            return 1.0, grads

    X, y = regression_data()
    with pytest.raises(error, match=match):
        fit(Broken(3, 0), X, y, lr=0.1, num_epochs=1, rng=0)


def test_parameters_must_be_float_arrays():
    model = LinearRegression(3, 0)
    model.params["w"] = [1.0, 2.0, 3.0]
    X, y = regression_data()
    with pytest.raises(TypeError, match=r"model.params\['w'\] must be a writeable float"):
        fit(model, X, y, lr=0.1, num_epochs=1, rng=0)


def test_sequences_and_token_ids_train_too():
    from gdlib.data import price_series, sentiment
    from gdlib.nn import RNNClassifier, RNNRegressor

    series = price_series(300, seed=0, window=8)
    model = RNNRegressor(1, 6, rng=0)
    h = fit(model, series.X_train, series.y_train, lr=0.05, num_epochs=3, batch_size=16, rng=0,
            X_val=series.X_val, y_val=series.y_val)
    assert h.loss_per_epoch[-1] < h.loss_per_epoch[0] and len(h.val_loss) == 4

    reviews = sentiment(120, seed=0, vocab_size=100, seq_len=12)
    tokens = reviews.X_train
    batches = list(iterate_minibatches(tokens, reviews.y_train, 32, 0))
    assert batches[0][0].dtype == tokens.dtype == np.int64  # token ids stay integers
    model = RNNClassifier(100, 8, 2, rng=0, embed_dim=4)
    h = fit(model, tokens, reviews.y_train, rule="adam", lr=0.01, num_epochs=2, batch_size=32,
            rng=0)
    assert h.steps == 2 * math.ceil(len(tokens) / 32) and not h.diverged


def test_a_model_error_is_not_mistaken_for_divergence():
    class FailsOnSmallBatches(LinearRegression):
        def loss_and_grads(self, X, y, *, rng=None, train=True):
            if len(y) < 5:
                raise ValueError("this model needs 5 examples per batch")
            return super().loss_and_grads(X, y, rng=rng, train=train)

    X, y = regression_data(n=42)  # the last batch of each epoch has 2 examples
    with pytest.raises(ValueError, match="5 examples"):
        fit(FailsOnSmallBatches(3, 0), X, y, lr=0.01, num_epochs=2, batch_size=10, rng=0)


def test_a_model_that_starts_non_finite_is_flagged_before_any_step():
    X, y = regression_data()
    model = LinearRegression(3, 0)
    model.params["w"][:] = 1e200  # the squared residuals overflow
    with pytest.warns(DivergenceWarning, match="initial loss"):
        h = fit(model, X, y, lr=0.1, num_epochs=3, batch_size=10, rng=0)
    assert h.diverged and h.diverged_at == 0 and h.loss_per_epoch == [] and h.train_acc == []
    assert h.steps == 0 and math.isnan(h.final_loss)


# ---------------------------------------------------------------- gdlib's MLP: checked once


class PublicOnly:
    """An MLP seen only through its public methods: fit takes its general path."""

    def __init__(self, model):
        self.model, self.params = model, model.params

    def loss_and_grads(self, X, y, **kwargs):
        return self.model.loss_and_grads(X, y, **kwargs)

    def predict(self, X):
        return self.model.predict(X)

    def score(self, X, y):
        return self.model.score(X, y)


def mlp_problem(loss, n=70, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = {"softmax": rng.integers(0, 3, n), "binary": rng.integers(0, 2, n).astype(float),
         "mse": X[:, :2] @ rng.normal(size=(2, 2))}[loss]
    return X, y, {"softmax": 3, "binary": 1, "mse": 2}[loss]


@pytest.mark.parametrize("loss, model_options, fit_options", [
    ("softmax", {}, dict(rule="sgd", batch_size=16)),
    ("softmax", dict(dropout=0.3, l2=0.01), dict(rule="momentum", beta=0.7, batch_size=9)),
    ("softmax", dict(l1=0.001), dict(rule="adam", batch_size=None, schedule=lambda t: 0.01 / (1 + t))),
    ("mse", {}, dict(rule="rmsprop", batch_size=32)),
    ("binary", dict(dropout=0.2), dict(rule=(optim.sgd_init, optim.sgd_step), batch_size=20)),
])
def test_mlp_fit_updates_its_flat_vector_to_the_same_numbers(loss, model_options, fit_options):
    """An MLP's parameters are views into one flat vector, which fit updates directly; seen
    through its public methods with separate parameter arrays (fit then concatenates them into
    a vector of its own and copies every update back), every number must be the same."""
    from gdlib.nn import MLP

    X, y, k = mlp_problem(loss)
    runs = []
    for wrap in (lambda m: m, PublicOnly):
        model = MLP((5, 8, 6, k), "relu", rng=1, loss=loss, **model_options)
        if wrap is PublicOnly:
            model.params = {key: value.copy() for key, value in model.params.items()}
        assert (_flat_buffer(list(model.params.values())) is None) == (wrap is PublicOnly)
        lr = None if "schedule" in fit_options else 0.05
        h = fit(wrap(model), X, y, lr=lr, num_epochs=3, rng=2, X_val=X[:15], y_val=y[:15],
                **fit_options)
        runs.append((h.as_dict(), model))
    (fast, fast_model), (public, public_model) = runs
    for key in fast:
        if key != "epoch_time":
            assert fast[key] == public[key], key
    for key in fast_model.params:
        np.testing.assert_array_equal(fast_model.params[key], public_model.params[key])
    # after fit the hidden layers are those of the last evaluation (the validation set)
    for Z, Z_public in zip(fast_model.last_preactivations, public_model.last_preactivations, strict=True):
        np.testing.assert_array_equal(Z, Z_public)
        assert Z.shape[0] == 15


def test_a_subclass_of_mlp_keeps_its_own_methods_in_fit():
    from gdlib.nn import MLP

    class Counting(MLP):
        calls = 0

        def loss_and_grads(self, X, y, **kwargs):
            Counting.calls += 1
            return super().loss_and_grads(X, y, **kwargs)

    X, y, k = mlp_problem("softmax")
    fit(Counting((5, 4, k), rng=0), X, y, lr=0.1, num_epochs=2, batch_size=35, rng=0)
    assert Counting.calls == 3 + 2 * 2  # evaluations (epochs 0, 1, 2), then 2 steps per epoch


def test_mlp_data_errors_in_fit_are_the_models():
    from gdlib.nn import MLP

    X, y, k = mlp_problem("softmax")
    args = dict(lr=0.1, num_epochs=1, batch_size=10, rng=0)
    with pytest.raises(ValueError, match=r"X must have 4 columns \(sizes\[0\]=4\), got X of shape \(70, 5\)"):
        fit(MLP((4, 3), rng=0), X, y, **args)
    with pytest.raises(ValueError, match=r"y must hold class labels in 0\.\.1 .* got y containing 2"):
        fit(MLP((5, 2), rng=0), X, y, **args)
    with pytest.raises(ValueError, match=r"y must hold class labels in 0\.\.2 .* got y containing 7"):
        fit(MLP((5, 3), rng=0), X, y, X_val=X[:3], y_val=np.array([0, 7, 1]), **args)


def test_fit_trace_and_optimizer_resolve_a_rule_the_same_way():
    """One resolver (get_rule): a bare stateless step runs everywhere, with state None, and
    an explicit init replaces the rule's own (and its registry settings)."""
    from gdlib.landscapes import quadratic, trace
    from gdlib.optim import RULES, Optimizer, get_rule

    def halving_step(x, g, state, *, lr, shrink=0.5):
        return x - lr * shrink * g, state

    rule = get_rule(halving_step)
    assert rule.name == "halving_step" and rule.init(np.zeros(2)) is None
    assert rule.defaults == {"shrink": 0.5} and not rule.elementwise
    assert get_rule("adam", init=optim.adamw_init).init is optim.adamw_init
    assert not get_rule("adam", init=optim.adamw_init).elementwise
    assert get_rule("adam", init=optim.adam_init) is RULES["adam"]

    t = trace(quadratic(4.0), halving_step, [1.0, 1.0], lr=0.1, num_steps=3)
    ours = trace(quadratic(4.0), "sgd", [1.0, 1.0], lr=0.05, num_steps=3)
    np.testing.assert_allclose(t.path, ours.path, rtol=1e-12)
    params = {"w": np.ones(3)}
    opt = Optimizer(halving_step, lr=0.1)
    opt.step(params, {"w": np.ones(3)})
    np.testing.assert_allclose(params["w"], 0.95)

    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20.0)
    half, full = LinearRegression(3, 0), LinearRegression(3, 0)
    fit(half, X, y, rule=halving_step, lr=0.2, num_epochs=2, batch_size=5, rng=0)
    fit(full, X, y, rule="sgd", lr=0.1, num_epochs=2, batch_size=5, rng=0)
    for key in full.params:
        np.testing.assert_allclose(half.params[key], full.params[key], rtol=1e-12)

    runners = (
        lambda rule, **h: trace(quadratic(4.0), rule, [1.0, 1.0], lr=0.1, num_steps=3, **h),
        lambda rule, **h: Optimizer(rule, lr=0.1, **h),
        lambda rule, **h: fit(LinearRegression(3, 0), X, y, rule=rule, lr=0.1, num_epochs=1,
                              rng=0, **h),
    )
    for run_with in runners:
        with pytest.raises(ValueError, match="unknown rule 'lion'.*rule='lion'"):
            run_with("lion")
        with pytest.raises(TypeError, match="'sgd' does not accept the hyperparameters beta=0.9"):
            run_with("sgd", beta=0.9)

