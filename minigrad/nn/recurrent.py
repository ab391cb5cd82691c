"""Recurrent cells and layers (RNN, GRU, LSTM) built only from the engine's primitives.

Nothing here has a backward pass: a layer is a loop over time that calls its cell's
equations on Tensors, and the engine differentiates the unrolled graph, which is
backpropagation through time.

Cells (``RNNCell``, ``GRUCell``, ``LSTMCell``) hold one set of weights and run one step.
Layers (``RNN``, ``GRU``, ``LSTM``) run ``num_layers`` stacked layers, each in one or two
directions, through ONE loop shared by every cell kind (``RNNBase._run_direction``). The
equations and the parameters' names, shapes and initialisation are PyTorch's, so a PyTorch
``state_dict`` converted to numpy loads unchanged. Variants are cell options:
``RNNCell(nonlinearity="relu")``, ``GRUCell(variant="reset_before" | "minimal")`` and
``LSTMCell(peephole=True)`` (layers take the same options).

A step costs one matmul on the stacked gate weights, then slices: the input projection of
every timestep is one matmul before the time loop, and ``W_hh`` is transposed and the
biases folded once per call, not per step.

Tracer scopes. A layer runs in ``mg.scope`` names that the graph renderer groups by::

    lstm                     the layer (class name, lowercase): batch_first transposes,
                             stacking h_n / c_n
    lstm/l1                  layer 1: joining the two directions, dropout on its output
    lstm/l1/fwd              direction ("fwd" or "bwd"): W^T, folded biases, the input
                             projection of all timesteps, h0[k] slices, stacking outputs
    lstm/l1/bwd/t3           one step at INPUT time index t (the backward direction runs
                             t = T-1, ..., 0), e.g. every op of LSTMCell's equations

A cell called on its own runs in ``mg.scope("lstmcell")`` (``rnncell``, ``grucell``), so in
a hand-written loop ``with mg.scope(f"t{t}"): h, c = cell(x[t], (h, c))`` reads ``t3/lstmcell``.

Truncated BPTT: carry the state across chunks with ``detach()``, so each chunk's backward
stops at its first step (gradients equal those of the chunk run alone from that state)::

    state = None                                # inputs (T, B, I): one long sequence
    for start in range(0, len(inputs), 50):
        chunk = slice(start, start + 50)
        out, (h, c) = lstm(inputs[chunk], state)
        loss = loss_fn(head(out), targets[chunk])
        opt.zero_grad(); loss.backward(); opt.step()
        state = (h.detach(), c.detach())        # the cut: no gradient flows past here
"""

from __future__ import annotations

import gc
import math
import warnings
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from .. import tracing
from ..autograd import is_grad_enabled
from ..checkpoint import checkpoint
from ..tensor import Tensor, concat, split, stack, where
from . import init
from .functional import dropout
from .module import Module, Parameter, as_layer_input
from .utils.rnn import PackedSequence, check_lengths, pack_like, pad_packed_sequence

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"]

_NONLINEARITIES = ("tanh", "relu")
_GRU_VARIANTS = ("reset_after", "reset_before", "minimal")


class StepWeights(NamedTuple):
    """What a step reads, made once per forward call (transposes, folded biases), not per step."""

    ih_t: Tensor                    # W_ih^T (I, G*H): one matmul projects every timestep's input
    x_bias: Tensor | None           # the biases folded into that projection
    hh_t: Tensor                    # W_hh^T (H, G*H): one matmul gives every gate's hidden term
    h_bias: Tensor | None = None    # GRU reset_after: b_hh must stay inside r * (W_hn h + b_hn)
    hn_t: Tensor | None = None      # GRU reset_before: W_hn^T, applied to r * h
    ci: Tensor | None = None        # LSTM peepholes (H,)
    cf: Tensor | None = None
    co: Tensor | None = None
    hr_t: Tensor | None = None      # LSTM projection W_hr^T (H, P)


# ----------------------------------------------------------------------------------------
# Cells
# ----------------------------------------------------------------------------------------

class RNNCellBase(Module):
    """One step of a recurrent cell with ``num_gates`` gates stacked in its weights.

    Parameters (PyTorch's names and init, U(-1/sqrt(H), 1/sqrt(H))): ``weight_ih`` (G*H, I),
    ``weight_hh`` (G*H, H), ``bias_ih`` and ``bias_hh`` (G*H,), the rows stacked gate by gate.

    A subclass writes its equations in ``step`` (and, if some bias cannot be folded into the
    input projection, in ``prepare``); ``forward`` and the layers' time loop both call them.
    """

    num_gates = 1
    state_names: tuple[str, ...] = ("h",)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None,
                 recurrent_size: int | None = None, num_gates: int | None = None) -> None:
        super().__init__()
        if num_gates is not None:
            self.num_gates = num_gates
        name = type(self).__name__
        for label, size in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size <= 0:
                raise ValueError(f"{name}: {label} must be a positive integer, got {size!r}")
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.bias = bool(bias)
        recurrent_size = self.hidden_size if recurrent_size is None else recurrent_size
        rows = self.num_gates * self.hidden_size
        self.weight_ih = self._new_parameter((rows, self.input_size), dtype)
        self.weight_hh = self._new_parameter((rows, recurrent_size), dtype)
        if self.bias:
            self.bias_ih = self._new_parameter((rows,), dtype)
            self.bias_hh = self._new_parameter((rows,), dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def _new_parameter(self, shape: tuple[int, ...], dtype: Any) -> Parameter:
        bound = 1.0 / math.sqrt(self.hidden_size)
        param = Parameter(np.empty(shape, dtype=np.float32 if dtype is None else dtype))
        return init.uniform_(param, -bound, bound)

    def state_sizes(self) -> tuple[int, ...]:
        """Feature size of each state (h, or h and c)."""
        return (self.hidden_size,)

    # ---- the equations ----------------------------------------------------------------
    def prepare(self, w: Mapping[str, Tensor | None]) -> StepWeights:
        """Per call: transpose the weights once and fold ``b_ih + b_hh`` into the input projection."""
        bias = None if w.get("bias_ih") is None else w["bias_ih"] + w["bias_hh"]
        return StepWeights(ih_t=w["weight_ih"].T, x_bias=bias, hh_t=w["weight_hh"].T)

    def project(self, x: Tensor, p: StepWeights) -> Tensor:
        """``W_ih x + folded biases`` for a (N, I) batch of inputs: (N, G*H)."""
        x_gates = x @ p.ih_t
        return x_gates if p.x_bias is None else x_gates + p.x_bias

    def step(self, x_gates: Tensor, state: tuple[Tensor, ...], p: StepWeights) -> tuple[Tensor, ...]:
        """One timestep from the projected input ``x_gates`` (B, G*H) and the state tuple."""
        raise NotImplementedError(f"{type(self).__name__} must define step()")

    # ---- one step on the cell's own weights --------------------------------------------
    def _forward(self, x: Any, states: tuple[Any, ...]) -> tuple[Tensor, ...]:
        name = type(self).__name__
        x = _as_tensor(x, self.weight_ih.dtype, name, "input")
        if x.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {x.ndim}D instead (shape {x.shape})")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input has inconsistent input_size: got {x.shape[-1]}, expected "
                             f"{self.input_size} (input of shape {x.shape})")
        unbatched = x.ndim == 1
        batch = 1 if unbatched else x.shape[0]
        zeros = _Zeros(self.weight_ih.dtype)
        full = []
        for label, state, size in zip(self.state_names, states, self.state_sizes()):
            if state is None:
                full.append(zeros(batch, size))
                continue
            state = _as_tensor(state, self.weight_ih.dtype, name, label)
            expected = (size,) if unbatched else (batch, size)
            if state.shape != expected:
                raise ValueError(f"{name}: expected {label} of shape {expected} for an input of shape "
                                 f"{x.shape}, got {state.shape}")
            full.append(state.reshape(1, size) if unbatched else state)
        with tracing.scope(name.lower()):
            if unbatched:
                x = x.reshape(1, self.input_size)
            p = self.prepare(self._parameters)
            out = self.step(self.project(x, p), tuple(full), p)
            if unbatched:
                out = tuple(s.reshape(s.shape[-1]) for s in out)
        return out

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(RNNCellBase):
    """Elman RNN cell, ``h' = cell(x, h=None)``: one gate, ``nonlinearity`` tanh or relu.

        h' = tanh(W_ih x + b_ih + W_hh h + b_hh)        (relu instead of tanh if asked)

    Course notation (Sequence Models): a<t> = g(W_aa a<t-1> + W_ax x<t> + b_a) with
    W_ax = weight_ih, W_aa = weight_hh, b_a = bias_ih + bias_hh, a = h.
    Input (B, I) or unbatched (I,); h (B, H) or (H,); a missing h means zeros.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype: Any = None) -> None:
        if nonlinearity not in _NONLINEARITIES:
            raise ValueError(f"RNNCell: Unknown nonlinearity {nonlinearity!r}. Select from 'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity

    def step(self, x_gates: Tensor, state: tuple[Tensor, ...], p: StepWeights) -> tuple[Tensor, ...]:
        (h,) = state
        pre_activation = x_gates + h @ p.hh_t          # W_ih x + b_ih + b_hh (projected) + W_hh h
        return (pre_activation.tanh() if self.nonlinearity == "tanh" else pre_activation.relu(),)

    def forward(self, x: Any, h: Any = None) -> Tensor:
        return self._forward(x, (h,))[0]

    def extra_repr(self) -> str:
        extra = "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity}"
        return super().extra_repr() + extra


class GRUCell(RNNCellBase):
    """Gated recurrent unit, ``h' = cell(x, h=None)``; gates stacked r, z, n (PyTorch's order).

    ``variant="reset_after"`` (PyTorch, cuDNN)::

        reset     r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        update    z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        candidate n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h                         (computed as n + z * (h - n))

    In the code x_r = W_ir x + b_ir (every timestep in one matmul, before the loop) and
    h_r = W_hr h + b_hr (all gates in one matmul per step); biases that are not inside
    ``r * (...)`` are folded into the x side.

    ``variant="reset_before"`` (Cho et al. 2014, Keras ``reset_after=False``): the same but
    ``n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)``.

    ``variant="minimal"`` (the course's simplified GRU: update gate only): gates stacked z, n
    (G = 2, ``weight_ih`` is (2H, I))::

        update    z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        candidate n  = tanh(W_in x + b_in + W_hn h + b_hn)
        h' = (1 - z) * n + z * h

    Course notation (Sequence Models): c<t> = h, c~<t> = n, Gamma_r = r and Gamma_u = 1 - z
    (the course writes c<t> = Gamma_u * c~<t> + (1 - Gamma_u) * c<t-1>). The course's full GRU,
    c~<t> = tanh(W_c [Gamma_r * c<t-1>, x<t>] + b_c), is ``reset_before``, with
    W_c = [W_hn | W_in] and b_c = b_in + b_hn.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, variant: str = "reset_after",
                 dtype: Any = None) -> None:
        if variant not in _GRU_VARIANTS:
            raise ValueError(f"GRUCell: Unknown variant {variant!r}. Select from "
                             f"{', '.join(repr(v) for v in _GRU_VARIANTS)}.")
        super().__init__(input_size, hidden_size, bias, dtype, num_gates=2 if variant == "minimal" else 3)
        self.variant = variant

    def prepare(self, w: Mapping[str, Tensor | None]) -> StepWeights:
        if self.variant == "reset_after":           # b_hn sits inside r * (...): only b_ih folds
            return StepWeights(ih_t=w["weight_ih"].T, x_bias=w.get("bias_ih"), hh_t=w["weight_hh"].T,
                               h_bias=w.get("bias_hh"))
        p = super().prepare(w)
        if self.variant == "reset_before":          # r and z share one matmul, n needs r * h first
            rz_t, n_t = split(p.hh_t, [2 * self.hidden_size, self.hidden_size], axis=1)
            return p._replace(hh_t=rz_t, hn_t=n_t)
        return p

    def step(self, x_gates: Tensor, state: tuple[Tensor, ...], p: StepWeights) -> tuple[Tensor, ...]:
        (h,) = state
        H = self.hidden_size
        h_gates = h @ p.hh_t if p.h_bias is None else h @ p.hh_t + p.h_bias
        if self.variant == "minimal":
            x_z, x_n = split(x_gates, H, axis=-1)
            h_z, h_n = split(h_gates, H, axis=-1)
            update = (x_z + h_z).sigmoid()
            candidate = (x_n + h_n).tanh()
        else:
            x_r, x_z, x_n = split(x_gates, H, axis=-1)
            h_r, h_z, *h_n = split(h_gates, H, axis=-1)
            reset = (x_r + h_r).sigmoid()
            update = (x_z + h_z).sigmoid()
            if self.variant == "reset_after":
                candidate = (x_n + reset * h_n[0]).tanh()
            else:
                candidate = (x_n + (reset * h) @ p.hn_t).tanh()
        return (candidate + update * (h - candidate),)

    def forward(self, x: Any, h: Any = None) -> Tensor:
        return self._forward(x, (h,))[0]

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.variant == "reset_after" else f", variant={self.variant}")


class LSTMCell(RNNCellBase):
    """Long short-term memory cell, ``h', c' = cell(x, None or (h, c))``; gates stacked i, f, g, o.

        a_i, a_f, a_g, a_o = W_i* x + b_i* + W_h* h + b_h*    (one matmul on the stacked weights)
        input_gate  i  = sigmoid(a_i [+ w_ci * c])
        forget_gate f  = sigmoid(a_f [+ w_cf * c])
        candidate   g  = tanh(a_g)
        c' = f * c + i * g
        output_gate o  = sigmoid(a_o [+ w_co * c'])
        h' = o * tanh(c')                                    [then h' = W_hr h' if proj_size]

    The bracketed terms are the peephole connections (``peephole=True``, Gers & Schmidhuber
    2000): diagonal weights ``weight_ci``, ``weight_cf``, ``weight_co`` (H,); the input and
    forget gates see c, the output gate sees c'. ``proj_size=P`` (as ``torch.nn.LSTM``'s) adds
    ``weight_hr`` (P, H) and makes h of size P (``weight_hh`` is then (4H, P)).

    Course notation (Sequence Models): Gamma_u = i, Gamma_f = f, Gamma_o = o, c~<t> = g,
    a<t> = h, c<t> = c; W_c [a<t-1>, x<t>] + b_c = W_hg h + W_ig x + b_ig + b_hg.
    """

    num_gates = 4
    state_names = ("h", "c")

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, peephole: bool = False,
                 proj_size: int = 0, dtype: Any = None) -> None:
        if not isinstance(proj_size, (int, np.integer)) or proj_size < 0 or (proj_size and proj_size >= hidden_size):
            raise ValueError(f"LSTMCell: proj_size must be an integer in [0, hidden_size={hidden_size}), "
                             f"got {proj_size!r}")
        super().__init__(input_size, hidden_size, bias, dtype, recurrent_size=proj_size or None)
        self.peephole = bool(peephole)
        self.proj_size = int(proj_size)
        if self.proj_size:
            self.weight_hr = self._new_parameter((self.proj_size, self.hidden_size), dtype)
        if self.peephole:
            self.weight_ci = self._new_parameter((self.hidden_size,), dtype)
            self.weight_cf = self._new_parameter((self.hidden_size,), dtype)
            self.weight_co = self._new_parameter((self.hidden_size,), dtype)

    def state_sizes(self) -> tuple[int, ...]:
        return (self.proj_size or self.hidden_size, self.hidden_size)

    def prepare(self, w: Mapping[str, Tensor | None]) -> StepWeights:
        p = super().prepare(w)
        hr = w.get("weight_hr")
        return p._replace(ci=w.get("weight_ci"), cf=w.get("weight_cf"), co=w.get("weight_co"),
                          hr_t=None if hr is None else hr.T)

    def step(self, x_gates: Tensor, state: tuple[Tensor, ...], p: StepWeights) -> tuple[Tensor, ...]:
        h, c = state
        a_i, a_f, a_g, a_o = split(x_gates + h @ p.hh_t, self.hidden_size, axis=-1)
        input_gate = (a_i + p.ci * c).sigmoid() if self.peephole else a_i.sigmoid()
        forget_gate = (a_f + p.cf * c).sigmoid() if self.peephole else a_f.sigmoid()
        candidate = a_g.tanh()
        c_next = forget_gate * c + input_gate * candidate
        output_gate = (a_o + p.co * c_next).sigmoid() if self.peephole else a_o.sigmoid()
        h_next = output_gate * c_next.tanh()
        return (h_next if p.hr_t is None else h_next @ p.hr_t, c_next)

    def forward(self, x: Any, state: tuple[Any, Any] | None = None) -> tuple[Tensor, Tensor]:
        h, c = _state_pair(state, "LSTMCell")
        return self._forward(x, (h, c))

    def extra_repr(self) -> str:
        extra = f", proj_size={self.proj_size}" if self.proj_size else ""
        return super().extra_repr() + extra + (", peephole=True" if self.peephole else "")


# ----------------------------------------------------------------------------------------
# Layers
# ----------------------------------------------------------------------------------------

class RNNBase(Module):
    """``num_layers`` stacked recurrent layers, each in one or two directions, over a sequence.

    x: (T, B, I), (B, T, I) with ``batch_first``, or unbatched (T, I). Returns the last
    layer's outputs, (T, B, D*H) [(B, T, D*H); (T, D*H)], and the final state(s),
    (D*num_layers, B, H) [(D*num_layers, H)], indexed ``layer * D + direction``, D = 2 if
    bidirectional. A layer above a bidirectional one reads both directions' outputs (2H).

    Layer k, direction d runs the cell ``self.cells[k * D + d]``'s equations on the parameters
    registered here as ``weight_ih_l{k}[_reverse]`` etc. (PyTorch's names, so ``state_dict``
    keys equal PyTorch's); each starts as an independently initialised cell.
    ``dropout`` applies to every layer's output except the last, in training mode only.
    """

    cell_class: type[RNNCellBase] = RNNCellBase

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype: Any = None, checkpoint_every: int | None = None, **cell_options: Any) -> None:
        super().__init__()
        name = type(self).__name__
        every_is_int = isinstance(checkpoint_every, (int, np.integer)) and not isinstance(checkpoint_every, bool)
        if checkpoint_every is not None and (not every_is_int or checkpoint_every < 1):
            raise ValueError(f"{name}: checkpoint_every must be a positive int (timesteps per recomputed segment) "
                             f"or None, got {checkpoint_every!r}")
        self.checkpoint_every = None if checkpoint_every is None else int(checkpoint_every)
        if not isinstance(num_layers, (int, np.integer)) or isinstance(num_layers, bool) or num_layers < 1:
            raise ValueError(f"{name}: num_layers must be an integer greater than zero, got {num_layers!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing the "
                             f"probability of an element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout applies between recurrent layers, so dropout={dropout} with "
                          "num_layers=1 does nothing", stacklevel=2)
        self.input_size = input_size             # validated by the cells below
        self.hidden_size = hidden_size
        self.num_layers = int(num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self._cell_options = cell_options
        directions = 2 if bidirectional else 1
        cells = []
        for layer in range(self.num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else directions * (cell_options.get("proj_size") or hidden_size)
                try:
                    cell = self.cell_class(layer_input, hidden_size, bias=bias, dtype=dtype, **cell_options)
                except ValueError as err:       # name the layer, not the cell, in the message
                    raise ValueError(str(err).replace(self.cell_class.__name__, name, 1)) from None
                for param_name, param in cell.named_parameters():
                    setattr(self, param_name + self._suffix(layer, direction), param)
                cells.append(cell)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        # Not registered: the layer's own attributes are the parameters; the cells give equations.
        object.__setattr__(self, "cells", tuple(cells))

    @staticmethod
    def _suffix(layer: int, direction: int) -> str:
        return f"_l{layer}" + ("_reverse" if direction else "")

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _run(self, x: Any, states: tuple[Any, ...], lengths: Any = None) -> tuple[Any, tuple[Tensor, ...]]:
        """Check the arguments, then run every layer and direction; returns (out, final states).

        ``lengths`` (B,), or a PackedSequence ``x``, makes a variable-length batch: sequence b
        runs steps 0..lengths[b]-1 only (see ``_run_direction``); a packed input gives a packed output.
        """
        name = type(self).__name__
        dtype = self.weight_ih_l0.dtype
        packed, batch_first = None, self.batch_first
        if isinstance(x, PackedSequence):
            if lengths is not None:
                raise ValueError(f"{name}: a PackedSequence carries its own lengths; pass lengths= only "
                                 "with a padded input")
            packed, batch_first = x, False          # packed data is time-major, whatever batch_first says
            x, lengths = pad_packed_sequence(packed)[0], packed.lengths()
        x = _as_tensor(x, dtype, name, "input")
        if x.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {x.ndim}D instead (shape {x.shape})")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                             f"got {x.shape[-1]} (input of shape {x.shape})")
        unbatched = x.ndim == 2
        steps = x.shape[0] if unbatched or not batch_first else x.shape[1]
        if steps == 0:
            raise ValueError(f"{name}: Expected sequence length to be larger than 0 (input of shape {x.shape})")
        batch = 1 if unbatched else x.shape[1 if not batch_first else 0]
        running = None                              # (T, B): does sequence b still run at step t?
        if lengths is not None:
            if unbatched:
                raise ValueError(f"{name}: lengths= needs a batched input, (T, B, I) or (B, T, I) with "
                                 f"batch_first; got shape {x.shape}")
            lengths = check_lengths(lengths, batch, steps, name)
            running = np.arange(steps)[:, None] < lengths[None, :]
            if running.all():                       # nothing is padding: the plain loop
                running = None
        D, L = self.num_directions, self.num_layers
        sizes = self.cells[0].state_sizes()
        initial = self._check_states(states, sizes, batch, unbatched, dtype)

        with tracing.scope(name.lower()):
            if unbatched:
                x = x.reshape(steps, 1, self.input_size)
            elif batch_first:
                x = x.transpose(0, 1)
            zeros = _Zeros(dtype)                      # one zero state per size, for every layer
            finals: list[list[Tensor]] = [[] for _ in sizes]
            for layer in range(L):
                with tracing.scope(f"l{layer}"):
                    outputs = []
                    for direction in range(D):
                        index = layer * D + direction
                        cell = self.cells[index]
                        suffix = self._suffix(layer, direction)
                        weights = {key: getattr(self, key + suffix) for key in cell._parameters}
                        with tracing.scope("bwd" if direction else "fwd"):
                            state = tuple(zeros(batch, size) if s is None else s[index]
                                          for s, size in zip(initial, sizes))
                            # checkpointed segments cover full-length batches; a variable-length batch
                            # (running is not None) runs the plain loop: same results, no memory saving
                            if self.checkpoint_every and is_grad_enabled() and running is None:
                                out, state = _run_direction_checkpointed(cell, weights, x, state, direction == 1,
                                                                         self.checkpoint_every)
                            else:
                                out, state = self._run_direction(cell, weights, x, state, reverse=direction == 1,
                                                                 running=running)
                        outputs.append(out)
                        for k, s in enumerate(state):
                            finals[k].append(s)
                    x = outputs[0] if D == 1 else concat(outputs, axis=-1)
                    if layer < L - 1:
                        x = dropout(x, self.dropout, self.training)
            out_states = tuple(stack(f, axis=0) for f in finals)
            if unbatched:
                x = x.reshape(steps, x.shape[-1])
                out_states = tuple(s.reshape(D * L, size) for s, size in zip(out_states, sizes))
            elif batch_first:
                x = x.transpose(0, 1)
            if packed is not None:
                x = pack_like(x, packed)
        return x, out_states

    @staticmethod
    def _run_direction(cell: RNNCellBase, weights: Mapping[str, Tensor | None], x: Tensor,
                       state: tuple[Tensor, ...], reverse: bool,
                       running: np.ndarray | None = None) -> tuple[Tensor, tuple[Tensor, ...]]:
        """THE time loop, for every cell kind: x (T, B, I) -> outputs (T, B, H), final state.

        With ``running`` (T, B) (a variable-length batch), a step where some sequence has ended
        keeps that sequence's state, and its outputs there are zero::

            state_t = where(running[t], cell(x_t, state_{t-1}), state_{t-1})
            out     = where(running, [h_0, ..., h_{T-1}], 0)          (once, after the loop)

        so h_n is each sequence's state at its own last step, the reverse direction starts at
        each sequence's own end (from h0), and padded steps pass no gradient to anything.
        """
        T, B, features = x.shape
        p = cell.prepare(weights)
        projected = cell.project(x.reshape(T * B, features), p)                  # every timestep, one matmul
        x_gates = projected.reshape(T, B, projected.shape[-1])     # not -1: a batch of 0 is legal (PyTorch)
        outputs: list[Any] = [None] * T
        # Each step adds ~15 tensors to a graph that holds no reference cycles: pause the cyclic
        # collector, which would otherwise rescan the growing graph (cost per step grows with T).
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for t in (range(T - 1, -1, -1) if reverse else range(T)):
                with tracing.scope(f"t{t}"):
                    new_state = cell.step(x_gates[t], state, p)
                    if running is None or running[t].all():
                        state = new_state
                    else:                          # a sequence has ended (reversed: not begun): it keeps its state
                        state = _keep_finished(new_state, state, running[t])
                outputs[t] = state[0]
        finally:
            if gc_was_enabled:
                gc.enable()
        out = stack(outputs, axis=0)
        if running is not None:                    # zeros past each sequence's end: one op for all steps
            out = where(Tensor(running[:, :, None]), out, 0.0)
        return out, state

    def _check_states(self, states: tuple[Any, ...], sizes: tuple[int, ...], batch: int, unbatched: bool,
                      dtype: Any) -> list[Tensor | None]:
        name = type(self).__name__
        if all(s is None for s in states):
            return [None] * len(states)
        if any(s is None for s in states):
            raise ValueError(f"{name}: pass both h0 and c0, or neither (got one of them as None)")
        states = tuple(_as_tensor(s, dtype, name, label) for s, label in zip(states, ("h0", "c0")))
        want = 2 if unbatched else 3
        if any(s.ndim != want for s in states):
            got = ", ".join(f"{s.ndim}-D" for s in states)
            what = "hx" if len(states) == 1 else "hx and cx"
            raise ValueError(f"{name}: For {'unbatched 2-D' if unbatched else 'batched 3-D'} input, {what} "
                             f"should also be {want}-D but got ({got}) tensor(s)")
        full = []
        for k, (s, size) in enumerate(zip(states, sizes)):
            expected = (self.num_directions * self.num_layers, size) if unbatched else \
                (self.num_directions * self.num_layers, batch, size)
            if s.shape != expected:
                which = "hidden" if len(states) == 1 else f"hidden[{k}]"
                raise ValueError(f"{name}: Expected {which} size {expected}, got {s.shape}")
            full.append(s.reshape(expected[0], 1, size) if unbatched else s)
        return full

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self._cell_options.get("proj_size"):
            text += f", proj_size={self._cell_options['proj_size']}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        defaults = {"nonlinearity": "tanh", "variant": "reset_after", "peephole": False, "proj_size": 0}
        for key, value in self._cell_options.items():
            if key != "proj_size" and value != defaults.get(key):
                text += f", {key}={value}"
        return text


class RNN(RNNBase):
    """Elman RNN layers: ``out, h_n = rnn(x, h0=None)``; each step is ``RNNCell``'s equation.

    Parameters per layer k (and ``_reverse``): ``weight_ih_l{k}`` (H, I or D*H),
    ``weight_hh_l{k}`` (H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (H,).
    """

    cell_class = RNNCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype: Any = None, checkpoint_every: int | None = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype, checkpoint_every, nonlinearity=nonlinearity)
        self.nonlinearity = nonlinearity

    def forward(self, x: Any, h0: Any = None, lengths: Any = None) -> tuple[Any, Tensor]:
        out, (h_n,) = self._run(x, (h0,), lengths)
        return out, h_n


class GRU(RNNBase):
    """GRU layers: ``out, h_n = gru(x, h0=None)``; each step is ``GRUCell``'s equations.

    ``variant`` as ``GRUCell`` ("reset_after" is PyTorch's). Parameters per layer k (and
    ``_reverse``): ``weight_ih_l{k}`` (G*H, I or D*H), ``weight_hh_l{k}`` (G*H, H),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G*H,), G = 3 (2 for "minimal").
    """

    cell_class = GRUCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 variant: str = "reset_after", dtype: Any = None, checkpoint_every: int | None = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype, checkpoint_every, variant=variant)
        self.variant = variant

    def forward(self, x: Any, h0: Any = None, lengths: Any = None) -> tuple[Any, Tensor]:
        out, (h_n,) = self._run(x, (h0,), lengths)
        return out, h_n


class LSTM(RNNBase):
    """LSTM layers: ``out, (h_n, c_n) = lstm(x, None or (h0, c0))``; each step is ``LSTMCell``'s.

    Parameters per layer k (and ``_reverse``): ``weight_ih_l{k}`` (4H, I or D*H),
    ``weight_hh_l{k}`` (4H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (4H,); with ``proj_size=P``
    also ``weight_hr_l{k}`` (P, H), h and the outputs have size P and ``weight_hh_l{k}`` is (4H, P);
    with ``peephole=True`` also ``weight_ci_l{k}``, ``weight_cf_l{k}``, ``weight_co_l{k}`` (H,).
    c_n is (D*num_layers, B, H).
    """

    cell_class = LSTMCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, peephole: bool = False, dtype: Any = None,
                 checkpoint_every: int | None = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype, checkpoint_every, peephole=peephole, proj_size=proj_size)
        self.proj_size = proj_size
        self.peephole = peephole

    def forward(self, x: Any, state: tuple[Any, Any] | None = None,
                lengths: Any = None) -> tuple[Any, tuple[Tensor, Tensor]]:
        h0, c0 = _state_pair(state, "LSTM")
        out, (h_n, c_n) = self._run(x, (h0, c0), lengths)
        return out, (h_n, c_n)


def _run_direction_checkpointed(cell: RNNCellBase, weights: Mapping[str, Tensor | None], x: Tensor,
                                state: tuple[Tensor, ...], reverse: bool,
                                every: int) -> tuple[Tensor, tuple[Tensor, ...]]:
    """The time loop in segments of ``every`` steps, each under ``checkpoint``: memory-efficient BPTT.

    Only the states at segment boundaries (and the input) are kept; in ``backward()`` each
    segment runs again, input projection included, and is differentiated at once (Chen et al.
    2016: segments of sqrt(T) steps keep O(sqrt(T)) states for one extra forward pass;
    Gruslys et al. 2016 for BPTT). Gradients equal the plain loop's.
    """
    T, B, features = x.shape
    p = cell.prepare(weights)                   # W^T and folded biases: arguments of every segment
    fields = [name for name, value in p._asdict().items() if value is not None]
    n_states = len(state)

    def segment(x_chunk: Tensor, start: int, *tensors: Tensor) -> tuple[Tensor, ...]:
        seg_state = tensors[:n_states]
        seg_p = p._replace(**dict(zip(fields, tensors[n_states:])))
        steps = x_chunk.shape[0]
        projected = cell.project(x_chunk.reshape(steps * B, features), seg_p)
        x_gates = projected.reshape(steps, B, projected.shape[-1])
        outputs: list[Any] = [None] * steps
        for i in (range(steps - 1, -1, -1) if reverse else range(steps)):
            with tracing.scope(f"t{start + i}"):
                seg_state = cell.step(x_gates[i], seg_state, seg_p)
            outputs[i] = seg_state[0]
        return (stack(outputs, axis=0), *seg_state)

    starts = list(range(0, T, every))
    chunks: list[Any] = [None] * len(starts)
    for j in (reversed(range(len(starts))) if reverse else range(len(starts))):
        start = starts[j]
        chunk_out, *state = checkpoint(segment, x[start:start + every], start, *state,
                                       *(getattr(p, name) for name in fields))
        chunks[j] = chunk_out
    return (chunks[0] if len(chunks) == 1 else concat(chunks, axis=0)), tuple(state)


# ----------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------

class _Zeros:
    """Zero states made once per call and shared (a missing state costs no per-step allocation)."""

    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype
        self.made: dict[tuple[int, int], Tensor] = {}

    def __call__(self, batch: int, size: int) -> Tensor:
        key = (batch, size)
        if key not in self.made:
            self.made[key] = Tensor(np.zeros(key, dtype=self.dtype))
        return self.made[key]


def _keep_finished(new_state: tuple[Tensor, ...], old_state: tuple[Tensor, ...],
                   running: np.ndarray) -> tuple[Tensor, ...]:
    """The new state for the sequences still running (``running``: (B,) bool), the old one for the rest."""
    keep = Tensor(running[:, None])
    return tuple(where(keep, new, old) for new, old in zip(new_state, old_state))


def _as_tensor(value: Any, dtype: Any, owner: str, label: str) -> Tensor:
    return as_layer_input(value, dtype, owner, label)     # the dtype rule every layer shares


def _state_pair(state: Any, owner: str) -> tuple[Any, Any]:
    if state is None:
        return None, None
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise TypeError(f"{owner}: the state must be None or a pair (h, c), got {type(state).__name__}"
                        + (f" of length {len(state)}" if isinstance(state, (tuple, list)) else ""))
    return state[0], state[1]

