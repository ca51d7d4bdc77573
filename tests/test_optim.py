"""Tests for gdlib.optim: golden hand-computed steps, properties, convergence, errors."""

import inspect
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gdlib import optim
from gdlib.optim import rules, RULES, Optimizer, Rule, get_rule

NAMES = list(RULES)
# Hyperparameters with which every rule is sensible on the problems below (from the registry).
HYPER = {name: rule.test_hyper for name, rule in RULES.items()}


def run(name, x, grads, **hyper):
    """Apply rule ``name`` to the gradients in turn; return the list of points x_1, x_2, ..."""
    rule = RULES[name]
    state, xs = rule.init(x), []
    for g in grads:
        x, state = rule.step(x, np.asarray(g, dtype=float), state, **hyper)
        xs.append(x)
    return xs


# ---------------------------------------------------------------- golden, by hand


def test_sgd_golden():
    # x0 = (1, -2), lr = 0.1
    # g1 = (0.5, 1):  x1 = (1 - 0.05, -2 - 0.1) = (0.95, -2.1)
    # g2 = (1, -1):   x2 = (0.95 - 0.1, -2.1 + 0.1) = (0.85, -2.0)
    xs = run("sgd", np.array([1.0, -2.0]), [[0.5, 1.0], [1.0, -1.0]], lr=0.1)
    np.testing.assert_allclose(xs, [[0.95, -2.1], [0.85, -2.0]], rtol=1e-12)


def test_momentum_golden():
    # lr = 0.1, beta = 0.9, x0 = (1, 0), gradients (1, 2), (1, -1), (1, 0)
    # coordinate 0: v1 = 1,    x1 = 1 - 0.1          = 0.9
    #               v2 = 1.9,  x2 = 0.9 - 0.19       = 0.71
    #               v3 = 2.71, x3 = 0.71 - 0.271     = 0.439
    # coordinate 1: v1 = 2,    x1 = 0 - 0.2          = -0.2
    #               v2 = 1.8 - 1 = 0.8,  x2 = -0.2 - 0.08    = -0.28
    #               v3 = 0.72 + 0 = 0.72, x3 = -0.28 - 0.072 = -0.352
    xs = run("momentum", np.array([1.0, 0.0]), [[1, 2], [1, -1], [1, 0]], lr=0.1, beta=0.9)
    np.testing.assert_allclose(xs, [[0.9, -0.2], [0.71, -0.28], [0.439, -0.352]], rtol=1e-12)


def test_nesterov_golden_look_ahead():
    # lr = 0.1, beta = 0.9, x0 = 1, constant gradient g = 1; the step is g + beta * v:
    # v1 = 1,    step 1 + 0.9   = 1.9,   x1 = 1 - 0.19      = 0.81
    # v2 = 1.9,  step 1 + 1.71  = 2.71,  x2 = 0.81 - 0.271  = 0.539
    # v3 = 2.71, step 1 + 2.439 = 3.439, x3 = 0.539 - 0.3439 = 0.1951
    xs = run("nesterov", np.array([1.0]), [[1.0]] * 3, lr=0.1, beta=0.9)
    np.testing.assert_allclose(np.ravel(xs), [0.81, 0.539, 0.1951], rtol=1e-12)
    # Look-ahead: under a constant gradient, nesterov's step t is momentum's velocity t + 1,
    # so nesterov after 3 steps is where momentum would be after 4 minus momentum's first step.
    mom = run("momentum", np.array([1.0]), [[1.0]] * 4, lr=0.1, beta=0.9)
    np.testing.assert_allclose(xs[-1], mom[-1] + 0.1 * 1.0, rtol=1e-12)


def test_adagrad_golden():
    # lr = 0.1, eps = 0, x0 = (1, 1)
    # g1 = (3, 4):  G1 = (9, 16),   steps 0.1 * (3/3, 4/4)  = (0.1, 0.1),  x1 = (0.9, 0.9)
    # g2 = (4, 3):  G2 = (25, 25),  steps 0.1 * (4/5, 3/5)  = (0.08, 0.06), x2 = (0.82, 0.84)
    # g3 = (0, 12): G3 = (25, 169), steps (0, 0.1 * 12/13),  x3 = (0.82, 0.84 - 0.0923076923)
    grads = [[3, 4], [4, 3], [0, 12]]
    xs = run("adagrad", np.array([1.0, 1.0]), grads, lr=0.1, eps=0.0)
    expected = [[0.9, 0.9], [0.82, 0.84], [0.82, 0.84 - 1.2 / 13]]
    np.testing.assert_allclose(xs, expected, rtol=1e-12)
    # The default eps = 1e-8 sits outside the square root and changes nothing visible here.
    np.testing.assert_allclose(run("adagrad", np.ones(2), grads, lr=0.1), expected, rtol=1e-7)


def test_rmsprop_golden():
    # lr = 0.1, rho = 0.75, eps = 0, x0 = 0
    # g1 = 2: s1 = 0.25 * 4 = 1,              x1 = 0 - 0.1 * 2 / 1 = -0.2
    # g2 = 4: s2 = 0.75 * 1 + 0.25 * 16 = 4.75, sqrt(4.75) = 2.1794494718,
    #         x2 = -0.2 - 0.1 * 4 / 2.1794494718 = -0.2 - 0.1835325871 = -0.3835325871
    rule = RULES["rmsprop"]
    x, s = np.zeros(1), rule.init(np.zeros(1))
    x, s = rule.step(x, np.array([2.0]), s, lr=0.1, rho=0.75, eps=0.0)
    np.testing.assert_allclose([x[0], s.s[0]], [-0.2, 1.0], rtol=1e-12)
    x, s = rule.step(x, np.array([4.0]), s, lr=0.1, rho=0.75, eps=0.0)
    np.testing.assert_allclose([x[0], s.s[0]], [-0.3835325871, 4.75], rtol=1e-9)


def test_adam_golden_bias_correction():
    # lr = 0.1, beta1 = 0.9, beta2 = 0.999, eps = 0, x0 = 0
    # t=1, g = 2:  m = 0.1*2 = 0.2, v = 0.001*4 = 0.004
    #              m_hat = 0.2/0.1 = 2, v_hat = 0.004/0.001 = 4,  x1 = -0.1 * 2/2 = -0.1
    #              (without bias correction the step would be 0.1*0.2/sqrt(0.004) = 0.316)
    # t=2, g = -1: m = 0.18 - 0.1 = 0.08, v = 0.003996 + 0.001 = 0.004996
    #              m_hat = 0.08/0.19 = 0.4210526316, v_hat = 0.004996/0.001999 = 2.4992496248
    #              x2 = -0.1 - 0.1 * 0.4210526316/1.5809015228 = -0.1266337040
    # t=3, g = 0.5: m = 0.072 + 0.05 = 0.122, v = 0.004991004 + 0.00025 = 0.005241004
    #              m_hat = 0.122/0.271 = 0.4501845018, v_hat = 0.005241004/0.002997001 = 1.7487495
    #              x3 = -0.1266337040 - 0.1 * 0.4501845018/1.3224029 = -0.1606766188
    rule = RULES["adam"]
    x, state = np.zeros(1), rule.init(np.zeros(1))
    assert state.t == 0
    expected = [(-0.1, 0.2, 0.004), (-0.1266337040, 0.08, 0.004996), (-0.1606766188, 0.122, 0.005241004)]
    for t, (g, (x_exp, m_exp, v_exp)) in enumerate(zip([2.0, -1.0, 0.5], expected), start=1):
        x, state = rule.step(x, np.array([g]), state, lr=0.1, eps=0.0)
        assert state.t == t and isinstance(state.t, int)
        np.testing.assert_allclose([x[0], state.m[0], state.v[0]], [x_exp, m_exp, v_exp], rtol=1e-9)


@pytest.mark.parametrize("name, hyper, g, x1", [
    # eps = 1 makes its place visible: lr * g / (sqrt(acc) + eps), not lr * g / sqrt(acc + eps)
    ("adagrad", {}, 3.0, -0.1 * 3 / (3 + 1)),  # G = 9; inside it would be 0.3 / sqrt(10)
    ("rmsprop", {"rho": 0.75}, 2.0, -0.1 * 2 / (1 + 1)),  # s = 0.25 * 4 = 1
    ("adam", {}, 2.0, -0.1 * 2 / (2 + 1)),  # m_hat = 2, v_hat = 4
])
def test_eps_sits_outside_the_square_root(name, hyper, g, x1):
    (x,) = run(name, np.zeros(1), [[g]], lr=0.1, eps=1.0, **hyper)
    np.testing.assert_allclose(x, [x1], rtol=1e-12)


def test_eps_zero_and_zero_gradient_does_not_make_nan():
    for name in ["adagrad", "rmsprop", "adam"]:
        (x1,) = run(name, np.array([1.0, 2.0]), [[0.0, 1.0]], lr=0.1, eps=0.0)
        assert x1[0] == 1.0 and np.isfinite(x1).all()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("hyperparameters", ["test", "drawn"])
def test_torch_agrees_over_20_steps(name, hyperparameters):
    """The registry's torch twin takes the same 20 steps, with the rule's test settings and
    with other values drawn from its check ranges (no hyperparameter left at a default)."""
    torch = pytest.importorskip("torch")
    rule = RULES[name]
    rng = np.random.default_rng(0)
    x0, grads = rng.normal(size=(3, 4)), rng.normal(size=(20, 3, 4))
    hyper = {**rule.defaults, **rule.test_hyper}
    if hyperparameters == "drawn":
        hyper.update({k: r.draw(rng) for k, r in rule.check_ranges.items()})
        assert all(hyper[k] != v for k, v in rule.defaults.items())
    p = torch.tensor(x0.copy(), dtype=torch.float64, requires_grad=True)
    opt = rule.torch([p], **hyper)
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    expected = run(name, x0, grads, **hyper)[-1]
    np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-10, atol=1e-12)


def test_every_rule_has_its_settings():
    for name, rule in RULES.items():
        assert rule.color and rule.marker and rule.torch and rule.test_tolerance > 0
        assert "lr" in rule.test_hyper and len(rule.lr_grid) >= 3
        assert set(rule.check_ranges) == set(rule.defaults), name
        assert all(0 <= r.low < r.high for r in rule.check_ranges.values()), name


def test_a_rule_without_a_check_range_is_refused():
    def shrink_step(x, g, state, *, lr, weight_decay=0.01):
        return x - lr * (g + weight_decay * x), state

    with pytest.raises(ValueError, match=r"'shrink'.*Range for each.*\['weight_decay'\], got \[\]"):
        rules._register(optim.sgd_init, shrink_step)
    assert "shrink" not in RULES


# ---------------------------------------------------------------- properties

SHAPES = st.sampled_from([(), (1,), (4,), (2, 3, 2)])
DTYPES = st.sampled_from([np.float32, np.float64])


@st.composite
def point_and_grads(draw, num_grads=3, dtype=None):
    """An array x and a few gradients of its shape and dtype (moderate values: no overflow)."""
    shape, dtype = draw(SHAPES), dtype or draw(DTYPES)
    elements = st.floats(-10, 10, width=32)
    x = draw(hnp.arrays(dtype, shape, elements=elements))
    grads = [draw(hnp.arrays(dtype, shape, elements=elements)) for _ in range(num_grads)]
    return x, grads


LRS = st.floats(1e-3, 1.0)


@settings(max_examples=50, deadline=None)
@given(point_and_grads(), LRS, st.sampled_from(["momentum", "nesterov"]))
def test_beta_zero_is_sgd(data, lr, name):
    x, grads = data
    for a, b in zip(run(name, x, grads, lr=lr, beta=0.0), run("sgd", x, grads, lr=lr)):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=60, deadline=None)
@given(point_and_grads(), st.sampled_from(NAMES))
def test_inputs_never_mutated_and_shape_dtype_kept(data, name):
    x, grads = data
    rule = RULES[name]
    state = rule.init(x)
    assert all(np.shape(a) == x.shape and a.dtype == x.dtype for a in state if hasattr(a, "shape"))
    for g in grads:
        x_copy, g_copy = x.copy(), g.copy()
        state_copy = [np.copy(a) for a in state]
        x_new, state_new = rule.step(x, g, state, **HYPER[name])
        np.testing.assert_array_equal(x, x_copy)
        np.testing.assert_array_equal(g, g_copy)
        for a, a_copy in zip(state, state_copy):
            np.testing.assert_array_equal(a, a_copy)
        assert isinstance(x_new, np.ndarray) and x_new is not x
        assert x_new.shape == x.shape and x_new.dtype == x.dtype
        for a in state_new:
            if isinstance(a, np.ndarray):
                assert a.shape == x.shape and a.dtype == x.dtype
        x, state = x_new, state_new


@settings(max_examples=60, deadline=None)
@given(point_and_grads(num_grads=4), st.sampled_from(NAMES))
def test_unchecked_updates_are_the_public_steps_bit_for_bit(data, name):
    """fit checks once, then runs step.__wrapped__: the same arithmetic, no checks."""
    x, grads = data
    rule = RULES[name]
    update = rule.step.__wrapped__
    hyper = HYPER[name]
    state_a = state_b = rule.init(x)
    x_a = x_b = x
    for g in grads:
        x_a, state_a = rule.step(x_a, g, state_a, **hyper)
        x_b, state_b = update(x_b, g, state_b, **hyper)
        np.testing.assert_array_equal(x_a, x_b)
        assert x_b.dtype == x_a.dtype and type(state_b) is type(state_a)
        for a, b in zip(state_a, state_b):
            np.testing.assert_array_equal(a, b)


def test_every_rule_is_its_arithmetic_wrapped_in_the_checks():
    for name in NAMES:
        step = RULES[name].step
        assert step.__name__ == f"{name}_step" and "math::" in step.__doc__
        assert inspect.signature(step) == inspect.signature(step.__wrapped__)
        assert not hasattr(step.__wrapped__, "__wrapped__")
        state = RULES[name].init(np.zeros(2))
        with pytest.raises(ValueError, match="lr=0"):
            RULES[name].step(np.zeros(2), np.ones(2), state, lr=0)
        with pytest.raises(ValueError, match="g contains 1 NaN"):
            RULES[name].step(np.zeros(2), np.array([1.0, np.nan]), state, lr=0.1)


@st.composite
def nonzero_or_zero_grads(draw):
    shape = draw(st.sampled_from([(1,), (5,), (2, 3)]))
    magnitude = st.floats(1e-3, 1e3)
    element = st.one_of(st.just(0.0), magnitude, magnitude.map(lambda v: -v))
    return draw(hnp.arrays(np.float64, shape, elements=element))


@settings(max_examples=60, deadline=None)
@given(nonzero_or_zero_grads(), LRS)
def test_adam_first_step_moves_each_coordinate_by_about_lr(g, lr):
    x = np.linspace(-1, 1, g.size).reshape(g.shape)
    x1, state = optim.adam_step(x, g, optim.adam_init(x), lr=lr)
    # m_hat = g and v_hat = g^2 after bias correction, so the step is lr * g / (|g| + eps).
    np.testing.assert_allclose(np.abs(x1 - x)[g != 0], lr, rtol=1e-4)
    np.testing.assert_array_equal(x1[g == 0], x[g == 0])
    assert state.t == 1


@settings(max_examples=50, deadline=None)
@given(point_and_grads(num_grads=6, dtype=np.float64), LRS)
def test_adagrad_effective_step_never_increases(data, lr):
    x, grads = data
    state, previous = optim.adagrad_init(x), np.full(x.shape, np.inf)
    for g in grads:
        x, state = optim.adagrad_step(x, g, state, lr=lr)
        effective = lr / (np.sqrt(state.G) + 1e-8)
        assert np.all(effective <= previous)
        previous = effective


@settings(max_examples=50, deadline=None)
@given(point_and_grads(num_grads=5, dtype=np.float64), st.floats(0.0, 0.99))
def test_rmsprop_state_is_exponential_moving_average(data, rho):
    x, grads = data
    state = optim.rmsprop_init(x)
    for g in grads:
        x, state = optim.rmsprop_step(x, g, state, lr=0.01, rho=rho)
    # s_T = (1 - rho) * sum_k rho^(T - k) g_k^2, k = 1..T
    T = len(grads)
    ema = sum((1 - rho) * rho ** (T - k) * g**2 for k, g in enumerate(grads, start=1))
    np.testing.assert_allclose(state.s, ema, rtol=1e-10, atol=1e-300)


# ---------------------------------------------------------------- convergence


@pytest.mark.parametrize("name", NAMES)
def test_converges_on_ill_conditioned_quadratic(name):
    # f(x) = 0.5 x^T A x - b^T x with eigenvalues 1 and 10 along rotated axes;
    # grad f(x) = A x - b, minimiser x* = A^{-1} b.
    angle = np.pi / 6
    R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    A = R @ np.diag([1.0, 10.0]) @ R.T
    b = np.array([1.0, -2.0])
    x_star = np.linalg.solve(A, b)
    rule, hyper = RULES[name], HYPER[name]
    x = np.array([3.0, 3.0])
    state = rule.init(x)
    for _ in range(1000):
        x, state = rule.step(x, A @ x - b, state, **hyper)
    # RMSprop with a constant lr ends in a small orbit of size about lr around the minimiser.
    assert np.linalg.norm(x - x_star) < max(rule.test_tolerance, 1e-6)


# ---------------------------------------------------------------- AdamW


def test_adamw_golden():
    # x0 = 1, lr = 0.1, weight_decay = 0.5, eps = 0; the decay factor is 1 - 0.1 * 0.5 = 0.95
    # g1 = 2:   m1 = 0.2,   v1 = 0.004;     m_hat = 2, v_hat = 4,  x1 = 0.95 - 0.1 * 2 / 2 = 0.85
    # g2 = -2:  m2 = 0.18 - 0.2 = -0.02,    m_hat = -0.02 / 0.19
    #           v2 = 0.003996 + 0.004 = 0.007996,  v_hat = 0.007996 / 0.001999 = 4
    #           x2 = 0.95 * 0.85 + 0.1 * (0.02 / 0.19) / 2
    xs = run("adamw", np.array([1.0]), [[2.0], [-2.0]], lr=0.1, weight_decay=0.5, eps=0.0)
    np.testing.assert_allclose(np.ravel(xs), [0.85, 0.8075 + 0.001 / 0.19], rtol=1e-12)


def test_adamw_decay_is_decoupled_from_the_adaptive_step():
    # zero gradients: Adam stands still, AdamW shrinks x by exactly (1 - lr * weight_decay) per step
    x0, lr = np.array([2.0, -0.5, 0.0]), 0.01
    for weight_decay in (1e-3, 0.1):
        xs = run("adamw", x0, [np.zeros(3)] * 50, lr=lr, weight_decay=weight_decay)
        np.testing.assert_allclose(xs[-1], (1 - lr * weight_decay) ** 50 * x0, rtol=1e-12)
    # the same penalty as an L2 gradient g = lambda x is divided by sqrt(v_hat): Adam then
    # moves by about lr whatever lambda is; AdamW's shrinkage is proportional to lambda
    def adam_l2(weight_decay, x=np.array([1.0]), state=optim.adam_init(np.zeros(1))):
        for _ in range(50):
            x, state = optim.adam_step(x, weight_decay * x, state, lr=lr)
        return x
    np.testing.assert_allclose(adam_l2(1e-3), adam_l2(0.1), rtol=1e-4)  # up to eps / g
    small, large = (run("adamw", np.array([1.0]), [[0.0]] * 50, lr=lr, weight_decay=wd)[-1]
                    for wd in (1e-3, 0.1))
    assert (1 - small[0]) / (1 - large[0]) == pytest.approx(1e-3 / 0.1, rel=0.05)


@settings(max_examples=40, deadline=None)
@given(point_and_grads(num_grads=4), LRS)
def test_adamw_without_weight_decay_is_adam(data, lr):
    x, grads = data
    for a, b in zip(run("adamw", x, grads, lr=lr, weight_decay=0.0), run("adam", x, grads, lr=lr)):
        np.testing.assert_array_equal(a, b)


def test_adamw_converges_to_a_minimiser_at_the_origin():
    # there the decay and the gradient agree, so AdamW converges as fully as Adam
    A = np.diag([1.0, 10.0])
    x, state = np.array([3.0, -2.0]), optim.adamw_init(np.zeros(2))
    for _ in range(1000):
        x, state = optim.adamw_step(x, A @ x, state, lr=0.05, weight_decay=0.1)
    assert np.linalg.norm(x) < 1e-8


def test_bad_weight_decay():
    x = np.zeros(2)
    with pytest.raises(ValueError, match="weight_decay=-0.1"):
        optim.adamw_step(x, np.ones(2), optim.adamw_init(x), lr=0.1, weight_decay=-0.1)
    with pytest.raises(TypeError, match="AdamWState as returned by adamw_init"):
        optim.adamw_step(x, np.ones(2), optim.adam_init(x), lr=0.1)


def test_gdcheck_tests_adamw_with_a_weight_decay_of_its_own():
    """The check's "other hyperparameters" cases draw weight_decay from the registry's range,
    so a step that ignores the argument (decaying by the default 0.01) fails."""
    import gdcheck
    from gdcheck.optimizers import _step_case

    hyper = _step_case("adamw", 0, (3,), 2, "other").make()["hyper"]
    assert hyper["weight_decay"] >= 0.01 and hyper["weight_decay"] != 0.01

    def adamw_step(x, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
        t = state.t + 1
        m = beta1 * state.m + (1 - beta1) * g
        v = beta2 * state.v + (1 - beta2) * g * g
        step = lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
        return (x - lr * weight_decay * x - step).astype(x.dtype), optim.AdamWState(m, v, t)

    gdcheck.check_adamw_step(adamw_step)

    def ignores_weight_decay(x, g, state, *, lr, beta1=0.9, beta2=0.999, eps=1e-8,
                             weight_decay=0.01):
        return adamw_step(x, g, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)

    with pytest.raises(AssertionError, match="weight_decay"):
        gdcheck.check_adamw_step(ignores_weight_decay)


# ---------------------------------------------------------------- Rule, get_rule, Optimizer


def test_rules_and_defaults():
    assert list(RULES)[:6] == ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
    assert RULES["sgd"].defaults == {}
    assert RULES["momentum"].defaults == {"beta": 0.9} == RULES["nesterov"].defaults
    assert RULES["adagrad"].defaults == {"eps": 1e-8}
    assert RULES["rmsprop"].defaults == {"rho": 0.9, "eps": 1e-8}
    assert RULES["adam"].defaults == {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    assert RULES["adamw"].defaults == {**RULES["adam"].defaults, "weight_decay": 0.01}
    for name, rule in RULES.items():
        assert rule.name == name and rule.init is getattr(optim, f"{name}_init")


def test_get_rule_accepts_name_rule_and_pair():
    assert get_rule("adam") is RULES["adam"]
    assert get_rule(RULES["sgd"]) is RULES["sgd"]

    def my_init(x):
        return ()

    def my_step(x, g, state, *, lr, shrink=1.0):
        return x - lr * shrink * g, state

    rule = get_rule((my_init, my_step))
    assert isinstance(rule, Rule) and rule.init is my_init and rule.step is my_step
    assert rule.defaults == {"shrink": 1.0}
    with pytest.raises(TypeError, match="rule=42"):
        get_rule(42)


def test_optimizer_matches_pure_steps_on_a_dict():
    rng = np.random.default_rng(1)
    params = {"W": rng.normal(size=(2, 3)), "b": rng.normal(size=3)}
    start = {k: v.copy() for k, v in params.items()}
    W_object = params["W"]
    grads_seq = [{"W": rng.normal(size=(2, 3)), "b": rng.normal(size=3)} for _ in range(4)]
    for name in NAMES:
        for k in params:
            params[k][...] = start[k]
        opt = Optimizer(name, **HYPER[name])
        for grads in grads_seq:
            opt.step(params, grads)
        assert params["W"] is W_object and opt.num_steps == 4
        for k in params:
            expected = run(name, start[k], [gr[k] for gr in grads_seq], **HYPER[name])[-1]
            np.testing.assert_allclose(params[k], expected, rtol=1e-12, err_msg=f"{name} {k}")


def test_optimizer_lr_is_settable_and_reset_forgets_state():
    params, grads = {"w": np.zeros(2)}, {"w": np.ones(2)}
    opt = Optimizer("momentum", lr=0.1, beta=0.9)
    opt.step(params, grads)  # v = 1, w = -0.1
    opt.lr = 0.01
    opt.step(params, grads)  # v = 1.9, w = -0.1 - 0.019
    np.testing.assert_allclose(params["w"], -0.119)
    opt.reset()
    opt.step(params, grads)  # v = 1 again, w = -0.119 - 0.01
    np.testing.assert_allclose(params["w"], -0.129)
    with pytest.raises(ValueError, match="lr=0"):
        opt.lr = 0


def test_optimizer_runs_a_students_pair():
    def my_init(x):
        return ()

    def my_step(x, g, state, *, lr):
        return x - lr * g, state

    params = {"w": np.ones(3)}
    Optimizer((my_init, my_step), lr=0.5).step(params, {"w": np.ones(3)})
    np.testing.assert_allclose(params["w"], 0.5)


def test_optimizer_errors_leave_params_untouched():
    params = {"W": np.ones((2, 2)), "b": np.ones(2)}
    opt = Optimizer("sgd", lr=0.1)
    with pytest.raises(KeyError, match="'b'"):
        opt.step(params, {"W": np.ones((2, 2))})
    with pytest.raises(ValueError, match=r"grads\['b'\] of shape \(3,\)"):
        opt.step(params, {"W": np.ones((2, 2)), "b": np.ones(3)})
    with pytest.raises(ValueError, match="g contains"):
        opt.step(params, {"W": np.ones((2, 2)), "b": np.array([1.0, np.nan])})
    np.testing.assert_array_equal(params["W"], 1.0)  # W was not written before b failed
    with pytest.raises(TypeError, match="beta"):
        Optimizer("adam", lr=0.1, beta=0.9)
    with pytest.raises(TypeError, match="params\\['w'\\]"):
        Optimizer("sgd", lr=0.1).step({"w": [1.0]}, {"w": [1.0]})


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lr, shown", [(0, "lr=0"), (-1, "lr=-1"), (math.nan, "lr=nan"),
                                       (math.inf, "lr=inf")])
def test_bad_lr(name, lr, shown):
    x = np.zeros(2)
    with pytest.raises(ValueError, match=shown):
        RULES[name].step(x, np.ones(2), RULES[name].init(x), lr=lr)


@pytest.mark.parametrize("name, hyper", [
    ("momentum", "beta"), ("nesterov", "beta"), ("rmsprop", "rho"),
    ("adam", "beta1"), ("adam", "beta2"), ("adamw", "beta1"), ("adamw", "beta2"),
])
def test_bad_decay(name, hyper):
    x = np.zeros(2)
    with pytest.raises(ValueError, match=f"{hyper}=1.5"):
        RULES[name].step(x, np.ones(2), RULES[name].init(x), lr=0.1, **{hyper: 1.5})


@pytest.mark.parametrize("name", ["adagrad", "rmsprop", "adam", "adamw"])
def test_bad_eps(name):
    x = np.zeros(2)
    with pytest.raises(ValueError, match="eps=-0.1"):
        RULES[name].step(x, np.ones(2), RULES[name].init(x), lr=0.1, eps=-0.1)


@pytest.mark.parametrize("name", NAMES)
def test_bad_gradient(name):
    x = np.zeros(2)
    state = RULES[name].init(x)
    with pytest.raises(ValueError, match=r"x of shape \(2,\) and g of shape \(3,\)"):
        RULES[name].step(x, np.ones(3), state, lr=0.1)
    with pytest.raises(ValueError, match="g contains 1 NaN"):
        RULES[name].step(x, np.array([1.0, np.nan]), state, lr=0.1)
    with pytest.raises(ValueError, match="x contains"):
        RULES[name].step(np.array([np.inf, 0.0]), np.ones(2), state, lr=0.1)


def test_wrong_state():
    x = np.zeros(2)
    with pytest.raises(TypeError, match="AdamState as returned by adam_init"):
        optim.adam_step(x, np.ones(2), optim.momentum_init(x), lr=0.1)
    with pytest.raises(ValueError, match=r"state.v of shape \(3,\)"):
        optim.momentum_step(x, np.ones(2), optim.momentum_init(np.zeros(3)), lr=0.1)


def test_unknown_rule_name():
    with pytest.raises(ValueError, match="'lion'.*sgd, momentum, nesterov, adagrad, rmsprop, adam"):
        get_rule("lion")
    with pytest.raises(ValueError, match="'lion'"):
        Optimizer("lion", lr=0.1)
