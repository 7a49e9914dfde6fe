"""Tests for day 17: the dependency matrix (the norms of the Jacobian's
blocks) and the check that grades it."""

from __future__ import annotations

import pytest
import torch

from helpers.checks import check_dependency_matrix
from helpers.checks.causality import dependency_matrix
from helpers.transformer import DecoderBlock, EncoderBlock


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def by_loops(f, x):
    """The definition written out: one backward pass per output entry."""
    x = x.detach().clone().requires_grad_(True)
    y = f(x)                                             # (T_out, d_out)
    out = torch.zeros(y.shape[0], x.shape[0])
    for t in range(y.shape[0]):
        for j in range(y.shape[1]):
            (g,) = torch.autograd.grad(y[t, j], x, retain_graph=True)
            out[t] += g.pow(2).sum(dim=-1)               # (T_in,)
    return out.sqrt()


def finite_differences(f, x, eps=1e-3):
    """Central differences in float64: an estimate that needs no autograd."""
    x = x.double()
    y = f(x)
    T_out, d_out = y.shape
    T_in, d_in = x.shape
    J = torch.zeros(T_out, d_out, T_in, d_in, dtype=torch.float64)
    for s in range(T_in):
        for k in range(d_in):
            step = torch.zeros_like(x)
            step[s, k] = eps
            J[:, :, s, k] = (f(x + step) - f(x - step)) / (2 * eps)
    return J.pow(2).sum(dim=(1, 3)).sqrt()


def test_reference_matches_the_definition_written_with_loops():
    W = randn(3, 4, seed=1)

    def f(x):
        return torch.tanh(x.cumsum(0) @ W)

    x = randn(6, 3, seed=2)
    torch.testing.assert_close(dependency_matrix(f, x), by_loops(f, x))


def test_reference_matches_finite_differences():
    W = randn(3, 3, seed=3).double()

    def f(x):
        return torch.softmax(x @ W @ x.T, dim=-1) @ x    # every output sees all

    x = randn(4, 3, seed=4)
    got = dependency_matrix(f, x.double())
    torch.testing.assert_close(got, finite_differences(f, x), atol=1e-5, rtol=1e-4)
    assert (got > 0).all()


def test_reference_shape_with_fewer_outputs_than_inputs():
    def f(x):
        return x[0::2] * x[1::2]

    got = dependency_matrix(f, randn(6, 2, seed=5))
    assert got.shape == (3, 6)
    expected_zero = torch.ones(3, 6, dtype=torch.bool)
    for t in range(3):
        expected_zero[t, 2 * t: 2 * t + 2] = False
    assert (got[expected_zero] == 0).all() and (got[~expected_zero] > 0).all()


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_block_depends_on_no_future_position(norm_first):
    torch.manual_seed(0)
    block = DecoderBlock(8, 2, 16, norm_first=norm_first).eval()
    memory = randn(1, 4, 8, seed=6)
    D = dependency_matrix(lambda s: block(s[None], memory)[0], randn(6, 8, seed=7))
    assert (D.triu(1) == 0).all()                        # nothing from the future
    past = torch.ones_like(D, dtype=torch.bool).tril()  # (T, T) s <= t
    assert (D[past] > 0).all()                           # everything from the past


def test_encoder_block_depends_on_every_position():
    torch.manual_seed(0)
    block = EncoderBlock(8, 2, 16).eval()
    D = dependency_matrix(lambda s: block(s[None])[0], randn(5, 8, seed=8))
    assert (D > 0).all()


def test_reference_refuses_batched_maps():
    with pytest.raises(ValueError, match="T_out, d_out"):
        dependency_matrix(lambda x: x[None], randn(3, 2))


# --------------------------------------------------------------------------
# the check


def jac(f, x):
    x = x.detach()
    return torch.autograd.functional.jacobian(f, x)      # (T_out, d_out, T_in, d_in)


def right_with_loops(f, x):
    return by_loops(f, x)


def right_with_jacobian(f, x):
    return jac(f, x).pow(2).sum(dim=(1, 3)).sqrt()


def transposed(f, x):
    return right_with_jacobian(f, x).T


def summed_outputs(f, x):
    x = x.clone().requires_grad_(True)
    f(x).sum().backward()
    return x.grad.norm(dim=-1)


def summed_features(f, x):
    x = x.clone().requires_grad_(True)
    y = f(x)
    rows = []
    for t in range(y.shape[0]):
        (g,) = torch.autograd.grad(y[t].sum(), x, retain_graph=True)
        rows.append(g.norm(dim=-1))
    return torch.stack(rows)


def signed_sum(f, x):
    return jac(f, x).sum(dim=(1, 3))


def squared_norm(f, x):
    return jac(f, x).pow(2).sum(dim=(1, 3))


def abs_sum(f, x):
    return jac(f, x).abs().sum(dim=(1, 3))


def wrong_axes(f, x):
    return jac(f, x).pow(2).sum(dim=(2, 3)).sqrt()


def verdict_of(fn, capsys):
    verdict = check_dependency_matrix(fn)
    printed = capsys.readouterr().out.strip()
    assert "\n" not in printed and "Traceback" not in printed
    assert printed == verdict.message
    return verdict


@pytest.mark.parametrize("fn", [right_with_loops, right_with_jacobian,
                                dependency_matrix])
def test_check_passes_right_answers(fn, capsys):
    verdict = verdict_of(fn, capsys)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("fn, mistake", [
    (transposed, "transposed"), (summed_outputs, "summed_outputs"),
    (summed_features, "summed_features"), (signed_sum, "signed_sum"),
    (squared_norm, "squared_norm"), (abs_sum, "abs_sum"),
    (wrong_axes, "wrong_axes"),
])
def test_check_names_each_mistake(fn, mistake, capsys):
    verdict = verdict_of(fn, capsys)
    assert not verdict.passed and verdict.mistake == mistake, verdict.message


def test_check_turns_stubs_errors_and_none_into_one_sentence(capsys):
    def stub(f, x):
        raise NotImplementedError

    def broken(f, x):
        return f(x).backward()                           # non-scalar: raises

    def forgot_return(f, x):
        right_with_jacobian(f, x)

    def nan(f, x):
        return right_with_jacobian(f, x) * float("nan")

    def listed(f, x):
        return right_with_jacobian(f, x).tolist()

    for fn, mistake in [(stub, "not_implemented"), (broken, "exception"),
                        (forgot_return, "returned_none"), (nan, "nan"),
                        (listed, "type")]:
        verdict = verdict_of(fn, capsys)
        assert verdict.mistake == mistake, verdict.message
    assert "not written yet" in verdict_of(stub, capsys).message


def test_check_leaves_the_global_random_state_alone(capsys):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    verdict_of(right_with_jacobian, capsys)
    assert torch.equal(torch.rand(3), expected)
