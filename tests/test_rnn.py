"""Recurrent networks (days 8 and 9): the reference RNN, LSTM and GRU match
PyTorch with copied weights, gradients vanish the way the theory says, the
toy task and training loop behave, and every check names its mistakes."""

import math

import pytest
import torch
from torch import nn

from helpers import rnn as R
from helpers.checks.rnn import (
    CLIP_MISTAKES,
    FORGET_MISTAKES,
    GRU_MISTAKES,
    LSTM_MISTAKES,
    RNN_STEP_MISTAKES,
    UNROLL_MISTAKES,
    check_clip_grad_norm,
    check_gru_cell_step,
    check_lstm_cell_step,
    check_rnn_cell_step,
    check_rnn_unroll,
    check_set_forget_bias,
)

TOL = 1e-5
# (B, T, D, H): ordinary, a batch of one, odd sizes, a single time step
SIZES = [(3, 6, 4, 5), (1, 5, 3, 2), (5, 7, 3, 1), (2, 1, 6, 3)]


def _x(B, T, D, seed=0):
    return torch.randn(B, T, D, generator=torch.Generator().manual_seed(seed))


def _max_diff(a, b):
    return (a - b).abs().max().item()


def _torch(kind, D, H, L=1, seed=0, **kwargs):
    torch.manual_seed(seed)
    return kind(D, H, num_layers=L, batch_first=True, **kwargs)


# --------------------------------------------------------------------------
# cells and layers against PyTorch


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("B,T,D,H", SIZES)
def test_rnn_cell_matches_torch_cell(B, T, D, H, nonlinearity):
    torch.manual_seed(1)
    theirs = nn.RNNCell(D, H, nonlinearity=nonlinearity)
    ours = R.RNNCell(D, H).load_from_torch(theirs)
    x, h = torch.randn(B, D), torch.randn(B, H)
    assert _max_diff(ours(x, h), theirs(x, h)) < TOL
    assert _max_diff(ours(x), theirs(x)) < TOL


@pytest.mark.parametrize("L", [1, 2, 3])
@pytest.mark.parametrize("B,T,D,H", SIZES)
def test_rnn_layer_matches_nn_rnn(B, T, D, H, L):
    theirs = _torch(nn.RNN, D, H, L, seed=L)
    ours = R.RNN(D, H, L).load_from_torch(theirs)
    X = _x(B, T, D)
    h0 = torch.randn(L, B, H, generator=torch.Generator().manual_seed(9))
    for state in (None, h0):
        out, h_n = ours(X, state)
        ref_out, ref_h = theirs(X, state)
        assert out.shape == (B, T, H) and h_n.shape == (L, B, H)
        assert _max_diff(out, ref_out) < TOL and _max_diff(h_n, ref_h) < TOL


def test_rnn_layer_matches_time_first_module_and_relu():
    torch.manual_seed(2)
    theirs = nn.RNN(3, 4, num_layers=2, nonlinearity="relu")   # (T, B, D)
    ours = R.RNN.from_torch(theirs)
    assert ours.cells[0].nonlinearity == "relu"
    X = _x(2, 5, 3)
    out, h_n = ours(X)
    ref_out, ref_h = theirs(X.transpose(0, 1))                 # (T, B, D)
    assert _max_diff(out, ref_out.transpose(0, 1)) < TOL
    assert _max_diff(h_n, ref_h) < TOL


@pytest.mark.parametrize("B,T,D,H", SIZES)
def test_rnn_unroll_matches_nn_rnn(B, T, D, H):
    theirs = _torch(nn.RNN, D, H)
    X = _x(B, T, D)
    h0 = torch.randn(1, B, H)
    b = theirs.bias_ih_l0 + theirs.bias_hh_l0
    out, h_T = R.rnn_unroll(X, h0[0], theirs.weight_ih_l0, theirs.weight_hh_l0, b)
    ref_out, ref_h = theirs(X, h0)
    assert _max_diff(out, ref_out) < TOL and _max_diff(h_T, ref_h[0]) < TOL


@pytest.mark.parametrize("B,T,D,H", SIZES)
def test_lstm_cell_matches_torch_cell(B, T, D, H):
    torch.manual_seed(3)
    theirs = nn.LSTMCell(D, H)
    ours = R.LSTMCell(D, H).load_from_torch(theirs)
    x, h, c = torch.randn(B, D), torch.randn(B, H), torch.randn(B, H)
    for a, b in zip(ours(x, (h, c)), theirs(x, (h, c))):
        assert _max_diff(a, b) < TOL
    b = theirs.bias_ih + theirs.bias_hh
    got = R.lstm_cell_step(x, h, c, theirs.weight_ih, theirs.weight_hh, b)
    for a, b in zip(got, theirs(x, (h, c))):
        assert _max_diff(a, b) < TOL


@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("B,T,D,H", SIZES)
def test_lstm_layer_matches_nn_lstm(B, T, D, H, L):
    theirs = _torch(nn.LSTM, D, H, L, seed=4)
    ours = R.LSTM(D, H, L).load_from_torch(theirs)
    X = _x(B, T, D)
    g = torch.Generator().manual_seed(5)
    state = (torch.randn(L, B, H, generator=g), torch.randn(L, B, H, generator=g))
    for s in (None, state):
        out, (h_n, c_n) = ours(X, s)
        ref_out, (ref_h, ref_c) = theirs(X, s)
        assert out.shape == (B, T, H) and c_n.shape == (L, B, H)
        assert max(_max_diff(out, ref_out), _max_diff(h_n, ref_h),
                   _max_diff(c_n, ref_c)) < TOL


@pytest.mark.parametrize("B,T,D,H", SIZES)
def test_gru_cell_matches_torch_cell(B, T, D, H):
    torch.manual_seed(6)
    theirs = nn.GRUCell(D, H)
    ours = R.GRUCell(D, H).load_from_torch(theirs)
    x, h = torch.randn(B, D), torch.randn(B, H)
    assert _max_diff(ours(x, h), theirs(x, h)) < TOL
    got = R.gru_cell_step(x, h, theirs.weight_ih, theirs.weight_hh,
                          theirs.bias_ih, theirs.bias_hh)
    assert _max_diff(got, theirs(x, h)) < TOL


@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("B,T,D,H", SIZES)
def test_gru_layer_matches_nn_gru(B, T, D, H, L):
    theirs = _torch(nn.GRU, D, H, L, seed=7)
    ours = R.GRU.from_torch(theirs)
    X = _x(B, T, D)
    h0 = torch.randn(L, B, H)
    for state in (None, h0):
        out, h_n = ours(X, state)
        ref_out, ref_h = theirs(X, state)
        assert _max_diff(out, ref_out) < TOL and _max_diff(h_n, ref_h) < TOL


@pytest.mark.parametrize("kind,ours_kind", [(nn.RNN, R.RNN), (nn.LSTM, R.LSTM),
                                            (nn.GRU, R.GRU)])
def test_gradients_match_torch_too(kind, ours_kind):
    theirs = _torch(kind, 3, 4, 2, seed=8)
    ours = ours_kind.from_torch(theirs)
    X1 = _x(2, 6, 3).requires_grad_(True)
    X2 = X1.detach().clone().requires_grad_(True)
    ours(X1)[0].pow(2).sum().backward()
    theirs(X2)[0].pow(2).sum().backward()
    assert _max_diff(X1.grad, X2.grad) < 1e-5
    ours_w = ours.cells[1].W_hh.grad
    assert _max_diff(ours_w, theirs.weight_hh_l1.grad) < 1e-5


def test_modules_without_bias_load_as_zero_bias():
    theirs = _torch(nn.LSTM, 3, 2, bias=False)
    ours = R.LSTM.from_torch(theirs)
    assert torch.equal(ours.cells[0].b, torch.zeros(8))
    X = _x(2, 4, 3)
    assert _max_diff(ours(X)[0], theirs(X)[0]) < TOL


def test_load_from_torch_refuses_what_it_cannot_copy():
    with pytest.raises(TypeError, match="nn.LSTM"):
        R.LSTM(3, 4).load_from_torch(nn.GRU(3, 4))
    with pytest.raises(ValueError, match="bidirectional"):
        R.RNN(3, 4).load_from_torch(nn.RNN(3, 4, bidirectional=True))
    with pytest.raises(ValueError, match="shape"):
        R.GRU(3, 5).load_from_torch(nn.GRU(3, 4))
    with pytest.raises(ValueError, match="layers"):
        R.RNN(3, 4, num_layers=2).load_from_torch(nn.RNN(3, 4))
    with pytest.raises(ValueError, match="layer 2 does not exist"):
        R.RNNCell(3, 4).load_from_torch(nn.RNN(3, 4, num_layers=2), layer=2)
    with pytest.raises(ValueError, match=r"\(B, T, D\)"):
        R.RNN(3, 4)(torch.zeros(5, 3))


# --------------------------------------------------------------------------
# gradients over time


def test_recurrent_matrix_has_every_singular_value_equal_to_the_gain():
    W = R.recurrent_matrix(12, 0.7, seed=3)
    torch.testing.assert_close(torch.linalg.svdvals(W), torch.full((12,), 0.7))


def test_vanishing_gradient_decays_geometrically_for_small_recurrent_weights():
    T, H, gain = 40, 16, 0.5
    X = _x(4, T, 3)
    W_xh = 0.5 * torch.randn(H, 3, generator=torch.Generator().manual_seed(1))
    W_hh = R.recurrent_matrix(H, gain)
    norms = R.hidden_gradient_norms(X, W_xh, W_hh, torch.zeros(H))
    assert norms.shape == (T,)
    assert (norms[:-1] < norms[1:]).all()              # shrinks going back in time
    # each step back multiplies by a Jacobian of norm <= gain (tanh' <= 1)
    bound = norms[-1] * gain ** torch.arange(T - 1, -1, -1.0)
    assert (norms <= bound * (1 + 1e-4)).all()
    assert norms[0] / norms[-1] < 1e-10


def test_hidden_gradient_norms_agree_with_autograd_on_the_module():
    torch.manual_seed(0)
    cell = R.RNNCell(3, 5)
    X = _x(2, 4, 3)
    norms = R.hidden_gradient_norms(X, cell.W_xh, cell.W_hh, cell.b)
    h = torch.zeros(2, 5)
    states = []
    for t in range(4):
        h = cell(X[:, t], h)
        states.append(h)
    grads = torch.autograd.grad(h.sum(), states)
    expected = torch.stack([g.norm(dim=-1).mean() for g in grads])
    torch.testing.assert_close(norms, expected)


def test_lstm_with_open_forget_gate_keeps_the_gradient_the_rnn_loses():
    X = _x(8, 60, 4)
    rnn = _torch(nn.RNN, 4, 16)
    lstm = R.set_forget_bias(_torch(nn.LSTM, 4, 16), 5.0)
    g_rnn = R.input_gradient_norms(rnn, X)
    g_lstm = R.input_gradient_norms(lstm, X)
    assert g_rnn.shape == g_lstm.shape == (60,)
    assert g_rnn[0] / g_rnn[-1] < 1e-6
    assert g_lstm[0] / g_lstm[-1] > 1e-2
    # the same number whether autograd runs through ours or through PyTorch's
    torch.testing.assert_close(R.input_gradient_norms(R.RNN.from_torch(rnn), X),
                               g_rnn)


def test_clip_grad_norm_matches_torch():
    torch.manual_seed(0)
    params = [nn.Parameter(torch.zeros(3, 4)), nn.Parameter(torch.zeros(5))]
    for max_norm in (0.5, 100.0):
        grads = [3 * torch.randn(3, 4), 3 * torch.randn(5)]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        total = nn.utils.clip_grad_norm_(params, max_norm)
        ours = R.clip_grad_norm(grads, max_norm)
        assert math.isclose(R.global_grad_norm(grads).item(), total.item(),
                            rel_tol=1e-5)
        for p, g in zip(params, ours):
            torch.testing.assert_close(g, p.grad)
        assert R.global_grad_norm(ours) <= max_norm * (1 + 1e-5)
    with pytest.raises(ValueError, match="positive"):
        R.clip_grad_norm(grads, 0.0)


def test_set_forget_bias_touches_only_the_forget_rows_of_every_layer():
    lstm = _torch(nn.LSTM, 3, 4, 2)
    before = {n: p.detach().clone() for n, p in lstm.named_parameters()}
    assert R.set_forget_bias(lstm, 3.0) is lstm
    for k in range(2):
        total = getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}")
        torch.testing.assert_close(total[4:8], torch.full((4,), 3.0))
        keep = torch.cat([torch.arange(0, 4), torch.arange(8, 16)])   # i, g, o
        for name in (f"bias_ih_l{k}", f"bias_hh_l{k}"):
            assert torch.equal(getattr(lstm, name)[keep], before[name][keep])
    for name in before:
        if name.startswith("weight"):
            assert torch.equal(getattr(lstm, name), before[name])
    with pytest.raises(TypeError):
        R.set_forget_bias(nn.GRU(3, 4), 1.0)


def test_init_gate_biases_sets_named_gates_and_zeroes_the_rest():
    lstm = R.init_gate_biases(_torch(nn.LSTM, 3, 2, 2), output=1.5, forget=3.0)
    for k in range(2):
        assert torch.equal(getattr(lstm, f"bias_ih_l{k}"), torch.zeros(8))
        assert getattr(lstm, f"bias_hh_l{k}").tolist() == [0, 0, 3, 3, 0, 0, 1.5, 1.5]
    with pytest.raises(ValueError, match="unknown gate"):
        R.init_gate_biases(lstm, remember=1.0)


# --------------------------------------------------------------------------
# the long-dependency task


def test_first_token_task_puts_the_class_first_and_noise_after():
    X, y = R.make_first_token_task(200, 30, n_classes=3, n_noise=4, seed=1)
    assert X.shape == (200, 30) and y.shape == (200,)
    assert X.dtype == y.dtype == torch.long
    assert torch.equal(X[:, 0], y)
    assert ((X[:, 1:] >= 3) & (X[:, 1:] < 7)).all()
    assert set(y.tolist()) == {0, 1, 2}
    X2, y2 = R.make_first_token_task(200, 30, n_classes=3, n_noise=4, seed=1)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    assert not torch.equal(X, R.make_first_token_task(200, 30, 3, 4, seed=2)[0])
    with pytest.raises(ValueError):
        R.make_first_token_task(10, 0)
    with pytest.raises(ValueError):
        R.make_first_token_task(10, 5, n_classes=1)


def test_sequence_classifier_shapes_and_options():
    model = R.SequenceClassifier("lstm", 8, 6, 2,
                                 gate_biases={"forget": 4.0, "input": -2.0})
    X, _ = R.make_first_token_task(5, 9)
    logits, states = model(X, return_states=True)
    assert logits.shape == (5, 2) and states.shape == (5, 9, 6)
    seen = model.recurrent.bias_ih_l0 + model.recurrent.bias_hh_l0     # (4H,)
    expected = torch.cat([torch.full((6,), -2.0), torch.full((6,), 4.0),
                          torch.zeros(12)])                             # i f g o
    assert torch.equal(seen.detach(), expected)
    with pytest.raises(ValueError, match="gate_biases"):
        R.SequenceClassifier("rnn", 8, 6, 2, gate_biases={"forget": 1.0})
    with pytest.raises(ValueError, match="kind"):
        R.SequenceClassifier("transformer", 8, 6, 2)


def test_train_classifier_learns_a_short_first_token_task():
    X, y = R.make_first_token_task(128, 4, seed=0)
    X_val, y_val = R.make_first_token_task(128, 4, seed=1)
    torch.manual_seed(0)
    model = R.SequenceClassifier("lstm", 8, 8, 2, gate_biases={"forget": 1.0})
    threads = torch.get_num_threads()
    history = R.train_classifier(model, X, y, X_val, y_val, steps=60, lr=0.03,
                                 eval_every=20)
    assert torch.get_num_threads() == threads        # restored after training
    assert history["step"] == list(range(1, 61))
    assert history["eval_step"] == [0, 20, 40, 60]
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["val_acc"][-1] > 0.95


# --------------------------------------------------------------------------
# wrong implementations, one per named mistake, written independently


def _tanh_step(x, h, W_xh, W_hh, b):
    return torch.tanh(x @ W_xh.T + h @ W_hh.T + b)


RNN_STEP_WRONG = {
    "no_tanh": lambda x, h, Wx, Wh, b: x @ Wx.T + h @ Wh.T + b,
    "wrong_activation": lambda x, h, Wx, Wh, b: torch.sigmoid(x @ Wx.T + h @ Wh.T + b),
    "hh_transposed": lambda x, h, Wx, Wh, b: torch.tanh(x @ Wx.T + h @ Wh + b),
    "xh_transposed": lambda x, h, Wx, Wh, b: torch.tanh(x @ Wx + h @ Wh.T + b),
    "no_bias": lambda x, h, Wx, Wh, b: torch.tanh(x @ Wx.T + h @ Wh.T),
    "no_recurrence": lambda x, h, Wx, Wh, b: torch.tanh(x @ Wx.T + b),
    "weights_swapped": lambda x, h, Wx, Wh, b: torch.tanh(x @ Wh.T + h @ Wx.T + b),
}


def _unroll_not_carried(X, h0, *w):
    outs = [_tanh_step(X[:, t], h0, *w) for t in range(X.shape[1])]
    return torch.stack(outs, 1), outs[-1]


def _unroll_time_first(X, h0, *w):
    h, outs = h0, []
    for t in range(X.shape[1]):
        h = _tanh_step(X[:, t], h, *w)
        outs.append(h)
    return torch.stack(outs), h


def _unroll_shifted(X, h0, *w):
    h, outs = h0, []
    for t in range(X.shape[1]):
        outs.append(h)
        h = _tanh_step(X[:, t], h, *w)
    return torch.stack(outs, 1), h


def _unroll_zeros(X, h0, *w):
    return _good_unroll(X, torch.zeros_like(h0), *w)


def _unroll_reversed(X, h0, *w):
    return _good_unroll(X.flip(1), h0, *w)


def _good_unroll(X, h0, *w):
    h, outs = h0, []
    for t in range(X.shape[1]):
        h = _tanh_step(X[:, t], h, *w)
        outs.append(h)
    return torch.stack(outs, 1), h


UNROLL_WRONG = {
    "state_not_carried": _unroll_not_carried,
    "time_axis_wrong": _unroll_time_first,
    "outputs_shifted": _unroll_shifted,
    "h0_ignored": _unroll_zeros,
    "time_reversed": _unroll_reversed,
    "returned_swapped": lambda *a: _good_unroll(*a)[::-1],
}


def _global(gs):
    return math.sqrt(sum(float((g * g).sum()) for g in gs))


CLIP_WRONG = {
    "per_tensor": lambda gs, m: [g * min(1, m / g.norm().item()) for g in gs],
    "clip_value": lambda gs, m: [torch.clamp(g, min=-m, max=m) for g in gs],
    "always_rescale": lambda gs, m: [g * m / _global(gs) for g in gs],
    "inverted_ratio": lambda gs, m: [g * max(1, _global(gs) / m) for g in gs],
    "max_norm_ignored": lambda gs, m: [g / max(1, _global(gs)) for g in gs],
    "no_sqrt": lambda gs, m: [g * min(1, m / _global(gs) ** 2) for g in gs],
}


def _lstm_parts(x, h, W_ih, W_hh, b):
    H = h.shape[-1]
    z = x @ W_ih.T + h @ W_hh.T + b
    return [z[:, k * H:(k + 1) * H] for k in range(4)]


def _lstm_ifog(x, h, c, W_ih, W_hh, b):          # a wrong order: i, f, o, g
    zi, zf, zo, zg = _lstm_parts(x, h, W_ih, W_hh, b)
    c = torch.sigmoid(zf) * c + torch.sigmoid(zi) * torch.tanh(zg)
    return torch.sigmoid(zo) * torch.tanh(c), c


def _lstm_with(forget=True, out_tanh=True, cand=torch.tanh, inp=True, swap=False):
    def step(x, h, c, W_ih, W_hh, b):
        zi, zf, zg, zo = _lstm_parts(x, h, W_ih, W_hh, b)
        i, f, o, g = torch.sigmoid(zi), torch.sigmoid(zf), torch.sigmoid(zo), cand(zg)
        c = (f * c if forget else c) + (i * g if inp else g)
        h = o * (torch.tanh(c) if out_tanh else c)
        return (c, h) if swap else (h, c)
    return step


LSTM_WRONG = {
    "gate_order": _lstm_ifog,
    "no_forget_gate": _lstm_with(forget=False),
    "no_input_gate": _lstm_with(inp=False),
    "output_uses_c": _lstm_with(out_tanh=False),
    "candidate_activation": _lstm_with(cand=torch.sigmoid),
    "returned_swapped": _lstm_with(swap=True),
}


def _gru_with(order="rzn", swap=False, reset="inside", use_reset=True):
    def step(x, h, W_ih, W_hh, b_ih, b_hh):
        H = h.shape[-1]
        rows = {name: slice(k * H, (k + 1) * H) for k, name in enumerate(order)}
        gx = {k: x @ W_ih[s].T + b_ih[s] for k, s in rows.items()}
        r = torch.sigmoid(gx["r"] + h @ W_hh[rows["r"]].T + b_hh[rows["r"]])
        z = torch.sigmoid(gx["z"] + h @ W_hh[rows["z"]].T + b_hh[rows["z"]])
        W_hn, b_hn = W_hh[rows["n"]], b_hh[rows["n"]]
        if not use_reset:
            n = torch.tanh(gx["n"] + h @ W_hn.T + b_hn)
        elif reset == "inside":
            n = torch.tanh(gx["n"] + r * (h @ W_hn.T + b_hn))
        elif reset == "before":
            n = torch.tanh(gx["n"] + (r * h) @ W_hn.T + b_hn)
        else:
            n = torch.tanh(gx["n"] + r * (h @ W_hn.T) + b_hn)
        return z * n + (1 - z) * h if swap else (1 - z) * n + z * h
    return step


GRU_WRONG = {
    "gate_order": _gru_with(order="zrn"),
    "update_swapped": _gru_with(swap=True),
    "reset_before_matmul": _gru_with(reset="before"),
    "reset_outside_bias": _gru_with(reset="outside"),
    "no_reset": _gru_with(use_reset=False),
}


def _forget_with(start=1, both=False, keep_ih=False, layers=None, all_rows=False,
                 weights=False):
    def set_bias(lstm, value):
        H = lstm.hidden_size
        rows = slice(None) if all_rows else slice(start * H, (start + 1) * H)
        with torch.no_grad():
            for k in range(layers or lstm.num_layers):
                if not keep_ih:
                    getattr(lstm, f"bias_ih_l{k}")[rows] = value if both else 0
                getattr(lstm, f"bias_hh_l{k}")[rows] = value
                if weights:
                    getattr(lstm, f"weight_hh_l{k}")[rows] = 0
        return lstm
    return set_bias


FORGET_WRONG = {
    "wrong_gate": _forget_with(start=0),
    "both_biases": _forget_with(both=True),
    "other_bias_left": _forget_with(keep_ih=True),
    "first_layer_only": _forget_with(layers=1),
    "all_gates": _forget_with(all_rows=True),
    "weights_changed": _forget_with(weights=True),
}

CHECKS = {
    "rnn_cell_step": (check_rnn_cell_step, R.rnn_cell_step, RNN_STEP_WRONG,
                      RNN_STEP_MISTAKES),
    "rnn_unroll": (check_rnn_unroll, R.rnn_unroll, UNROLL_WRONG, UNROLL_MISTAKES),
    "clip_grad_norm": (check_clip_grad_norm, R.clip_grad_norm, CLIP_WRONG,
                       CLIP_MISTAKES),
    "lstm_cell_step": (check_lstm_cell_step, R.lstm_cell_step, LSTM_WRONG,
                       LSTM_MISTAKES),
    "gru_cell_step": (check_gru_cell_step, R.gru_cell_step, GRU_WRONG,
                      GRU_MISTAKES),
    "set_forget_bias": (check_set_forget_bias, R.set_forget_bias, FORGET_WRONG,
                        FORGET_MISTAKES),
}

MISTAKE_CASES = [(check, name) for check, (_, _, wrong, _) in CHECKS.items()
                 for name in wrong]


def _one_friendly_line(capsys):
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    assert "Traceback" not in out
    return out


# --------------------------------------------------------------------------
# the checks


@pytest.mark.parametrize("check", list(CHECKS))
def test_check_passes_the_reference(check, capsys):
    run, reference, _, _ = CHECKS[check]
    verdict = run(reference)
    assert verdict.passed, verdict.message
    assert verdict.mistake is None
    _one_friendly_line(capsys)


@pytest.mark.parametrize("check", list(CHECKS))
def test_every_named_mistake_has_a_wrong_implementation_here(check):
    _, _, wrong, mistakes = CHECKS[check]
    assert {m.name for m in mistakes} == set(wrong)


@pytest.mark.parametrize("check,mistake", MISTAKE_CASES)
def test_check_names_the_mistake(check, mistake, capsys):
    run, _, wrong, _ = CHECKS[check]
    verdict = run(wrong[mistake])
    assert not verdict.passed
    assert verdict.mistake == mistake, verdict.message
    _one_friendly_line(capsys)


@pytest.mark.parametrize("order", ["ifog", "fiog", "igfo", "oifg"])
def test_any_wrong_lstm_gate_order_is_named(order, capsys):
    def step(x, h, c, W_ih, W_hh, b):
        parts = dict(zip(order, _lstm_parts(x, h, W_ih, W_hh, b)))
        c = (torch.sigmoid(parts["f"]) * c
             + torch.sigmoid(parts["i"]) * torch.tanh(parts["g"]))
        return torch.sigmoid(parts["o"]) * torch.tanh(c), c

    assert check_lstm_cell_step(step).mistake == "gate_order"
    _one_friendly_line(capsys)


@pytest.mark.parametrize("check", list(CHECKS))
def test_stub_is_not_implemented(check, capsys):
    def stub(*args, **kwargs):
        raise NotImplementedError("Your turn: replace this line with your code.")

    verdict = CHECKS[check][0](stub)
    assert verdict.mistake == "not_implemented"
    assert "not written yet" in _one_friendly_line(capsys)


@pytest.mark.parametrize("check", list(CHECKS))
def test_raising_is_reported_as_an_exception(check, capsys):
    def broken(first, *args, **kwargs):
        return torch.zeros(2, 3) @ torch.zeros(4, 5)

    verdict = CHECKS[check][0](broken)
    assert verdict.mistake == "exception"
    assert "raised" in _one_friendly_line(capsys)


@pytest.mark.parametrize("check", ["rnn_cell_step", "lstm_cell_step",
                                   "gru_cell_step", "rnn_unroll"])
def test_none_nan_and_wrong_shape_are_friendly(check, capsys):
    run, reference, _, _ = CHECKS[check]
    assert run(lambda *a: None).mistake == "returned_none"
    _one_friendly_line(capsys)

    def nan(*args):
        out = reference(*args)
        if isinstance(out, tuple):
            return tuple(torch.full_like(o, float("nan")) for o in out)
        return torch.full_like(out, float("nan"))

    assert run(nan).mistake == "nan"
    _one_friendly_line(capsys)

    def wrong_shape(*args):
        out = reference(*args)
        if isinstance(out, tuple):
            return tuple(o[..., :1] for o in out)
        return out.sum(-1)

    assert run(wrong_shape).mistake == "shape"
    _one_friendly_line(capsys)


def test_set_forget_bias_check_accepts_either_bias_vector(capsys):
    def into_ih(lstm, value):
        H = lstm.hidden_size
        with torch.no_grad():
            for k in range(lstm.num_layers):
                getattr(lstm, f"bias_ih_l{k}")[H:2 * H] = value
                getattr(lstm, f"bias_hh_l{k}")[H:2 * H] = 0.0
        # returns nothing: the change in place is what counts

    assert check_set_forget_bias(into_ih).passed
    _one_friendly_line(capsys)


def test_set_forget_bias_check_leaves_the_global_generator_alone(capsys):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_set_forget_bias(R.set_forget_bias)
    capsys.readouterr()
    assert torch.equal(torch.rand(3), expected)
