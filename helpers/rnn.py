"""Recurrent networks: the plain RNN, the LSTM and the GRU (days 8 and 9).

Reference code written with bare tensor operations, so that every gate is
visible, and checked against PyTorch's :class:`torch.nn.RNN`,
:class:`torch.nn.LSTM` and :class:`torch.nn.GRU` with copied weights:

* one time step as a function (:func:`rnn_cell_step`, :func:`lstm_cell_step`,
  :func:`gru_cell_step`) and as a module (:class:`RNNCell`,
  :class:`LSTMCell`, :class:`GRUCell`), each module with ``load_from_torch``;
* layers that unroll a cell over time, stacked ``num_layers`` deep
  (:class:`RNN`, :class:`LSTM`, :class:`GRU`);
* the tools of the vanishing-gradient story: gradient norms over time steps,
  recurrent matrices of a chosen gain, clipping by the global norm;
* a long-dependency toy task (:func:`make_first_token_task`), a small
  sequence classifier and the loop that trains it.

Shapes: a batch of sequences ``X`` has shape ``(B, T, D)`` (batch first, as
everywhere in this course), one time step ``x_t`` has shape ``(B, D)`` and a
hidden state ``h`` has shape ``(B, H)``. Weight matrices use PyTorch's
``(out, in)`` layout; the LSTM stacks its four gates along the first axis in
PyTorch's order (input, forget, cell candidate, output), the GRU its three in
the order (reset, update, new).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "rnn_cell_step", "rnn_unroll", "lstm_cell_step", "gru_cell_step",
    "RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU",
    "recurrent_matrix", "hidden_gradient_norms", "input_gradient_norms",
    "global_grad_norm", "clip_grad_norm", "set_forget_bias", "init_gate_biases",
    "make_first_token_task", "SequenceClassifier", "train_classifier",
    "plot_unrolled", "LSTM_GATES", "GRU_GATES",
]

LSTM_GATES = ("input", "forget", "cell", "output")
"""The order in which PyTorch stacks the LSTM's four gates (day 9)."""

GRU_GATES = ("reset", "update", "new")
"""The order in which PyTorch stacks the GRU's three parts (day 9)."""

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


# --------------------------------------------------------------------------
# one time step, as functions


def rnn_cell_step(x_t: torch.Tensor, h_prev: torch.Tensor, W_xh: torch.Tensor,
                  W_hh: torch.Tensor, b: torch.Tensor,
                  nonlinearity: str = "tanh") -> torch.Tensor:
    """One step of a plain (Elman) RNN (day 8).

    ``h_t = tanh(x_t @ W_xh.T + h_prev @ W_hh.T + b)``

    ``x_t`` has shape ``(B, D)``, ``h_prev`` ``(B, H)``, ``W_xh`` ``(H, D)``,
    ``W_hh`` ``(H, H)`` and ``b`` ``(H,)``; returns the new hidden state of
    shape ``(B, H)``. ``nonlinearity`` is ``"tanh"`` (the default, as in
    :class:`torch.nn.RNN`) or ``"relu"``. Introduced on day 8.
    """
    a = x_t @ W_xh.T + h_prev @ W_hh.T + b           # (B, H) pre-activation
    return _ACTIVATIONS[nonlinearity](a)


def rnn_unroll(X: torch.Tensor, h0: torch.Tensor, W_xh: torch.Tensor,
               W_hh: torch.Tensor, b: torch.Tensor,
               nonlinearity: str = "tanh") -> tuple[torch.Tensor, torch.Tensor]:
    """Run :func:`rnn_cell_step` over every time step of ``X`` (day 8).

    ``X`` has shape ``(B, T, D)`` and ``h0`` ``(B, H)``; the weights are those
    of :func:`rnn_cell_step`. Returns ``(outputs, h_T)``: ``outputs`` of shape
    ``(B, T, H)`` stacks the states ``h_1 ... h_T`` along the time axis, and
    ``h_T`` of shape ``(B, H)`` is the last of them. Introduced on day 8.
    """
    h = h0
    outputs = []
    for t in range(X.shape[1]):
        h = rnn_cell_step(X[:, t], h, W_xh, W_hh, b, nonlinearity)   # (B, H)
        outputs.append(h)
    return torch.stack(outputs, dim=1), h            # (B, T, H), (B, H)


def lstm_cell_step(x_t: torch.Tensor, h_prev: torch.Tensor, c_prev: torch.Tensor,
                   W_ih: torch.Tensor, W_hh: torch.Tensor,
                   b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of an LSTM, with PyTorch's gate order i, f, g, o (day 9).

    ``x_t`` has shape ``(B, D)``, ``h_prev`` and ``c_prev`` ``(B, H)``,
    ``W_ih`` ``(4H, D)``, ``W_hh`` ``(4H, H)`` and ``b`` ``(4H,)`` (PyTorch's
    ``bias_ih + bias_hh``). The four blocks of ``H`` rows belong to the input
    gate ``i``, the forget gate ``f``, the cell candidate ``g`` and the output
    gate ``o``::

        i, f, o = sigmoid(...),  g = tanh(...)
        c = f * c_prev + i * g
        h = o * tanh(c)

    Returns ``(h, c)``, both of shape ``(B, H)``. Introduced on day 9.
    """
    z = x_t @ W_ih.T + h_prev @ W_hh.T + b           # (B, 4H) all gates at once
    z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)          # 4 x (B, H)
    i, f, o = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.sigmoid(z_o)
    g = torch.tanh(z_g)
    c = f * c_prev + i * g                           # (B, H) the cell state
    h = o * torch.tanh(c)                            # (B, H)
    return h, c


def gru_cell_step(x_t: torch.Tensor, h_prev: torch.Tensor, W_ih: torch.Tensor,
                  W_hh: torch.Tensor, b_ih: torch.Tensor,
                  b_hh: torch.Tensor) -> torch.Tensor:
    """One step of a GRU, in PyTorch's formulation (day 9).

    ``x_t`` has shape ``(B, D)``, ``h_prev`` ``(B, H)``, ``W_ih`` ``(3H, D)``,
    ``W_hh`` ``(3H, H)``, ``b_ih`` and ``b_hh`` ``(3H,)``; the blocks of ``H``
    rows are the reset gate ``r``, the update gate ``z`` and the new state
    ``n``::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h_new = (1 - z) * n + z * h

    The two biases stay separate because ``b_hn`` sits inside the product
    with ``r``. Returns ``h_new`` of shape ``(B, H)``. Introduced on day 9.
    """
    gx = x_t @ W_ih.T + b_ih                         # (B, 3H) input part
    gh = h_prev @ W_hh.T + b_hh                      # (B, 3H) recurrent part
    x_r, x_z, x_n = gx.chunk(3, dim=-1)              # 3 x (B, H)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)              # 3 x (B, H)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h_prev


# --------------------------------------------------------------------------
# copying weights from PyTorch's modules


def _torch_params(module: nn.Module, layer: int) -> dict[str, torch.Tensor | None]:
    """``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` of one layer of
    an ``nn.RNN``/``nn.LSTM``/``nn.GRU`` or of an ``nn.*Cell``."""
    if getattr(module, "bidirectional", False):
        raise ValueError("load_from_torch copies one direction only; build the "
                         "PyTorch module with bidirectional=False.")
    if getattr(module, "proj_size", 0):
        raise ValueError("load_from_torch does not support an LSTM with "
                         "proj_size > 0.")
    suffix = ""
    if hasattr(module, "num_layers"):
        if not 0 <= layer < module.num_layers:
            raise ValueError(f"layer {layer} does not exist: the PyTorch module "
                             f"has {module.num_layers} layer(s).")
        suffix = f"_l{layer}"
    elif layer != 0:
        raise ValueError("a PyTorch cell has one layer; use layer=0.")
    return {name: getattr(module, name + suffix, None)
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}


def _expect(module: nn.Module, kinds: tuple[type, ...], what: str) -> None:
    if not isinstance(module, kinds):
        names = " or ".join(f"nn.{k.__name__}" for k in kinds)
        raise TypeError(f"{what}.load_from_torch needs an {names}, got a "
                        f"{type(module).__name__}.")


def _copy(target: torch.Tensor, source: torch.Tensor, name: str) -> None:
    if tuple(target.shape) != tuple(source.shape):
        raise ValueError(f"{name} has shape {tuple(source.shape)} in the PyTorch "
                         f"module but {tuple(target.shape)} here; build both with "
                         "the same input_size and hidden_size.")
    target.copy_(source.detach())


def _bias(p: dict, key: str, like: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(like) if p[key] is None else p[key].detach()


# --------------------------------------------------------------------------
# cells as modules


def _uniform_(tensors: Sequence[torch.Tensor], hidden_size: int) -> None:
    # PyTorch's own initialisation: U(-1/sqrt(H), 1/sqrt(H)) for every tensor.
    bound = 1.0 / math.sqrt(hidden_size)
    with torch.no_grad():
        for t in tensors:
            t.uniform_(-bound, bound)


class RNNCell(nn.Module):
    """One step of a plain RNN as a module (day 8).

    Parameters ``W_xh`` ``(H, D)``, ``W_hh`` ``(H, H)`` and ``b`` ``(H,)``.
    ``forward(x_t, h_prev=None)`` takes ``x_t`` of shape ``(B, D)`` and
    ``h_prev`` of shape ``(B, H)`` (zeros when omitted) and returns the new
    hidden state ``(B, H)``. Introduced on day 8.
    """

    def __init__(self, input_size: int, hidden_size: int,
                 nonlinearity: str = "tanh"):
        super().__init__()
        if nonlinearity not in _ACTIVATIONS:
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}.")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.nonlinearity = nonlinearity
        self.W_xh = nn.Parameter(torch.empty(hidden_size, input_size))
        self.W_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.b = nn.Parameter(torch.empty(hidden_size))
        _uniform_([self.W_xh, self.W_hh, self.b], hidden_size)

    def forward(self, x_t: torch.Tensor, h_prev: torch.Tensor | None = None):
        if h_prev is None:
            h_prev = x_t.new_zeros(x_t.shape[0], self.hidden_size)
        return rnn_cell_step(x_t, h_prev, self.W_xh, self.W_hh, self.b,
                             self.nonlinearity)

    @torch.no_grad()
    def load_from_torch(self, module: nn.Module, layer: int = 0) -> "RNNCell":
        """Copy the weights of ``module`` (an ``nn.RNN``, using its ``layer``,
        or an ``nn.RNNCell``) into this cell and return the cell. PyTorch keeps
        two biases, ``bias_ih`` and ``bias_hh``; only their sum matters, so it
        becomes ``b``. Introduced on day 8."""
        _expect(module, (nn.RNN, nn.RNNCell), "RNNCell")
        p = _torch_params(module, layer)
        _copy(self.W_xh, p["weight_ih"], "weight_ih")
        _copy(self.W_hh, p["weight_hh"], "weight_hh")
        _copy(self.b, _bias(p, "bias_ih", self.b) + _bias(p, "bias_hh", self.b),
              "bias")
        self.nonlinearity = module.nonlinearity
        return self

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, {self.nonlinearity}"


class LSTMCell(nn.Module):
    """One step of an LSTM as a module (day 9).

    Parameters ``W_ih`` ``(4H, D)``, ``W_hh`` ``(4H, H)`` and ``b`` ``(4H,)``,
    gates stacked in PyTorch's order (i, f, g, o). ``forward(x_t,
    state=None)`` takes ``x_t`` of shape ``(B, D)`` and ``state = (h, c)``,
    both ``(B, H)`` (zeros when omitted), and returns the new ``(h, c)``.
    Introduced on day 9.
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.W_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.W_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.b = nn.Parameter(torch.empty(4 * hidden_size))
        _uniform_([self.W_ih, self.W_hh, self.b], hidden_size)

    def forward(self, x_t: torch.Tensor, state=None):
        if state is None:
            zeros = x_t.new_zeros(x_t.shape[0], self.hidden_size)
            state = (zeros, zeros)
        h_prev, c_prev = state
        return lstm_cell_step(x_t, h_prev, c_prev, self.W_ih, self.W_hh, self.b)

    @torch.no_grad()
    def load_from_torch(self, module: nn.Module, layer: int = 0) -> "LSTMCell":
        """Copy the weights of ``module`` (an ``nn.LSTM``, using its ``layer``,
        or an ``nn.LSTMCell``) into this cell and return the cell; the two
        PyTorch biases are summed into ``b``. Introduced on day 9."""
        _expect(module, (nn.LSTM, nn.LSTMCell), "LSTMCell")
        p = _torch_params(module, layer)
        _copy(self.W_ih, p["weight_ih"], "weight_ih")
        _copy(self.W_hh, p["weight_hh"], "weight_hh")
        _copy(self.b, _bias(p, "bias_ih", self.b) + _bias(p, "bias_hh", self.b),
              "bias")
        return self

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class GRUCell(nn.Module):
    """One step of a GRU as a module (day 9).

    Parameters ``W_ih`` ``(3H, D)``, ``W_hh`` ``(3H, H)``, ``b_ih`` and
    ``b_hh`` ``(3H,)``, stacked in PyTorch's order (r, z, n).
    ``forward(x_t, h_prev=None)`` takes ``x_t`` of shape ``(B, D)`` and
    ``h_prev`` of shape ``(B, H)`` (zeros when omitted) and returns the new
    hidden state ``(B, H)``. Introduced on day 9.
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.W_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.W_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.b_ih = nn.Parameter(torch.empty(3 * hidden_size))
        self.b_hh = nn.Parameter(torch.empty(3 * hidden_size))
        _uniform_([self.W_ih, self.W_hh, self.b_ih, self.b_hh], hidden_size)

    def forward(self, x_t: torch.Tensor, h_prev: torch.Tensor | None = None):
        if h_prev is None:
            h_prev = x_t.new_zeros(x_t.shape[0], self.hidden_size)
        return gru_cell_step(x_t, h_prev, self.W_ih, self.W_hh, self.b_ih,
                             self.b_hh)

    @torch.no_grad()
    def load_from_torch(self, module: nn.Module, layer: int = 0) -> "GRUCell":
        """Copy the weights of ``module`` (an ``nn.GRU``, using its ``layer``,
        or an ``nn.GRUCell``) into this cell and return the cell. Both biases
        are kept, since ``b_hn`` is multiplied by the reset gate. Introduced
        on day 9."""
        _expect(module, (nn.GRU, nn.GRUCell), "GRUCell")
        p = _torch_params(module, layer)
        _copy(self.W_ih, p["weight_ih"], "weight_ih")
        _copy(self.W_hh, p["weight_hh"], "weight_hh")
        _copy(self.b_ih, _bias(p, "bias_ih", self.b_ih), "bias_ih")
        _copy(self.b_hh, _bias(p, "bias_hh", self.b_hh), "bias_hh")
        return self

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


# --------------------------------------------------------------------------
# layers: a cell unrolled over time, stacked num_layers deep


class _Recurrent(nn.Module):
    """A stack of cells, each unrolled over the time axis of its input."""

    _torch_kind: type = nn.RNN
    _has_cell_state = False

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 **cell_kwargs):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}.")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.num_layers = num_layers
        self.cells = nn.ModuleList(
            self._make_cell(input_size if k == 0 else hidden_size, hidden_size,
                            **cell_kwargs) for k in range(num_layers))

    def _make_cell(self, input_size, hidden_size, **kwargs):  # pragma: no cover
        raise NotImplementedError

    def _initial(self, X: torch.Tensor, state):
        if X.dim() != 3:
            raise ValueError(f"{type(self).__name__} expects X of shape (B, T, D), "
                             f"got shape {tuple(X.shape)}.")
        if X.shape[-1] != self.input_size:
            raise ValueError(f"X has {X.shape[-1]} features per step but the "
                             f"layer was built for input_size={self.input_size}.")
        L, B, H = self.num_layers, X.shape[0], self.hidden_size
        if state is None:
            zeros = X.new_zeros(L, B, H)                     # (L, B, H)
            return (zeros, zeros) if self._has_cell_state else zeros
        return state

    def forward(self, X: torch.Tensor, state=None):
        """``X`` ``(B, T, D)`` -> ``(outputs (B, T, H), final state)``; the
        final state has shape ``(L, B, H)`` (a pair of them for the LSTM)."""
        state = self._initial(X, state)
        layer_input = X                                      # (B, T, D)
        finals = []
        for k, cell in enumerate(self.cells):
            s = (state[0][k], state[1][k]) if self._has_cell_state else state[k]
            outputs = []
            for t in range(layer_input.shape[1]):
                s = cell(layer_input[:, t], s)               # (B, H) or pair
                outputs.append(s[0] if self._has_cell_state else s)
            layer_input = torch.stack(outputs, dim=1)        # (B, T, H)
            finals.append(s)
        if self._has_cell_state:
            h_n = torch.stack([f[0] for f in finals])        # (L, B, H)
            c_n = torch.stack([f[1] for f in finals])        # (L, B, H)
            return layer_input, (h_n, c_n)
        return layer_input, torch.stack(finals)              # (L, B, H)

    @torch.no_grad()
    def load_from_torch(self, module: nn.Module):
        """Copy every layer of a PyTorch ``module`` of the same kind and size
        (built with ``batch_first=True`` or not: the weights are the same)
        into this layer, and return the layer."""
        _expect(module, (self._torch_kind,), type(self).__name__)
        if module.num_layers != self.num_layers:
            raise ValueError(f"the PyTorch module has {module.num_layers} layers "
                             f"but this one has {self.num_layers}.")
        for k, cell in enumerate(self.cells):
            cell.load_from_torch(module, layer=k)
        return self

    @classmethod
    def from_torch(cls, module: nn.Module):
        """A new layer with the sizes and weights of a PyTorch ``module``."""
        _expect(module, (cls._torch_kind,), cls.__name__)
        kwargs = {}
        if cls._torch_kind is nn.RNN:
            kwargs["nonlinearity"] = module.nonlinearity
        layer = cls(module.input_size, module.hidden_size, module.num_layers,
                    **kwargs)
        return layer.load_from_torch(module)

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, "
                f"num_layers={self.num_layers}")


class RNN(_Recurrent):
    """A plain RNN over whole sequences, ``num_layers`` deep (day 8).

    ``forward(X, h0=None)``: ``X`` has shape ``(B, T, D)``, ``h0`` shape
    ``(L, B, H)`` (zeros when omitted). Returns ``(outputs, h_n)``:
    ``outputs`` ``(B, T, H)`` are the last layer's states at every step and
    ``h_n`` ``(L, B, H)`` every layer's final state, as :class:`torch.nn.RNN`
    with ``batch_first=True``. Introduced on day 8.
    """

    _torch_kind = nn.RNN

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh"):
        super().__init__(input_size, hidden_size, num_layers,
                         nonlinearity=nonlinearity)

    def _make_cell(self, input_size, hidden_size, nonlinearity="tanh"):
        return RNNCell(input_size, hidden_size, nonlinearity)


class LSTM(_Recurrent):
    """An LSTM over whole sequences, ``num_layers`` deep (day 9).

    ``forward(X, state=None)``: ``X`` has shape ``(B, T, D)`` and ``state``
    is ``(h0, c0)``, both ``(L, B, H)`` (zeros when omitted). Returns
    ``(outputs, (h_n, c_n))`` with ``outputs`` ``(B, T, H)``, as
    :class:`torch.nn.LSTM` with ``batch_first=True``. Introduced on day 9.
    """

    _torch_kind = nn.LSTM
    _has_cell_state = True

    def _make_cell(self, input_size, hidden_size):
        return LSTMCell(input_size, hidden_size)


class GRU(_Recurrent):
    """A GRU over whole sequences, ``num_layers`` deep (day 9).

    ``forward(X, h0=None)``: ``X`` has shape ``(B, T, D)``, ``h0`` shape
    ``(L, B, H)``. Returns ``(outputs (B, T, H), h_n (L, B, H))``, as
    :class:`torch.nn.GRU` with ``batch_first=True``. Introduced on day 9.
    """

    _torch_kind = nn.GRU

    def _make_cell(self, input_size, hidden_size):
        return GRUCell(input_size, hidden_size)


# --------------------------------------------------------------------------
# gradients over time


def recurrent_matrix(hidden_size: int, gain: float, seed: int = 0) -> torch.Tensor:
    """A random ``(H, H)`` matrix whose singular values all equal ``gain`` (day 8).

    It is ``gain`` times a random orthogonal matrix, so multiplying a vector
    by it scales the vector's length by exactly ``gain``: the cleanest way to
    see how the size of ``W_hh`` decides whether gradients vanish (gain < 1)
    or can explode (gain > 1). Introduced on day 8.
    """
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(hidden_size, hidden_size, generator=g)
    Q, R = torch.linalg.qr(A)
    Q = Q * torch.sign(torch.diagonal(R))              # a uniformly random rotation
    return gain * Q


def hidden_gradient_norms(X: torch.Tensor, W_xh: torch.Tensor, W_hh: torch.Tensor,
                          b: torch.Tensor, h0: torch.Tensor | None = None,
                          nonlinearity: str = "tanh") -> torch.Tensor:
    """How strongly the last state reacts to each earlier state (day 8).

    Unrolls the RNN of :func:`rnn_unroll` over ``X`` ``(B, T, D)``, takes the
    loss ``L = h_T.sum()`` (a stand-in for any loss read from the last step)
    and returns, for every step ``t = 1 ... T``, the norm of ``dL/dh_t``
    averaged over the batch: a tensor of shape ``(T,)`` whose last entry is
    ``sqrt(H)`` (``dL/dh_T`` is all ones). Backpropagation through time
    multiplies one Jacobian ``diag(1 - h_t**2) @ W_hh`` per step, so these
    norms shrink geometrically when ``W_hh`` is small. Introduced on day 8.
    """
    B, T, _ = X.shape
    h = X.new_zeros(B, W_hh.shape[0]) if h0 is None else h0
    h = h.detach().clone().requires_grad_(True)        # so every h_t joins the graph
    states = []
    with torch.enable_grad():
        for t in range(T):
            h = rnn_cell_step(X[:, t], h, W_xh.detach(), W_hh.detach(),
                              b.detach(), nonlinearity)
            h.retain_grad()                            # keep dL/dh_t
            states.append(h)
        h.sum().backward()
    return torch.stack([s.grad.norm(dim=-1).mean() for s in states])   # (T,)


def input_gradient_norms(layer: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """How strongly the last output reacts to each input step (day 9).

    ``layer`` maps ``X`` ``(B, T, D)`` to ``(outputs (B, T, H), state)`` like
    ``nn.RNN``/``nn.LSTM``/``nn.GRU`` with ``batch_first=True`` (or the
    layers of this module). With ``L = outputs[:, -1].sum()``, returns the
    norm of ``dL/dx_t`` for every step, averaged over the batch: shape
    ``(T,)``. Works for any architecture, which makes the RNN, LSTM and GRU
    comparable. Introduced on day 9.
    """
    X = X.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        outputs, _ = layer(X)                          # (B, T, H)
        outputs[:, -1].sum().backward()
    return X.grad.norm(dim=-1).mean(dim=0)             # (T,)


def global_grad_norm(grads: Sequence[torch.Tensor]) -> torch.Tensor:
    """The length of all gradients joined into one vector (day 8).

    ``grads`` is a list of tensors of any shapes; returns
    ``sqrt(sum of all squared entries)`` as a scalar tensor. Introduced on
    day 8.
    """
    return torch.sqrt(sum((g.double() ** 2).sum() for g in grads)).float()


def clip_grad_norm(grads: Sequence[torch.Tensor], max_norm: float,
                   eps: float = 1e-6) -> list[torch.Tensor]:
    """Rescale gradients so that their global norm is at most ``max_norm`` (day 8).

    ``grads`` is a list of tensors of any shapes. When the global norm ``n``
    (:func:`global_grad_norm`) exceeds ``max_norm``, every tensor is
    multiplied by the same factor ``max_norm / (n + eps)``; otherwise the
    gradients come back unchanged. The direction of the update is kept and
    only its length is capped, as in :func:`torch.nn.utils.clip_grad_norm_`
    (which works in place on ``.grad``). Returns new tensors. Introduced on
    day 8.
    """
    if max_norm <= 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}.")
    total = global_grad_norm(grads)
    scale = torch.clamp(max_norm / (total + eps), max=1.0)
    return [g * scale for g in grads]


def set_forget_bias(lstm: nn.LSTM, value: float) -> nn.LSTM:
    """Start every layer's forget gate at bias ``value`` and return ``lstm`` (day 9).

    In PyTorch's gate order (i, f, g, o) the forget gate owns rows
    ``H:2H`` of ``bias_ih_l{k}`` and ``bias_hh_l{k}``. The gate only sees
    their sum, so ``bias_hh`` gets ``value`` and ``bias_ih`` gets 0. A large
    value (1 to 5) opens the forget gate, ``sigmoid(5) = 0.993``, so that the
    cell state and its gradient survive many steps from the start of
    training. Works in place on an ``nn.LSTM`` with biases. Introduced on
    day 9.
    """
    if not isinstance(lstm, nn.LSTM):
        raise TypeError(f"set_forget_bias needs an nn.LSTM, got "
                        f"{type(lstm).__name__}.")
    if not lstm.bias:
        raise ValueError("this LSTM was built with bias=False; it has no forget "
                         "bias to set.")
    H = lstm.hidden_size
    with torch.no_grad():
        for k in range(lstm.num_layers):
            getattr(lstm, f"bias_ih_l{k}")[H:2 * H] = 0.0
            getattr(lstm, f"bias_hh_l{k}")[H:2 * H] = value
    return lstm


def init_gate_biases(lstm: nn.LSTM, **values: float) -> nn.LSTM:
    """Zero every bias of an ``nn.LSTM``, then start chosen gates at chosen
    biases, e.g. ``init_gate_biases(lstm, forget=5.0, input=-2.0)`` (day 9).

    Keyword names come from :data:`LSTM_GATES` (``input``, ``forget``,
    ``cell``, ``output``); each value goes into that gate's rows of
    ``bias_hh_l{k}`` in every layer, while ``bias_ih_l{k}`` stays 0, so the
    gate sees exactly the value. A forget gate at +5 keeps the cell state by
    default; an input gate at -2 (``sigmoid(-2) = 0.12``) writes little by
    default, so a long stretch of noise does not flood the cell before
    training has taught the gate what to let in. Works in place and returns
    ``lstm``. Introduced on day 9.
    """
    if not isinstance(lstm, nn.LSTM):
        raise TypeError(f"init_gate_biases needs an nn.LSTM, got "
                        f"{type(lstm).__name__}.")
    unknown = sorted(set(values) - set(LSTM_GATES))
    if unknown:
        raise ValueError(f"unknown gate name(s) {unknown}; use "
                         f"{', '.join(LSTM_GATES)}.")
    if not lstm.bias:
        raise ValueError("this LSTM was built with bias=False; it has no gate "
                         "biases to set.")
    H = lstm.hidden_size
    with torch.no_grad():
        for k in range(lstm.num_layers):
            getattr(lstm, f"bias_ih_l{k}").zero_()
            bias_hh = getattr(lstm, f"bias_hh_l{k}")
            bias_hh.zero_()
            for gate, value in values.items():
                j = LSTM_GATES.index(gate)
                bias_hh[j * H:(j + 1) * H] = value
    return lstm


# --------------------------------------------------------------------------
# a long-dependency task


def make_first_token_task(n: int, T: int, n_classes: int = 2, n_noise: int = 6,
                          seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences whose class is their first token, followed by noise (day 9).

    Tokens ``0 ... n_classes - 1`` carry the class; tokens ``n_classes ...
    n_classes + n_noise - 1`` are noise. Every sequence starts with its class
    token and continues with ``T - 1`` noise tokens drawn uniformly, so the
    answer is always ``T - 1`` steps in the past when the model must give it.
    Returns ``X`` of shape ``(n, T)`` (int64 tokens) and ``y`` of shape
    ``(n,)`` (int64 classes); the vocabulary has ``n_classes + n_noise``
    tokens. Seeded, so a given ``seed`` always gives the same data.
    Introduced on day 9.
    """
    if n < 1 or T < 1:
        raise ValueError(f"n and T must be at least 1, got n={n}, T={T}.")
    if n_classes < 2 or n_noise < 1:
        raise ValueError("make_first_token_task needs n_classes >= 2 and "
                         "n_noise >= 1.")
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, n_classes, (n,), generator=g)            # (n,)
    X = torch.randint(n_classes, n_classes + n_noise, (n, T), generator=g)
    X[:, 0] = y                                                    # (n, T)
    return X, y


class SequenceClassifier(nn.Module):
    """Tokens in, one class out, through PyTorch's RNN, LSTM or GRU (day 9).

    ``kind`` is ``"rnn"``, ``"lstm"`` or ``"gru"``. Tokens ``(B, T)`` become
    one-hot vectors ``(B, T, V)``, the recurrent layer reads them and a linear
    head turns the last hidden state ``(B, H)`` into logits ``(B, n_classes)``.
    ``gate_biases`` (LSTM only), e.g. ``{"forget": 5.0, "input": -2.0}``,
    zeroes the LSTM's biases and starts those gates there
    (:func:`init_gate_biases`). Introduced on day 9.
    """

    _KINDS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

    def __init__(self, kind: str, vocab_size: int, hidden_size: int,
                 n_classes: int, gate_biases: dict[str, float] | None = None):
        super().__init__()
        if kind not in self._KINDS:
            raise ValueError(f"kind must be one of {sorted(self._KINDS)}, got "
                             f"{kind!r}.")
        if gate_biases is not None and kind != "lstm":
            raise ValueError("gate_biases only exist for kind='lstm'.")
        self.kind, self.vocab_size = kind, vocab_size
        self.recurrent = self._KINDS[kind](vocab_size, hidden_size,
                                           batch_first=True)
        self.head = nn.Linear(hidden_size, n_classes)
        if gate_biases is not None:
            init_gate_biases(self.recurrent, **gate_biases)

    def forward(self, tokens: torch.Tensor, return_states: bool = False):
        x = F.one_hot(tokens, self.vocab_size).float()     # (B, T, V)
        outputs, _ = self.recurrent(x)                     # (B, T, H)
        logits = self.head(outputs[:, -1])                 # (B, n_classes)
        return (logits, outputs) if return_states else logits


def train_classifier(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                     X_val: torch.Tensor, y_val: torch.Tensor, steps: int = 150,
                     lr: float = 1e-2, max_norm: float | None = 1.0,
                     eval_every: int = 5,
                     num_threads: int | None = 1) -> dict[str, list]:
    """Full-batch Adam on ``(X, y)`` with gradient clipping (day 9).

    ``X`` and ``X_val`` hold whatever ``model`` reads (tokens ``(N, T)`` for
    :class:`SequenceClassifier`), ``y`` and ``y_val`` class indices ``(N,)``.
    Each step clips the global gradient norm to ``max_norm`` (None: no
    clipping). Returns a history with ``"step"``, ``"train_loss"`` (every
    step, measured before the update), and ``"eval_step"``, ``"val_loss"``,
    ``"val_acc"`` every ``eval_every`` steps and after the last one.

    Training runs on ``num_threads`` CPU threads (one by default, restored
    afterwards; None keeps PyTorch's setting). A recurrent layer with 16
    units performs hundreds of tiny operations per step, which more threads
    only slow down, and on one thread the numbers do not depend on how many
    cores the machine has. Introduced on day 9.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}.")
    if num_threads is None:
        return _train(model, X, y, X_val, y_val, steps, lr, max_norm, eval_every)
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        return _train(model, X, y, X_val, y_val, steps, lr, max_norm, eval_every)
    finally:
        torch.set_num_threads(previous)


def _train(model, X, y, X_val, y_val, steps, lr, max_norm, eval_every):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history: dict[str, list] = {k: [] for k in ("step", "train_loss", "eval_step",
                                                 "val_loss", "val_acc")}

    def evaluate(step: int) -> None:
        model.eval()
        with torch.no_grad():
            logits = model(X_val)                          # (N_val, n_classes)
            history["val_loss"].append(F.cross_entropy(logits, y_val).item())
            history["val_acc"].append((logits.argmax(-1) == y_val)
                                      .float().mean().item())
        history["eval_step"].append(step)
        model.train()

    evaluate(0)
    model.train()
    for step in range(1, steps + 1):
        loss = F.cross_entropy(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        if max_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        history["step"].append(step)
        history["train_loss"].append(loss.item())
        if step % eval_every == 0 or step == steps:
            evaluate(step)
    return history


# --------------------------------------------------------------------------
# a picture


def plot_unrolled(T: int = 4, ax=None, cell: str = "RNN cell"):
    """Draw a recurrent network unrolled over ``T`` time steps (day 8).

    One box per step, the input ``x_t`` entering from below, the state
    ``h_t`` leaving upwards and to the right, where the next copy of the same
    cell reads it. Returns the matplotlib ``ax``. Introduced on day 8.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    from helpers.plotting import COURSE_COLORS

    if ax is None:
        _, ax = plt.subplots(figsize=(2.3 * T + 1.6, 3.6))
    arrow = dict(arrowstyle="-|>", color="black", lw=1.8, mutation_scale=16)
    for t in range(1, T + 1):
        x = 2.2 * t
        ax.add_patch(FancyBboxPatch((x - 0.6, -0.4), 1.2, 0.8,
                                    boxstyle="round,pad=0.05",
                                    facecolor=COURSE_COLORS[0], alpha=0.85))
        ax.text(x, 0, cell, ha="center", va="center", color="white", fontsize=12)
        ax.annotate("", (x, -0.45), (x, -1.25), arrowprops=arrow)
        ax.text(x, -1.5, f"$x_{t}$", ha="center", va="center", fontsize=15)
        ax.annotate("", (x, 1.25), (x, 0.45), arrowprops=arrow)
        ax.text(x, 1.5, f"$h_{t}$", ha="center", va="center", fontsize=15)
        ax.annotate("", (x - 0.65, 0), (x - 1.55, 0), arrowprops=arrow)
        ax.text(x - 1.1, 0.22, f"$h_{t - 1}$", ha="center", fontsize=13,
                color=COURSE_COLORS[1])
    ax.text(2.2 * (T + 1) / 2, -2.2, "the same weights $W_{xh}, W_{hh}, b$ at "
            "every step", ha="center", fontsize=13)
    ax.set_xlim(0.4, 2.2 * T + 0.9)
    ax.set_ylim(-2.5, 1.9)
    ax.set_axis_off()
    return ax
