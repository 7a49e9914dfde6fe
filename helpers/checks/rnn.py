"""Checks for days 8 and 9: recurrent cells, unrolling, clipping and gates.

Every check runs the learner's function next to the reference in
:mod:`helpers.rnn` on square and odd sizes, a batch of one, a single time
step and saturating weights, and names the classic mistakes of the topic:
a missing tanh, a transposed recurrent matrix, a hidden state that is not
carried from step to step, outputs stacked on the batch axis, gates read in
another order than PyTorch's, a cell state updated without the forget gate,
clipping each tensor on its own, and more. Introduced on day 8.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from helpers import rnn as ref
from helpers.checks._core import Case, Mistake, Verdict, check_function, compare

__all__ = ["check_rnn_cell_step", "check_rnn_unroll", "check_clip_grad_norm",
           "check_lstm_cell_step", "check_gru_cell_step", "check_set_forget_bias"]


# --------------------------------------------------------------------------
# inputs


def _randn(g: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=g)


def _rnn_args(seed: int, B: int, D: int, H: int, scale: float = 0.7) -> tuple:
    """``(x_t, h_prev, W_xh, W_hh, b)`` for one RNN step."""
    g = torch.Generator().manual_seed(seed)
    return (_randn(g, B, D), torch.tanh(_randn(g, B, H)),
            _randn(g, H, D, scale=scale), _randn(g, H, H, scale=scale),
            _randn(g, H, scale=0.5))


def _gated_args(seed: int, B: int, D: int, H: int, gates: int,
                scale: float = 0.7) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"x": _randn(g, B, D), "h": torch.tanh(_randn(g, B, H)),
            "c": _randn(g, B, H), "W_ih": _randn(g, gates * H, D, scale=scale),
            "W_hh": _randn(g, gates * H, H, scale=scale),
            "b_ih": _randn(g, gates * H, scale=0.5),
            "b_hh": _randn(g, gates * H, scale=0.5)}


# --------------------------------------------------------------------------
# Exercise 8.1: rnn_cell_step(x_t, h_prev, W_xh, W_hh, b)


def _step(x, h, W_xh, W_hh, b, act=torch.tanh, t_xh=True, t_hh=True, bias=True,
          recurrent=True):
    a = x @ (W_xh.T if t_xh else W_xh)
    if recurrent:
        a = a + h @ (W_hh.T if t_hh else W_hh)
    if bias:
        a = a + b
    return act(a)


def _identity(a):
    return a


RNN_STEP_MISTAKES = [
    Mistake("no_tanh",
            "you return the pre-activation: the tanh is missing, so the state "
            "can grow without bound; return torch.tanh(x_t @ W_xh.T + "
            "h_prev @ W_hh.T + b)",
            impl=lambda *a: _step(*a, act=_identity)),
    Mistake("wrong_activation",
            "you squash with sigmoid instead of tanh, so the state can never be "
            "negative; use torch.tanh",
            impl=lambda *a: _step(*a, act=torch.sigmoid)),
    Mistake("wrong_activation",
            "you use ReLU instead of tanh (nn.RNN's default); use torch.tanh",
            impl=lambda *a: _step(*a, act=torch.relu)),
    Mistake("hh_transposed",
            "you multiply h_prev by W_hh instead of W_hh.T; like nn.Linear, "
            "W_hh has shape (H_out, H_in), so the step needs h_prev @ W_hh.T",
            impl=lambda *a: _step(*a, t_hh=False)),
    Mistake("xh_transposed",
            "you multiply x_t by W_xh instead of W_xh.T; W_xh has shape (H, D), "
            "so the step needs x_t @ W_xh.T",
            impl=lambda *a: _step(*a, t_xh=False)),
    Mistake("xh_transposed",
            "you multiply by W_xh and W_hh instead of their transposes; both "
            "have shape (out, in), so use x_t @ W_xh.T + h_prev @ W_hh.T",
            impl=lambda *a: _step(*a, t_xh=False, t_hh=False)),
    Mistake("no_bias",
            "the bias b is missing; add it before the tanh",
            impl=lambda *a: _step(*a, bias=False)),
    Mistake("no_recurrence",
            "your new state ignores h_prev, so the network has no memory; add "
            "h_prev @ W_hh.T inside the tanh",
            impl=lambda *a: _step(*a, recurrent=False)),
    Mistake("weights_swapped",
            "you multiply x_t by W_hh and h_prev by W_xh; W_xh belongs to the "
            "input, W_hh to the previous state",
            impl=lambda x, h, W_xh, W_hh, b: _step(x, h, W_hh, W_xh, b)),
]


def _rnn_step_cases() -> list[Case]:
    big = _rnn_args(4, 2, 3, 4)
    big = big[:2] + (10 * big[2], 10 * big[3], big[4])
    return [
        Case(_rnn_args(1, 3, 4, 4), "a batch of 3 with D = H = 4"),
        Case(_rnn_args(2, 2, 3, 5), "a batch of 2 with D = 3, H = 5"),
        Case(_rnn_args(3, 1, 7, 3), "a batch of one with odd sizes D = 7, H = 3"),
        Case(big, "weights ten times larger (tanh saturates)"),
    ]


def check_rnn_cell_step(fn) -> Verdict:
    """Check ``fn(x_t, h_prev, W_xh, W_hh, b)`` against
    :func:`helpers.rnn.rnn_cell_step` (day 8).

    Shapes: ``x_t`` ``(B, D)``, ``h_prev`` ``(B, H)``, ``W_xh`` ``(H, D)``,
    ``W_hh`` ``(H, H)``, ``b`` ``(H,)``; the answer is ``(B, H)``. Names
    ``no_tanh``, ``wrong_activation``, ``hh_transposed``, ``xh_transposed``,
    ``no_bias``, ``no_recurrence`` and ``weights_swapped``.
    """
    return check_function(
        "rnn_cell_step", fn, _rnn_step_cases(), ref.rnn_cell_step,
        RNN_STEP_MISTAKES,
        success="rnn_cell_step is correct: tanh of input, recurrent and bias "
                "terms, right for square and odd sizes, a batch of one and "
                "saturating weights.")


# --------------------------------------------------------------------------
# Exercise 8.2: rnn_unroll(X, h0, W_xh, W_hh, b)


def _unroll(X, h0, W_xh, W_hh, b, carry=True, start=None, time_dim=1,
            shift=False, reverse=False):
    h = h0 if start is None else start
    steps = range(X.shape[1])
    if reverse:
        steps = reversed(steps)
    outputs = []
    for t in steps:
        prev = h if carry else h0
        if shift:
            outputs.append(prev)
        h = ref.rnn_cell_step(X[:, t], prev, W_xh, W_hh, b)
        if not shift:
            outputs.append(h)
    return torch.stack(outputs, dim=time_dim), h


UNROLL_MISTAKES = [
    Mistake("state_not_carried",
            "every step starts again from h0, so nothing is remembered; pass "
            "the state you just computed to the next step (h = step(x_t, h))",
            impl=lambda *a: _unroll(*a, carry=False)),
    Mistake("time_axis_wrong",
            "your outputs are stacked with time first, (T, B, H); stack them "
            "along dim=1 to get (B, T, H)",
            impl=lambda *a: _unroll(*a, time_dim=0)),
    Mistake("time_axis_wrong",
            "your outputs are stacked on the last axis, (B, H, T); stack them "
            "along dim=1 to get (B, T, H)",
            impl=lambda *a: _unroll(*a, time_dim=2)),
    Mistake("outputs_shifted",
            "your outputs are h_0 ... h_(T-1), one step late: you store the state "
            "before updating it; store h after each step so outputs hold "
            "h_1 ... h_T",
            impl=lambda *a: _unroll(*a, shift=True)),
    Mistake("h0_ignored",
            "you start from zeros instead of the given h0; the first step must "
            "read h0",
            impl=lambda X, h0, *w: _unroll(X, h0, *w, start=torch.zeros_like(h0))),
    Mistake("time_reversed",
            "you walk through the sequence from the last step to the first; "
            "go forward in time, t = 0, 1, ..., T - 1",
            impl=lambda *a: _unroll(*a, reverse=True)),
    Mistake("returned_swapped",
            "you return (h_T, outputs); return (outputs, h_T), the order "
            "nn.RNN uses",
            impl=lambda *a: tuple(reversed(ref.rnn_unroll(*a)))),
]


def _unroll_args(seed: int, B: int, T: int, D: int, H: int) -> tuple:
    g = torch.Generator().manual_seed(seed)
    return (_randn(g, B, T, D), torch.tanh(_randn(g, B, H)),
            _randn(g, H, D, scale=0.7), _randn(g, H, H, scale=0.7),
            _randn(g, H, scale=0.5))


def _unroll_cases() -> list[Case]:
    return [
        Case(_unroll_args(5, 2, 5, 3, 4), "a batch of 2 sequences of 5 steps"),
        Case(_unroll_args(6, 4, 4, 3, 3), "4 sequences of 4 steps (B = T)"),
        Case(_unroll_args(7, 1, 6, 2, 5), "a batch of one"),
        Case(_unroll_args(8, 3, 1, 4, 2), "a single time step"),
        Case(_unroll_args(9, 3, 7, 5, 2), "odd sizes B = 3, T = 7, D = 5, H = 2"),
    ]


def check_rnn_unroll(fn) -> Verdict:
    """Check ``fn(X, h0, W_xh, W_hh, b)`` against :func:`helpers.rnn.rnn_unroll`
    (day 8).

    ``X`` has shape ``(B, T, D)`` and ``h0`` ``(B, H)``; the answer is
    ``(outputs, h_T)`` with ``outputs`` ``(B, T, H)`` and ``h_T`` ``(B, H)``.
    Names ``state_not_carried``, ``time_axis_wrong``, ``outputs_shifted``,
    ``h0_ignored``, ``time_reversed`` and ``returned_swapped``.
    """
    return check_function(
        "rnn_unroll", fn, _unroll_cases(), ref.rnn_unroll, UNROLL_MISTAKES,
        success="rnn_unroll is correct: the state is carried from step to step, "
                "outputs are (B, T, H), right for B = T, a batch of one, a "
                "single step and odd sizes.")


# --------------------------------------------------------------------------
# Exercise 8.3: clip_grad_norm(grads, max_norm)


def _norm(gs):
    return torch.sqrt(sum((g ** 2).sum() for g in gs))


def _scaled(gs, factor):
    return [g * factor for g in gs]


CLIP_MISTAKES = [
    Mistake("per_tensor",
            "you clip every tensor by its own norm; compute one global norm over "
            "all tensors together and scale them all by the same factor",
            impl=lambda gs, m: [g * min(1.0, m / (g.norm().item() + 1e-6))
                                for g in gs]),
    Mistake("clip_value",
            "you clamp each entry to [-max_norm, max_norm], which changes the "
            "direction of the gradient; scale all tensors by "
            "max_norm / global_norm instead",
            impl=lambda gs, m: [g.clamp(-m, m) for g in gs]),
    Mistake("always_rescale",
            "you rescale even when the global norm is already below max_norm, "
            "which makes small gradients larger; only scale when the norm is "
            "too big (factor = min(1, max_norm / norm))",
            impl=lambda gs, m: _scaled(gs, m / _norm(gs))),
    Mistake("inverted_ratio",
            "you multiply by norm / max_norm, which makes large gradients even "
            "larger; the factor is max_norm / norm",
            impl=lambda gs, m: _scaled(gs, max(1.0, (_norm(gs) / m).item()))),
    Mistake("max_norm_ignored",
            "you divide by the norm without multiplying by max_norm, so the "
            "result always has length 1; the factor is max_norm / norm",
            impl=lambda gs, m: _scaled(gs, min(1.0, 1 / _norm(gs).item()))),
    Mistake("no_sqrt",
            "your norm is the sum of squares without the square root; the "
            "global norm is sqrt(sum of all squared entries)",
            impl=lambda gs, m: _scaled(gs, min(1.0, m / (_norm(gs) ** 2).item()))),
]


def _clip_cases() -> list[Case]:
    g = torch.Generator().manual_seed(10)
    two = [_randn(g, 3, 4, scale=2.0), _randn(g, 4, scale=2.0)]   # norm about 7
    odd = [_randn(g, 5, 3), _randn(g, 1), _randn(g, 2, 3, 1), _randn(g, 7)]
    small = [_randn(g, 4, 4, scale=0.05), _randn(g, 4, scale=0.05)]
    return [
        Case((two, 1.5), "two tensors with a global norm near 7, max_norm = 1.5"),
        Case((odd, 2.0), "four tensors of odd shapes, max_norm = 2"),
        Case((small, 1.0), "short gradients (norm 0.2) that must stay as they are"),
        Case(([_randn(g, 6, scale=1e5)], 5.0), "one huge gradient (norm 2e5)"),
    ]


def check_clip_grad_norm(fn) -> Verdict:
    """Check ``fn(grads, max_norm)`` against :func:`helpers.rnn.clip_grad_norm`
    (day 8).

    ``grads`` is a list of tensors of any shapes; the answer is a list of
    tensors of the same shapes. Names ``per_tensor``, ``clip_value``,
    ``always_rescale``, ``inverted_ratio``, ``max_norm_ignored`` and
    ``no_sqrt``.
    """
    return check_function(
        "clip_grad_norm", fn, _clip_cases(), ref.clip_grad_norm, CLIP_MISTAKES,
        success="clip_grad_norm is correct: one global norm, one common factor, "
                "short gradients left alone and huge ones cut down to max_norm.")


# --------------------------------------------------------------------------
# Exercise 9.1: lstm_cell_step(x_t, h_prev, c_prev, W_ih, W_hh, b)


def _lstm(x, h, c, W_ih, W_hh, b, order=(0, 1, 2, 3), forget=True, inp=True,
          out_tanh=True, cand=torch.tanh, gate=torch.sigmoid, swap=False):
    z = x @ W_ih.T + h @ W_hh.T + b
    blocks = z.chunk(4, dim=-1)
    z_i, z_f, z_g, z_o = (blocks[k] for k in order)
    i, f, o, g = gate(z_i), gate(z_f), gate(z_o), cand(z_g)
    c_new = (f * c if forget else c) + (i * g if inp else g)
    h_new = o * (torch.tanh(c_new) if out_tanh else c_new)
    return (c_new, h_new) if swap else (h_new, c_new)


_GATE_PERMUTATIONS = [p for p in itertools.permutations(range(4))
                      if p != (0, 1, 2, 3)]


def _any_permutation(step, perms):
    def when(case, got, expected) -> bool:
        return any(compare(got, step(*case.args, order=p)) is None for p in perms)
    return when


LSTM_MISTAKES = [
    Mistake("gate_order",
            "you read the gates in another order than PyTorch's; the rows of "
            "W_ih, W_hh and b hold the input gate, the forget gate, the cell "
            "candidate and the output gate, in that order (i, f, g, o)",
            when=_any_permutation(_lstm, _GATE_PERMUTATIONS)),
    Mistake("no_forget_gate",
            "your cell state is updated without the forget gate; multiply the "
            "old cell state by f: c = f * c_prev + i * g",
            impl=lambda *a: _lstm(*a, forget=False)),
    Mistake("no_input_gate",
            "the candidate enters the cell state without the input gate; "
            "c = f * c_prev + i * g",
            impl=lambda *a: _lstm(*a, inp=False)),
    Mistake("output_uses_c",
            "your h is o * c; squash the cell state first: h = o * tanh(c)",
            impl=lambda *a: _lstm(*a, out_tanh=False)),
    Mistake("candidate_activation",
            "the cell candidate g goes through sigmoid; it takes tanh (values "
            "in (-1, 1)), while the gates i, f and o take sigmoid",
            impl=lambda *a: _lstm(*a, cand=torch.sigmoid)),
    Mistake("candidate_activation",
            "sigmoid and tanh are swapped: the gates i, f and o take sigmoid "
            "(values in (0, 1)) and the candidate g takes tanh",
            impl=lambda *a: _lstm(*a, cand=torch.sigmoid, gate=torch.tanh)),
    Mistake("candidate_activation",
            "all four parts go through tanh; the gates i, f and o take sigmoid, "
            "only the candidate g takes tanh",
            impl=lambda *a: _lstm(*a, gate=torch.tanh)),
    Mistake("returned_swapped",
            "you return (c, h); return (h, c), the order nn.LSTM uses",
            impl=lambda *a: _lstm(*a, swap=True)),
]


def _lstm_case(seed, B, D, H, label, scale=0.7) -> Case:
    a = _gated_args(seed, B, D, H, 4, scale)
    return Case((a["x"], a["h"], a["c"], a["W_ih"], a["W_hh"], a["b_ih"]), label)


def check_lstm_cell_step(fn) -> Verdict:
    """Check ``fn(x_t, h_prev, c_prev, W_ih, W_hh, b)`` against
    :func:`helpers.rnn.lstm_cell_step` (day 9).

    Shapes: ``x_t`` ``(B, D)``, ``h_prev`` and ``c_prev`` ``(B, H)``,
    ``W_ih`` ``(4H, D)``, ``W_hh`` ``(4H, H)``, ``b`` ``(4H,)``; the answer is
    ``(h, c)``, both ``(B, H)``. Names ``gate_order``, ``no_forget_gate``,
    ``no_input_gate``, ``output_uses_c``, ``candidate_activation`` and
    ``returned_swapped``.
    """
    cases = [
        _lstm_case(11, 3, 4, 5, "a batch of 3 with D = 4, H = 5"),
        _lstm_case(12, 1, 3, 2, "a batch of one with D = 3, H = 2"),
        _lstm_case(13, 2, 7, 3, "odd sizes D = 7, H = 3"),
        _lstm_case(14, 4, 2, 4, "weights five times larger (saturated gates)",
                   scale=3.5),
    ]
    return check_function(
        "lstm_cell_step", fn, cases, ref.lstm_cell_step, LSTM_MISTAKES,
        success="lstm_cell_step is correct: gates in PyTorch's order (i, f, g, "
                "o), c = f * c_prev + i * g and h = o * tanh(c) on every case.")


# --------------------------------------------------------------------------
# Exercise 9.2: gru_cell_step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh)


def _gru(x, h, W_ih, W_hh, b_ih, b_hh, order=(0, 1, 2), swap_z=False,
         reset="inside", use_reset=True):
    gx = (x @ W_ih.T + b_ih).chunk(3, dim=-1)
    gh_full = (h @ W_hh.T + b_hh).chunk(3, dim=-1)
    x_r, x_z, x_n = (gx[k] for k in order)
    h_r, h_z, h_n = (gh_full[k] for k in order)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    if not use_reset:
        n = torch.tanh(x_n + h_n)
    elif reset == "inside":
        n = torch.tanh(x_n + r * h_n)
    else:
        rows = [slice(k * h.shape[-1], (k + 1) * h.shape[-1]) for k in range(3)]
        W_hn, b_hn = W_hh[rows[order[2]]], b_hh[rows[order[2]]]
        if reset == "before_matmul":
            n = torch.tanh(x_n + (r * h) @ W_hn.T + b_hn)
        else:   # bias outside the product with r
            n = torch.tanh(x_n + r * (h @ W_hn.T) + b_hn)
    return z * n + (1 - z) * h if swap_z else (1 - z) * n + z * h


_GRU_PERMUTATIONS = [p for p in itertools.permutations(range(3)) if p != (0, 1, 2)]

GRU_MISTAKES = [
    Mistake("gate_order",
            "you read the parts in another order than PyTorch's; the rows of "
            "W_ih, W_hh and the biases hold the reset gate r, the update gate z "
            "and the new state n, in that order",
            when=_any_permutation(_gru, _GRU_PERMUTATIONS)),
    Mistake("update_swapped",
            "z and 1 - z are swapped; in PyTorch z keeps the old state: "
            "h_new = (1 - z) * n + z * h_prev",
            impl=lambda *a: _gru(*a, swap_z=True)),
    Mistake("reset_before_matmul",
            "you multiply h_prev by r before W_hn (the 2014 paper's version); "
            "PyTorch applies r after the product, n = tanh(W_in x + b_in + "
            "r * (W_hn h + b_hn))",
            impl=lambda *a: _gru(*a, reset="before_matmul")),
    Mistake("reset_outside_bias",
            "b_hn sits outside the product with r; PyTorch computes "
            "r * (W_hn h + b_hn), which is why the GRU keeps two biases",
            impl=lambda *a: _gru(*a, reset="outside_bias")),
    Mistake("no_reset",
            "the reset gate is never used; the new state is "
            "n = tanh(W_in x + b_in + r * (W_hn h + b_hn))",
            impl=lambda *a: _gru(*a, use_reset=False)),
]


def _gru_case(seed, B, D, H, label, scale=0.7) -> Case:
    a = _gated_args(seed, B, D, H, 3, scale)
    return Case((a["x"], a["h"], a["W_ih"], a["W_hh"], a["b_ih"], a["b_hh"]), label)


def check_gru_cell_step(fn) -> Verdict:
    """Check ``fn(x_t, h_prev, W_ih, W_hh, b_ih, b_hh)`` against
    :func:`helpers.rnn.gru_cell_step` (day 9).

    Shapes: ``x_t`` ``(B, D)``, ``h_prev`` ``(B, H)``, ``W_ih`` ``(3H, D)``,
    ``W_hh`` ``(3H, H)``, ``b_ih`` and ``b_hh`` ``(3H,)``; the answer is
    ``(B, H)``. Names ``gate_order``, ``update_swapped``,
    ``reset_before_matmul``, ``reset_outside_bias`` and ``no_reset``.
    """
    cases = [
        _gru_case(21, 3, 4, 5, "a batch of 3 with D = 4, H = 5"),
        _gru_case(22, 1, 3, 2, "a batch of one with D = 3, H = 2"),
        _gru_case(23, 2, 7, 3, "odd sizes D = 7, H = 3"),
        _gru_case(24, 4, 2, 4, "weights five times larger (saturated gates)",
                  scale=3.5),
    ]
    return check_function(
        "gru_cell_step", fn, cases, ref.gru_cell_step, GRU_MISTAKES,
        success="gru_cell_step is correct: PyTorch's order (r, z, n), the reset "
                "gate applied to W_hn h + b_hn and h_new = (1 - z) * n + z * h.")


# --------------------------------------------------------------------------
# Exercise 9.3: set_forget_bias(lstm, value)


def _fresh_lstm(D: int, H: int, L: int, seed: int) -> nn.LSTM:
    with torch.random.fork_rng(devices=[]):      # leave the global RNG alone
        torch.manual_seed(seed)
        return nn.LSTM(D, H, num_layers=L, batch_first=True)


def _gate_biases(fn):
    """Turn ``fn(lstm, value)`` into a function of the case that returns the
    bias each gate row sees, ``bias_ih + bias_hh``, per layer: ``(L, 4H)``.
    The weights must stay as they were."""

    def run(D, H, L, value, seed):
        lstm = _fresh_lstm(D, H, L, seed)
        before = {n: p.detach().clone() for n, p in lstm.named_parameters()
                  if n.startswith("weight")}
        returned = fn(lstm, value)
        module = returned if isinstance(returned, nn.LSTM) else lstm
        for name, weight in before.items():
            if not torch.equal(getattr(module, name).detach(), weight):
                return {"weights": getattr(module, name).detach()}
        return torch.stack([(getattr(module, f"bias_ih_l{k}")
                             + getattr(module, f"bias_hh_l{k}")).detach()
                            for k in range(L)])              # (L, 4H)

    return run


def _set_rows(lstm, value, rows, both=False, keep_ih=False, layers=None):
    H = lstm.hidden_size
    with torch.no_grad():
        for k in range(lstm.num_layers if layers is None else layers):
            if not keep_ih:
                getattr(lstm, f"bias_ih_l{k}")[rows(H)] = value if both else 0.0
            getattr(lstm, f"bias_hh_l{k}")[rows(H)] = value
    return lstm


def _forget_rows(H):
    return slice(H, 2 * H)


FORGET_MISTAKES = [
    Mistake("wrong_gate",
            "you set the input gate's bias (rows 0:H); in PyTorch's order "
            "(i, f, g, o) the forget gate owns rows H:2H",
            impl=_gate_biases(lambda m, v: _set_rows(m, v, lambda H: slice(0, H)))),
    Mistake("wrong_gate",
            "you set the cell candidate's bias (rows 2H:3H); in PyTorch's order "
            "(i, f, g, o) the forget gate owns rows H:2H",
            impl=_gate_biases(lambda m, v: _set_rows(m, v,
                                                     lambda H: slice(2 * H, 3 * H)))),
    Mistake("wrong_gate",
            "you set the output gate's bias (rows 3H:4H); in PyTorch's order "
            "(i, f, g, o) the forget gate owns rows H:2H",
            impl=_gate_biases(lambda m, v: _set_rows(m, v,
                                                     lambda H: slice(3 * H, 4 * H)))),
    Mistake("both_biases",
            "you put the value into both bias_ih and bias_hh, and the gate sees "
            "their sum, twice the value; set one of them to the value and the "
            "other to 0",
            impl=_gate_biases(lambda m, v: _set_rows(m, v, _forget_rows, both=True))),
    Mistake("other_bias_left",
            "you set bias_hh but leave bias_ih's random forget rows in place, "
            "and the gate sees their sum; set bias_ih[H:2H] to 0 as well",
            impl=_gate_biases(lambda m, v: _set_rows(m, v, _forget_rows,
                                                     keep_ih=True))),
    Mistake("first_layer_only",
            "only the first layer changed; loop over every layer k and set "
            "bias_ih_l{k} and bias_hh_l{k}",
            impl=_gate_biases(lambda m, v: _set_rows(m, v, _forget_rows, layers=1))),
    Mistake("all_gates",
            "you changed the bias of all four gates; only the forget gate's "
            "rows H:2H should change",
            impl=_gate_biases(lambda m, v: _set_rows(m, v, lambda H: slice(None)))),
    Mistake("weights_changed",
            "your function changed the weight matrices; only the biases of the "
            "forget gate should change",
            when=lambda case, got, expected: isinstance(got, dict)
            and "weights" in got),
]


def check_set_forget_bias(fn) -> Verdict:
    """Check ``fn(lstm, value)``, which sets an ``nn.LSTM``'s forget-gate bias
    in place, against :func:`helpers.rnn.set_forget_bias` (day 9).

    What is compared is the bias each gate row sees, ``bias_ih + bias_hh``,
    per layer, so either bias vector may hold the value. Cases: one layer
    with value 5, hidden size 1, two layers, a negative value. Names
    ``wrong_gate``, ``both_biases``, ``other_bias_left``,
    ``first_layer_only``, ``all_gates`` and ``weights_changed``.
    """
    cases = [
        Case((3, 4, 1, 5.0, 31), "one layer, H = 4, value 5"),
        Case((5, 1, 1, 1.0, 32), "hidden size 1, value 1"),
        Case((2, 3, 2, 2.0, 33), "two layers, H = 3, value 2"),
        Case((4, 5, 1, -1.0, 34), "a negative value, -1"),
    ]
    learner = _gate_biases(fn) if callable(fn) else fn
    return check_function(
        "set_forget_bias", learner, cases, _gate_biases(ref.set_forget_bias),
        FORGET_MISTAKES,
        success="set_forget_bias is correct: rows H:2H of every layer see the "
                "value, every other gate and every weight is left alone.")
