"""Checks for the *activations* assignment: ReLU, leaky ReLU, sigmoid and tanh with their
derivatives, against :mod:`gdlib.nn.activations`, and ``layer_gradient_norms(model, X, y)``.

An activation's output is compared in three parts, where z > 0, where z = 0 (the kink of ReLU and
leaky ReLU: relu'(0) = 0 and leaky_relu'(0) = alpha by CONVENTIONS.md) and where z < 0, so that a
message says on which side a function goes wrong. One case per seed holds exact zeros; another
holds large |z| (up to 800), where a sigmoid written with exp(z) overflows.
"""

from __future__ import annotations

import inspect

import numpy as np

from gdcheck._engine import Case, Failure, Outputs, Spec, as_array, public_check, verify
from gdlib.nn import activations, MLP

_WHERE = (("where z > 0", np.greater), ("where z = 0", np.equal), ("where z < 0", np.less))


def _run_activation(name: str, with_alpha: bool):
    def run(impl, inputs):
        z = inputs["z"]
        args = {"alpha": inputs["alpha"]} if with_alpha and inputs["alpha"] is not None else {}
        result = as_array(impl(z, **args), f"{name}(z)").astype(float)
        if result.shape != z.shape:
            raise Failure(f"{name}(z) must return an array of the shape of z, {z.shape}, "
                          f"got shape {result.shape}")
        return Outputs({f"{name}(z) {where}": result[test(z, 0)] for where, test in _WHERE})
    return run


def _activation_cases(seeds, with_alpha: bool) -> list[Case]:
    cases = []
    for seed in seeds:
        for large in (False, True):
            def make(seed=seed, large=large):
                rng = np.random.default_rng([seed, 31, large])
                if large:
                    z = np.concatenate([[0.0, -800.0, 800.0, -40.0, 40.0], rng.normal(size=4) * 3])
                    z = rng.permutation(z)
                else:
                    z = rng.normal(size=(4, 5)) * 3
                    z.flat[rng.choice(z.size, 3, replace=False)] = 0.0
                alpha = float(rng.uniform(0.05, 0.3)) if (with_alpha and not large) else None
                return {"z": z, "alpha": alpha}
            what = "9 values with |z| up to 800" if large else "z of shape (4, 5) with exact zeros"
            if with_alpha:
                what += ", the default alpha" if large else ", alpha given"
            cases.append(Case(what, make))
    return cases


def _check_alpha_default(fn, name: str) -> None:
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return
    alpha = parameters.get("alpha")
    if alpha is None or alpha.default != 0.01:
        got = "no alpha" if alpha is None else (
            "no default" if alpha.default is inspect.Parameter.empty else f"{alpha.default!r}")
        raise Failure(f"{name} must take alpha with the default 0.01 (gdlib and PyTorch), got "
                      f"{got}: def {name}(z, alpha=0.01)")


def _elementwise_check(name: str, formula: str, hint: str = ""):
    with_alpha = name.startswith("leaky")
    # sigmoid_grad and tanh_grad may call your sigmoid and tanh: they are checked with gdlib's,
    # so a bug in sigmoid costs sigmoid's points only
    base = name.removesuffix("_grad")
    helpers = ((base, getattr(activations, base)),) if name.endswith("_grad") else ()
    spec = Spec(name, getattr(activations, name), _run_activation(name, with_alpha),
                forbidden=("gdlib.nn",), hint=hint, helpers=helpers)

    @public_check
    def check(fn, *, seeds=(0, 1)):
        if with_alpha and callable(fn):
            _check_alpha_default(fn, name)
        return verify(spec, fn, _activation_cases(seeds, with_alpha))

    check.__name__ = check.__qualname__ = f"check_{name}"
    check.__doc__ = f"""Check ``{name}(z{', alpha=0.01' if with_alpha else ''})`` elementwise
    against ``gdlib.nn.activations.{name}``: {formula}.

    Per seed, z of shape (4, 5) with exact zeros{' (alpha given)' if with_alpha else ''}, and
    9 values with |z| up to 800{' (the default alpha)' if with_alpha else ''}; the output must
    have the shape of z, and z must not be modified.
    """
    return check


_STABLE = ("np.exp(-z) and np.exp(z) overflow for |z| above about 709; exponentiate only "
           "non-positive numbers, or use np.tanh.")
check_relu = _elementwise_check("relu", "max(z, 0)")
check_relu_grad = _elementwise_check("relu_grad", "1 where z > 0, else 0 (0 at z = 0)")
check_leaky_relu = _elementwise_check("leaky_relu", "z where z > 0, else alpha * z")
check_leaky_relu_grad = _elementwise_check("leaky_relu_grad",
                                           "1 where z > 0, else alpha (alpha at z = 0)")
check_sigmoid = _elementwise_check("sigmoid", "1 / (1 + exp(-z)), without overflow", _STABLE)
check_sigmoid_grad = _elementwise_check("sigmoid_grad", "sigmoid(z) * (1 - sigmoid(z))", _STABLE)
check_tanh = _elementwise_check("tanh", "(exp(z) - exp(-z)) / (exp(z) + exp(-z))", _STABLE)
check_tanh_grad = _elementwise_check("tanh_grad", "1 - tanh(z)**2", _STABLE)


# -- layer_gradient_norms -----------------------------------------------------------------------

def _reference_norms(model, X, y):
    grads = model.loss_and_grads(X, y)[1]
    return {name: float(np.linalg.norm(grads[w])) for name, (w, _) in model.layer_keys().items()}


def _run_norms(impl, inputs):
    model = inputs["model"]
    names = model.layer_names()
    norms = impl(model, inputs["X"], inputs["y"])
    if not isinstance(norms, dict) or list(norms) != names:
        got = sorted(norms) if isinstance(norms, dict) else type(norms).__name__
        raise Failure(f"layer_gradient_norms must return a dict with the keys {names} "
                      f"(model.layer_names(), in that order), got {got}")
    out = Outputs()
    for name in names:
        value = as_array(norms[name], f"norms[{name!r}]").astype(float)
        if value.shape != ():
            raise Failure(f"norms[{name!r}] must be one number, got an array of shape {value.shape}")
        out[f"norms[{name!r}]"] = value
    return out


def _norms_case(seed: int, sizes: tuple, activation: str, init: str) -> Case:
    n = 12

    def make():
        rng = np.random.default_rng([seed, 32, len(sizes)])
        model = MLP(sizes, activation, rng=rng, init=init)
        for key in model.params:
            if key.startswith("b"):
                model.params[key] = rng.normal(size=model.params[key].shape) * 0.1
        return {"model": model, "params": model.params, "X": rng.normal(size=(n, sizes[0])),
                "y": rng.integers(0, sizes[-1], size=n)}
    return Case(f"an MLP of sizes {sizes} with {activation}, X of shape ({n}, {sizes[0]})", make)


_NORMS = Spec("layer_gradient_norms", _reference_norms, _run_norms,
              forbidden=("gdlib.train", "gdlib.experiments"),
              hint="Take the gradients from model.loss_and_grads(X, y) and the norm "
                   "np.linalg.norm(grads[f'W{l}']) of each layer's weight matrix.")


@public_check
def check_layer_gradient_norms(layer_gradient_norms, *, seeds=(0, 1)):
    r"""Check ``layer_gradient_norms(model, X, y) -> dict``: for every ``name`` of
    ``model.layer_names()`` ("layer 1", ...), the L2 (Frobenius) norm
    :math:`\lVert \partial J / \partial W_l \rVert_F` of that layer's weight gradient from
    ``model.loss_and_grads(X, y)``. Per seed, a deep sigmoid MLP (where the norms shrink towards
    the input) and a ReLU MLP. The model's parameters, X and y must not be modified.
    """
    cases = []
    for seed in seeds:
        cases += [_norms_case(seed, (5, 7, 7, 7, 3), "sigmoid", "glorot"),
                  _norms_case(seed, (4, 6, 6, 2), "relu", "he")]
    return verify(_NORMS, layer_gradient_norms, cases)
