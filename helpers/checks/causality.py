"""Checks for day 17: measuring which inputs each output depends on.

* :func:`dependency_matrix` -- the reference: the norm of every block of the
  Jacobian, one number per (output position, input position) pair
* :func:`check_dependency_matrix` -- grades the learner's version

A decoder is causal when output position ``t`` does not depend on any input
position ``s > t``; the dependency matrix makes that visible as an upper
triangle of exact zeros. Introduced on day 17.
"""

from __future__ import annotations

from typing import Callable

import torch

from helpers.checks._core import (
    Case,
    Mistake,
    Verdict,
    call_learner,
    compare,
    diagnose,
    fail,
    run_check,
)

__all__ = ["check_dependency_matrix", "dependency_matrix"]

ATOL, RTOL = 1e-5, 1e-4


# --------------------------------------------------------------------------
# the reference


def _jacobian(f: Callable, x: torch.Tensor) -> torch.Tensor:
    """``d f(x) / d x`` of shape ``(T_out, d_out, T_in, d_in)``."""
    with torch.enable_grad():
        return torch.autograd.functional.jacobian(f, x.detach(), vectorize=True)


def dependency_matrix(f: Callable, x: torch.Tensor) -> torch.Tensor:
    r"""How strongly each output position of ``f`` depends on each input
    position, at the input ``x`` (day 17).

    Inputs: ``f`` a function that maps a ``(T_in, d_in)`` tensor to a
    ``(T_out, d_out)`` tensor (wrap a batched module as
    ``lambda s: block(s[None])[0]``); ``x`` of shape ``(T_in, d_in)``.

    Returns a ``(T_out, T_in)`` tensor whose entry ``[t, s]`` is the
    Frobenius norm of the Jacobian block
    :math:`\partial f(x)_t / \partial x_s` (a ``d_out x d_in`` matrix):
    0 means that no small change of input position ``s`` moves output
    position ``t`` at all. For a causal map the entries above the diagonal
    are exactly 0. Introduced on day 17.
    """
    J = _jacobian(f, x)                                  # (T_out, d_out, T_in, d_in)
    if J.dim() != 4:
        raise ValueError("f must map a (T_in, d_in) tensor to a (T_out, d_out) "
                         f"tensor; its Jacobian has shape {tuple(J.shape)}.")
    return J.pow(2).sum(dim=(1, 3)).sqrt()               # (T_out, T_in)


# --------------------------------------------------------------------------
# the maps the check differentiates


def _randn(*shape, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


class _RunningSum:
    """Causal: output t is tanh of (x_0 + ... + x_t) W."""

    def __init__(self, d_in, d_out, seed):
        self.W = _randn(d_in, d_out, seed=seed)          # (d_in, d_out)

    def __call__(self, x):
        return torch.tanh(x.cumsum(dim=0) @ self.W)      # (T, d_out)


class _SelfAverage:
    """Every output sees every input: softmax(x x^T / 2) x."""

    def __call__(self, x):
        weights = torch.softmax(x @ x.T / 2, dim=-1)     # (T, T)
        return weights @ x                               # (T, d)


class _Cubed:
    """One position in, five features out."""

    def __init__(self, seed):
        self.W = _randn(2, 5, seed=seed)                 # (2, 5)

    def __call__(self, x):
        return x.pow(3) @ self.W                         # (T, 5)


class _PairProducts:
    """Fewer outputs than inputs: output t = x_{2t} * x_{2t+1}."""

    def __call__(self, x):
        return x[0::2] * x[1::2]                         # (T // 2, d)


class _Decoder:
    """The course's decoder block (causal) with a fixed memory."""

    def __init__(self, seed):
        from helpers.transformer import DecoderBlock

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.block = DecoderBlock(8, 2, 16).eval()
        self.memory = _randn(1, 3, 8, seed=seed + 1)     # (1, S, d_model)

    def __call__(self, x):
        return self.block(x[None], self.memory)[0]       # (T, d_model)


def _cases():
    return [
        Case((_RunningSum(3, 4, seed=80), _randn(5, 3, seed=81)),
             "a causal running sum (T=5, d_in=3, d_out=4)"),
        Case((_SelfAverage(), _randn(4, 3, seed=82)),
             "a map in which every output sees every input (T=4)"),
        Case((_Cubed(seed=83), _randn(1, 2, seed=84)),
             "a single position (T=1, d_out=5)"),
        Case((_PairProducts(), _randn(6, 2, seed=85)),
             "fewer outputs than inputs (T_in=6, T_out=3)"),
        Case((_Decoder(seed=86), _randn(5, 8, seed=87)),
             "the course's DecoderBlock (T=5, S=3, d_model=8)"),
    ]


# --------------------------------------------------------------------------
# classic mistakes


def _from_jacobian(reduce: Callable) -> Callable:
    return lambda f, x: reduce(_jacobian(f, x))


def _summed_outputs(f, x):
    """Back-propagate the sum of every output: one gradient, no rows."""
    with torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(f(x).sum(), x)     # (T_in, d_in)
    return grad.pow(2).sum(dim=-1).sqrt()                # (T_in,)


def _mistakes():
    return [
        Mistake("transposed", "your matrix is transposed: rows are output "
                "positions t and columns are input positions s, so the "
                "result is (T_out, T_in)",
                impl=lambda f, x: dependency_matrix(f, x).T),
        Mistake("summed_outputs", "you back-propagated the sum of all outputs, "
                "which gives one gradient for the whole sequence; differentiate "
                "each output position separately to get one row per position",
                impl=_summed_outputs),
        Mistake("summed_features", "you differentiated the sum of each output "
                "position's features, so derivatives of opposite sign cancel; "
                "take the norm over every (output feature, input feature) pair "
                "of the Jacobian", impl=_from_jacobian(
                    lambda J: J.sum(dim=1).pow(2).sum(dim=-1).sqrt())),
        Mistake("signed_sum", "you added up the Jacobian's entries, so positive "
                "and negative derivatives cancel; take the square root of the "
                "sum of squares over the two feature axes",
                impl=_from_jacobian(lambda J: J.sum(dim=(1, 3)))),
        Mistake("squared_norm", "you forgot the square root: the entry is "
                "sqrt(sum of squared derivatives), not the sum itself",
                impl=_from_jacobian(lambda J: J.pow(2).sum(dim=(1, 3)))),
        Mistake("abs_sum", "you summed absolute values (an L1 norm); the "
                "course's dependency is the Frobenius norm, the square root "
                "of the sum of squares",
                impl=_from_jacobian(lambda J: J.abs().sum(dim=(1, 3)))),
        Mistake("wrong_axes", "you reduced the wrong axes of the Jacobian; it "
                "is (T_out, d_out, T_in, d_in), so reduce over the feature "
                "axes 1 and 3", impl=_from_jacobian(
                    lambda J: J.pow(2).sum(dim=(2, 3)).sqrt())),
        Mistake("wrong_axes", "you reduced the wrong axes of the Jacobian; it "
                "is (T_out, d_out, T_in, d_in), so reduce over the feature "
                "axes 1 and 3", impl=_from_jacobian(
                    lambda J: J.pow(2).sum(dim=(0, 1)).sqrt())),
    ]


# --------------------------------------------------------------------------
# the check


def check_dependency_matrix(fn: Callable) -> Verdict:
    """Check ``fn(f, x)``, the dependency matrix of a sequence map (day 17).

    The check calls ``fn(f, x)`` for maps ``f`` from ``(T_in, d_in)`` to
    ``(T_out, d_out)`` (a causal running sum, a map where every output sees
    every input, a single position, a map with fewer outputs than inputs and
    the course's decoder block) and compares the ``(T_out, T_in)`` result
    with :func:`dependency_matrix`.

    Named mistakes: ``transposed``, ``summed_outputs``, ``summed_features``,
    ``signed_sum``, ``squared_norm``, ``abs_sum``, ``wrong_axes``; plus
    ``returned_none``, ``not_implemented`` and ``exception``.
    Introduced on day 17.
    """
    name = "dependency_matrix"

    def body() -> str:
        cases = _cases()
        mistakes = _mistakes()
        for case in cases:
            got = call_learner(name, fn, case.args, label=case.label)
            if got is None:
                fail(f"{name} returned None on {case.label}; did you forget the "
                     "`return` statement?", "returned_none")
            expected = dependency_matrix(*case.args)
            difference = compare(got, expected, ATOL, RTOL)
            if difference is not None:
                diagnose(name, case, got, expected, mistakes, difference,
                         ATOL, RTOL)
        labels = [c.label for c in cases]
        return (f"{name} is correct on all {len(cases)} cases: "
                + "; ".join(labels) + ".")

    return run_check(name, body)
