"""gdcheck for the speed assignment (chapter 7): what tests/test_gdcheck.py does not already cover
for it. (That file runs its reference answers and every wrong variant of
tests/wrong_variants/speed.py through all its test cells; it is registered in its ASSIGNMENTS.)

- Other correct spellings pass: the rate in closed form or from np.roots, the norm of one flat
  vector, a list for the pair, float32 kept.
- The verdicts do not depend on the seed: the reference passes and the mistakes are named.
- Mistakes outside the catalogue get a message that says what is wrong; delegation is caught;
  nothing reaches stderr.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gdcheck
import wrong_variants as wv
from gdcheck.catalogue import MISTAKES

ASSIGNMENT = "speed"


@functools.cache
def notebook():
    return wv.read(ASSIGNMENT)


def student(source: str) -> dict:
    """A fresh kernel's namespace after the answer cells and then ``source``."""
    ns = wv.namespace(notebook())
    exec(source, ns)
    return ns


def reference() -> dict:
    return wv.namespace(notebook())


def test_the_speed_assignment_is_registered_with_the_generic_gdcheck_tests():
    import test_gdcheck
    assert ASSIGNMENT in test_gdcheck.ASSIGNMENTS
    functions = {MISTAKES[key].function for key in wv.submissions(ASSIGNMENT)}
    assert functions == {"clip_by_global_norm", "heavy_ball_rate", "heavy_ball_optimal"}


OTHER_SPELLINGS = {
    "clip_by_global_norm": [
        '''
def clip_by_global_norm(grads, max_norm):
    flat = np.concatenate([g.ravel() for g in grads.values()])
    norm = np.linalg.norm(flat)
    factor = 1.0 if norm <= max_norm else max_norm / norm
    return [{k: g * factor for k, g in grads.items()}, norm]
''',
        '''
def clip_by_global_norm(grads, max_norm):
    total = 0.0
    for g in grads.values():
        total += float((g.astype(np.float64) ** 2).sum())
    norm = total ** 0.5
    out = {}
    for k, g in grads.items():
        out[k] = g.copy()
        if norm > max_norm:
            out[k] *= max_norm / norm
    return out, norm
''',
    ],
    "heavy_ball_rate": [
        '''
def heavy_ball_rate(lr, beta, lam):
    a = 1 + beta - lr * lam
    disc = a * a - 4 * beta
    if disc < 0:
        return np.sqrt(beta)
    return (abs(a) + np.sqrt(disc)) / 2
''',
        '''
def heavy_ball_rate(lr, beta, lam):
    return max(abs(z) for z in np.roots([1.0, -(1 + beta - lr * lam), beta]))
''',
        '''
def heavy_ball_rate(lr, beta, lam):
    z = np.lib.scimath.sqrt((1 + beta - lr * lam) ** 2 - 4 * beta)
    return float(max(abs((1 + beta - lr * lam + z) / 2), abs((1 + beta - lr * lam - z) / 2)))
''',
    ],
    "heavy_ball_optimal": [
        '''
def heavy_ball_optimal(mu, L):
    rho = (np.sqrt(L) - np.sqrt(mu)) / (np.sqrt(L) + np.sqrt(mu))
    return [4 / (np.sqrt(L) + np.sqrt(mu)) ** 2, rho ** 2]
''',
    ],
}


@pytest.mark.parametrize("function,source", [(f, s) for f, sources in OTHER_SPELLINGS.items()
                                             for s in sources])
def test_other_correct_spellings_pass(function, source, capfd):
    ns = student(source)
    check = getattr(gdcheck, f"check_{function}")
    check(ns[function])
    check(ns[function], seeds=(33, 77))
    out, err = capfd.readouterr()
    assert out.count("agree with the reference") == 2 and err == ""


PROPERTY_SETTINGS = settings(max_examples=6, deadline=None)


def _named(check, fn, key, **kwargs):
    with pytest.raises(AssertionError, match=re.escape(f"This looks like {MISTAKES[key].title}.")):
        check(fn, **kwargs)


@PROPERTY_SETTINGS
@given(seed=st.integers(0, 2**31 - 1))
def test_any_seed_passes_the_reference_and_names_every_speed_mistake(seed):
    ref = reference()
    for function in ("clip_by_global_norm", "heavy_ball_rate", "heavy_ball_optimal"):
        getattr(gdcheck, f"check_{function}")(ref[function], seeds=(seed,))
    for key, source in wv.submissions(ASSIGNMENT).items():
        function = MISTAKES[key].function
        _named(getattr(gdcheck, f"check_{function}"), student(source)[function], key, seeds=(seed,))


@pytest.mark.parametrize("function,source,expected", [
    ("clip_by_global_norm",
     "def clip_by_global_norm(grads, max_norm):\n"
     "    norm = np.sqrt(sum(np.sum(g * g) for g in grads.values()))\n"
     "    return {k: g * min(1.0, max_norm / norm) for k, g in grads.items()}\n",
     r"must return a pair \(clipped, norm\)"),
    ("clip_by_global_norm",
     "def clip_by_global_norm(grads, max_norm):\n"
     "    return [g.copy() for g in grads.values()], 0.0\n",
     r"as a dict with the keys of grads, \['W1', 'W2', 'b1', 'b2'\]"),
    ("clip_by_global_norm",
     "def clip_by_global_norm(grads, max_norm):\n"
     "    norm = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))\n"
     "    return {k: g * min(1.0, max_norm / norm) for k, g in grads.items()}, norm\n",
     r"(?s)raised ZeroDivisionError.*on test case \d of \d \(grads of 4 arrays.*every gradient zero\)"),
    ("clip_by_global_norm",
     "def clip_by_global_norm(grads, max_norm):\n"
     "    norm = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads.values()))\n"
     "    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0\n"
     "    return {k: g * np.float64(scale) for k, g in grads.items()}, norm\n",
     "has dtype float64, expected float32"),
    ("heavy_ball_rate",
     "def heavy_ball_rate(lr, beta, lam):\n"
     "    T = np.array([[1 + beta - lr * lam, -beta], [1.0, 0.0]])\n"
     "    return np.linalg.eigvals(T)[np.argmax(np.abs(np.linalg.eigvals(T)))]\n",
     r"returned a complex number for triple \d+ of 24 \(complex eigenvalues, a\^2 < 4 beta\)"),
    ("heavy_ball_rate",
     "def heavy_ball_rate(lr, beta, lam):\n"
     "    return abs(1 - lr * lam)\n",
     r"triple \d+ of 24 \([^)]*\): yours [\d.e+-]+, expected [\d.e+-]+"),
    ("heavy_ball_rate",
     "def heavy_ball_rate(lr, beta, lam):\n"
     "    return np.abs(np.linalg.eigvals(np.array([[1 + beta - lr * lam, -beta], [1.0, 0.0]])))\n",
     r"must return one number, got an array of shape \(2,\)"),
    ("heavy_ball_optimal",
     "def heavy_ball_optimal(mu, L):\n"
     "    return 4 / (np.sqrt(L) + np.sqrt(mu)) ** 2\n",
     r"must return a pair \(lr, beta\)"),
], ids=["clip-not-pair", "clip-list", "clip-divides-by-zero", "clip-float64", "hb-complex",
        "hb-gd-only", "hb-both-moduli", "hbo-lr-only"])
def test_mistakes_outside_the_catalogue_get_a_message_that_says_what_is_wrong(
        function, source, expected, capfd):
    ns = student(source)
    with pytest.raises(AssertionError, match=expected) as caught:
        getattr(gdcheck, f"check_{function}")(ns[function])
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("function,source,target", [
    ("clip_by_global_norm",
     "def clip_by_global_norm(grads, max_norm):\n"
     "    return gdlib.nn.clip_by_global_norm(grads, max_norm)\n", "gdlib.nn.clip_by_global_norm"),
    ("heavy_ball_rate",
     "from gdlib.optim.rates import heavy_ball_rate as rate\n"
     "def heavy_ball_rate(lr, beta, lam):\n    return rate(lr, beta, lam)\n",
     "gdlib.optim.heavy_ball_rate"),
    ("heavy_ball_optimal",
     "def heavy_ball_optimal(mu, L):\n    return gdlib.optim.heavy_ball_optimal(mu, L)\n",
     "gdlib.optim.heavy_ball_optimal"),
], ids=["clip", "rate-alias", "optimal"])
def test_delegating_to_the_reference_fails(function, source, target):
    ns = student("import gdlib.nn.rnn, gdlib.optim.rates\n" + source)
    with pytest.raises(AssertionError, match="implement the rule yourself") as caught:
        getattr(gdcheck, f"check_{function}")(ns[function])
    assert target in str(caught.value)


def test_the_clip_check_leaves_the_landscape_of_gdlib_allowed():
    """Only the reference's module is forbidden: a rate built on gdlib.landscapes passes."""
    ns = student('''
from gdlib.landscapes import quadratic

def heavy_ball_rate(lr, beta, lam):
    bowl = quadratic(condition=1.0)   # unrelated gdlib use
    T = np.array([[1 + beta - lr * lam, -beta], [1.0, 0.0]])
    return float(np.max(np.abs(np.linalg.eigvals(T))))
''')
    gdcheck.check_heavy_ball_rate(ns["heavy_ball_rate"])
