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
biases folded once per call, not per step. A matmul whose result is only added to is one
``addmm`` node (``x_proj + h W_hh^T``, ``x W_ih^T + b``): the same floats, one array kept
in the graph instead of two.

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
from ..autograd import EMPTY_TAGS, is_grad_enabled, tag
from ..checkpoint import checkpoint
from ..tensor import Tensor, addmm, concat, split, stack, where
from . import init
from .functional import dropout
from .module import Module, Parameter, as_layer_input
from .utils.rnn import PackedSequence, check_lengths, pack_like, pad_packed_sequence

__all__ = ["COURSE_NOTATION", "GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"]

_NONLINEARITIES = ("tanh", "relu")
_GRU_VARIANTS = ("reset_after", "reset_before", "minimal")

# The course's (Sequence Models) name for each tensor the cells tag, by cell kind and tag name.
# The GRU's update gate is the one place the two notations disagree: PyTorch's z keeps the old
# state (h' = (1 - z) * n + z * h) where the course's Gamma_u takes the new one, so Gamma_u = 1 - z.
COURSE_NOTATION: dict[str, dict[str, str]] = {
    "rnn": {"h": "a"},
    "lstm": {"i": "Γ_u", "f": "Γ_f", "g": "c̃", "o": "Γ_o", "c": "c", "h": "a"},
    "gru": {"r": "Γ_r", "z": "1 − Γ_u", "n": "c̃", "h": "c"},
}


class StepWeights(NamedTuple):
    """What a step reads, made once per forward call (transposes, folded biases), not per step."""

    W_ih_T: Tensor  # (I, G*H): one matmul projects every timestep's input
    x_bias: Tensor | None  # the biases folded into that projection
    W_hh_T: Tensor  # (H, G*H): one matmul gives every gate's hidden term
    h_bias: Tensor | None = None  # GRU reset_after: b_hn must stay inside r * (W_hn h + b_hn)
    W_hn_T: Tensor | None = None  # GRU reset_before: W_hn^T, applied to r * h
    w_ci: Tensor | None = None  # LSTM peepholes (H,)
    w_cf: Tensor | None = None
    w_co: Tensor | None = None
    W_hr_T: Tensor | None = None  # LSTM projection W_hr^T (H, P)


def _tags(cell: str, **roles: str) -> dict[str, dict[str, str]]:
    """The shared, never-mutated tag dicts of one cell kind: {name: {"role", "name", "cell"}}."""
    return {name: {"role": role, "name": name, "cell": cell} for name, role in roles.items()}


# ----------------------------------------------------------------------------------------
# Cells
# ----------------------------------------------------------------------------------------


class RNNCellBase(Module):
    """One step of a recurrent cell with ``num_gates`` gates stacked in its weights.

    Parameters (PyTorch's names and init, U(-1/sqrt(H), 1/sqrt(H))): ``weight_ih`` (G*H, I),
    ``weight_hh`` (G*H, H), ``bias_ih`` and ``bias_hh`` (G*H,), the rows stacked gate by gate.

    A subclass writes its equations in ``step``. ``x_proj`` is the step's input projection,
    ``W_ih x + b`` for all G gates at once: the layer computes it for every timestep in one
    matmul before its time loop (``project``), which is why ``step`` starts from it. ``prepare``
    transposes the weights and folds the biases once per call.
    """

    num_gates = 1
    state_names: tuple[str, ...] = ("h",)
    kind = ""  # "rnn", "gru", "lstm": the ``cell`` tag
    TAGS: dict[str, dict[str, str]] = {}  # what ``step`` tags, by name (see docs/engine.md)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        dtype: Any = None,
        recurrent_size: int | None = None,
        num_gates: int | None = None,
    ) -> None:
        super().__init__()
        if num_gates is not None:
            self.num_gates = num_gates
        name = type(self).__name__
        for label, size in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size <= 0:
                raise ValueError(f"{name}: {label} must be a positive integer, got {size!r}")
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"{name}: bias must be True or False, got {bias!r}")
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
        return StepWeights(W_ih_T=w["weight_ih"].T, x_bias=bias, W_hh_T=w["weight_hh"].T)

    def project(self, x: Tensor, w: StepWeights) -> Tensor:
        """``x_proj = x W_ih^T + folded biases`` for a (N, I) batch of inputs: (N, G*H)."""
        return x @ w.W_ih_T if w.x_bias is None else addmm(w.x_bias, x, w.W_ih_T)  # one node: x W_ih^T + b

    def step(
        self, x_proj: Tensor, state: tuple[Tensor, ...], w: StepWeights, where: Mapping[str, Any] = EMPTY_TAGS
    ) -> tuple[Tensor, ...]:
        """One timestep from the projected input ``x_proj`` (B, G*H) and the state tuple.

        ``where`` ({"layer", "direction", "step"} when a layer runs it) joins the tags the step
        puts on its gates and states.
        """
        raise NotImplementedError(f"{type(self).__name__} must define step()")

    # ---- one step on the cell's own weights --------------------------------------------
    def _forward(self, x: Any, states: tuple[Any, ...]) -> tuple[Tensor, ...]:
        name = type(self).__name__
        x = _as_tensor(x, self.weight_ih.dtype, name, "input")
        if x.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {x.ndim}D instead (shape {x.shape})")
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: input has inconsistent input_size: got {x.shape[-1]}, expected "
                f"{self.input_size} (input of shape {x.shape})"
            )
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
                raise ValueError(
                    f"{name}: expected {label} of shape {expected} for an input of shape {x.shape}, got {state.shape}"
                )
            full.append(state.reshape(1, size) if unbatched else state)
        with tracing.scope(name.lower()):
            if unbatched:
                x = x.reshape(1, self.input_size)
            w = self.prepare(self._parameters)
            out = self.step(self.project(x, w), tuple(full), w)
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

    kind = "rnn"
    TAGS = _tags(kind, h="state")

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", dtype: Any = None
    ) -> None:
        if nonlinearity not in _NONLINEARITIES:
            raise ValueError(f"RNNCell: Unknown nonlinearity {nonlinearity!r}. Select from 'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity

    def step(
        self, x_proj: Tensor, state: tuple[Tensor, ...], w: StepWeights, where: Mapping[str, Any] = EMPTY_TAGS
    ) -> tuple[Tensor, ...]:
        (h,) = state
        pre = addmm(x_proj, h, w.W_hh_T)  # W_ih x + b_ih + W_hh h + b_hh
        h_next = pre.tanh() if self.nonlinearity == "tanh" else pre.relu()
        tag(h_next, self.TAGS["h"], where)
        return (h_next,)

    def forward(self, x: Any, h: Any = None) -> Tensor:
        return self._forward(x, (h,))[0]

    def extra_repr(self) -> str:
        extra = "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity}"
        return super().extra_repr() + extra


class GRUCell(RNNCellBase):
    """Gated recurrent unit, ``h' = cell(x, h=None)``; gates stacked r, z, n (PyTorch's order).

    ``variant="reset_after"`` (PyTorch, cuDNN)::

        r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)          reset gate       (course: Γ_r)
        z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)          update gate      (course: 1 - Γ_u)
        n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))       candidate        (course: c̃)
        h' = n + z * (h - n)     [= (1 - z) * n + z * h]     hidden state     (course: c)

    In the code ``x_r, x_z, x_n`` = W_i* x + b_i* (every timestep in one matmul, before the
    loop; the biases that are not inside ``r * (...)`` are folded there) and ``h_r, h_z, h_n``
    = W_h* h + b_h* (all gates in one matmul per step).

    ``variant="reset_before"`` (Cho et al. 2014, Keras ``reset_after=False``): the same but
    ``n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)``.

    ``variant="minimal"`` (the course's simplified GRU: update gate only): gates stacked z, n
    (G = 2, ``weight_ih`` is (2H, I))::

        z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n  = tanh(W_in x + b_in + W_hn h + b_hn)
        h' = n + z * (h - n)     [= (1 - z) * n + z * h]

    Course notation (Sequence Models): c<t> = h, c~<t> = n, Gamma_r = r and Gamma_u = 1 - z
    (the course writes c<t> = Gamma_u * c~<t> + (1 - Gamma_u) * c<t-1>). The course's full GRU,
    c~<t> = tanh(W_c [Gamma_r * c<t-1>, x<t>] + b_c), is ``reset_before``, with
    W_c = [W_hn | W_in] and b_c = b_in + b_hn.
    """

    kind = "gru"
    TAGS = _tags(kind, r="gate", z="gate", n="candidate", h="state")

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, variant: str = "reset_after", dtype: Any = None
    ) -> None:
        if variant not in _GRU_VARIANTS:
            raise ValueError(
                f"GRUCell: Unknown variant {variant!r}. Select from {', '.join(repr(v) for v in _GRU_VARIANTS)}."
            )
        super().__init__(input_size, hidden_size, bias, dtype, num_gates=2 if variant == "minimal" else 3)
        self.variant = variant

    def prepare(self, w: Mapping[str, Tensor | None]) -> StepWeights:
        if self.variant == "reset_after":  # b_hn sits inside r * (...): only b_ih folds
            return StepWeights(
                W_ih_T=w["weight_ih"].T, x_bias=w.get("bias_ih"), W_hh_T=w["weight_hh"].T, h_bias=w.get("bias_hh")
            )
        weights = super().prepare(w)
        if self.variant == "reset_before":  # r and z share one matmul, n needs r * h first
            W_hrz_T, W_hn_T = split(weights.W_hh_T, [2 * self.hidden_size, self.hidden_size], axis=1)
            return weights._replace(W_hh_T=W_hrz_T, W_hn_T=W_hn_T)
        return weights

    def step(
        self, x_proj: Tensor, state: tuple[Tensor, ...], w: StepWeights, where: Mapping[str, Any] = EMPTY_TAGS
    ) -> tuple[Tensor, ...]:
        (h,) = state
        H, tags = self.hidden_size, self.TAGS
        h_proj = h @ w.W_hh_T if w.h_bias is None else addmm(w.h_bias, h, w.W_hh_T)  # W_h* h (+ b_h*)
        if self.variant == "minimal":
            x_z, x_n = split(x_proj, H, axis=-1)
            h_z, h_n = split(h_proj, H, axis=-1)
            z = tag((x_z + h_z).sigmoid(), tags["z"], where)
            n = tag((x_n + h_n).tanh(), tags["n"], where)
        else:
            x_r, x_z, x_n = split(x_proj, H, axis=-1)
            if self.variant == "reset_after":
                h_r, h_z, h_n = split(h_proj, H, axis=-1)
            else:
                h_r, h_z = split(h_proj, H, axis=-1)
            r = tag((x_r + h_r).sigmoid(), tags["r"], where)
            z = tag((x_z + h_z).sigmoid(), tags["z"], where)
            if self.variant == "reset_after":
                n = tag((x_n + r * h_n).tanh(), tags["n"], where)
            else:
                n = tag(addmm(x_n, r * h, w.W_hn_T).tanh(), tags["n"], where)  # x_n + W_hn (r * h)
        # h' = n + z * (h - n): PyTorch's fused GRU cell's form of (1 - z) * n + z * h, 3 ops per
        # step instead of 5 (the other form adds a constant, 1 - z and a mul, each a backward node)
        h_next = tag(n + z * (h - n), tags["h"], where)
        return (h_next,)

    def forward(self, x: Any, h: Any = None) -> Tensor:
        return self._forward(x, (h,))[0]

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.variant == "reset_after" else f", variant={self.variant}")


class LSTMCell(RNNCellBase):
    """Long short-term memory cell, ``h', c' = cell(x, None or (h, c))``; gates stacked i, f, g, o.

        i  = sigmoid(W_ii x + b_ii + W_hi h + b_hi  [+ w_ci * c])    input gate     (course: Γ_u)
        f  = sigmoid(W_if x + b_if + W_hf h + b_hf  [+ w_cf * c])    forget gate    (course: Γ_f)
        g  = tanh(W_ig x + b_ig + W_hg h + b_hg)                     cell candidate (course: c̃)
        c' = f * c + i * g                                           cell state     (course: c)
        o  = sigmoid(W_io x + b_io + W_ho h + b_ho  [+ w_co * c'])   output gate    (course: Γ_o)
        h' = o * tanh(c')                                            hidden state   (course: a)
                                                                     [then h' = W_hr h' if proj_size]

    In the code ``pre_i, pre_f, pre_g, pre_o`` are the four pre-activations, from one matmul on
    the stacked weights per step plus the input projection made before the loop.

    The bracketed terms are the peephole connections (``peephole=True``, Gers & Schmidhuber
    2000): diagonal weights ``weight_ci``, ``weight_cf``, ``weight_co`` (H,); the input and
    forget gates see c, the output gate sees c'. ``proj_size=P`` (as ``torch.nn.LSTM``'s) adds
    ``weight_hr`` (P, H) and makes h of size P (``weight_hh`` is then (4H, P)).

    Course notation (Sequence Models): Gamma_u = i, Gamma_f = f, Gamma_o = o, c~<t> = g,
    a<t> = h, c<t> = c; W_c [a<t-1>, x<t>] + b_c = W_hg h + W_ig x + b_ig + b_hg.
    """

    num_gates = 4
    state_names = ("h", "c")
    kind = "lstm"
    TAGS = _tags(kind, i="gate", f="gate", g="candidate", o="gate", c="state", h="state")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        peephole: bool = False,
        proj_size: int = 0,
        dtype: Any = None,
    ) -> None:
        if not isinstance(proj_size, (int, np.integer)) or proj_size < 0 or (proj_size and proj_size >= hidden_size):
            raise ValueError(
                f"LSTMCell: proj_size must be an integer in [0, hidden_size={hidden_size}), got {proj_size!r}"
            )
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
        weights = super().prepare(w)
        W_hr = w.get("weight_hr")
        return weights._replace(
            w_ci=w.get("weight_ci"),
            w_cf=w.get("weight_cf"),
            w_co=w.get("weight_co"),
            W_hr_T=None if W_hr is None else W_hr.T,
        )

    def step(
        self, x_proj: Tensor, state: tuple[Tensor, ...], w: StepWeights, where: Mapping[str, Any] = EMPTY_TAGS
    ) -> tuple[Tensor, ...]:
        h, c = state
        tags, peep = self.TAGS, self.peephole
        pre = addmm(x_proj, h, w.W_hh_T)  # W_ih x + b_ih + W_hh h + b_hh, all four gates
        pre_i, pre_f, pre_g, pre_o = split(pre, self.hidden_size, axis=-1)
        i = tag((pre_i + w.w_ci * c if peep else pre_i).sigmoid(), tags["i"], where)
        f = tag((pre_f + w.w_cf * c if peep else pre_f).sigmoid(), tags["f"], where)
        g = tag(pre_g.tanh(), tags["g"], where)
        c_next = tag(f * c + i * g, tags["c"], where)
        o = tag((pre_o + w.w_co * c_next if peep else pre_o).sigmoid(), tags["o"], where)
        h_next = o * c_next.tanh()
        if w.W_hr_T is not None:
            h_next = h_next @ w.W_hr_T
        return (tag(h_next, tags["h"], where), c_next)

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
    cell_option_defaults: dict[str, Any] = {}  # the cell's own keyword options, e.g. nonlinearity

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
        checkpoint_every: int | None = None,
        **cell_options: Any,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        every_is_int = isinstance(checkpoint_every, (int, np.integer)) and not isinstance(checkpoint_every, bool)
        if checkpoint_every is not None and (not every_is_int or checkpoint_every < 1):
            raise ValueError(
                f"{name}: checkpoint_every must be a positive int (timesteps per recomputed segment) "
                f"or None, got {checkpoint_every!r}"
            )
        self.checkpoint_every = None if checkpoint_every is None else int(checkpoint_every)
        unknown = sorted(set(cell_options) - set(self.cell_option_defaults))
        if unknown:
            known = ", ".join(self.cell_option_defaults) or "none"
            raise TypeError(f"{name}: unexpected keyword argument(s) {', '.join(unknown)} (its cell options: {known})")
        if not isinstance(bias, (bool, np.bool_)):
            hint = " (cell options are keywords: RNN(..., nonlinearity='relu'))" if isinstance(bias, str) else ""
            raise TypeError(f"{name}: bias must be True or False, got {bias!r}{hint}")
        if not isinstance(num_layers, (int, np.integer)) or isinstance(num_layers, bool) or num_layers < 1:
            raise ValueError(f"{name}: num_layers must be an integer greater than zero, got {num_layers!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(
                f"{name}: dropout should be a number in range [0, 1] representing the "
                f"probability of an element being zeroed, got {dropout!r}"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout applies between recurrent layers, so dropout={dropout} with "
                "num_layers=1 does nothing",
                stacklevel=2,
            )
        cell_options = {**self.cell_option_defaults, **cell_options}
        self.input_size = input_size  # validated by the cells below
        self.hidden_size = hidden_size
        self.num_layers = int(num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self._cell_options = cell_options
        for key, value in cell_options.items():  # rnn.nonlinearity, gru.variant, lstm.proj_size ...
            setattr(self, key, value)
        directions = 2 if bidirectional else 1
        cells = []
        for layer in range(self.num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else directions * (cell_options.get("proj_size") or hidden_size)
                try:
                    cell = self.cell_class(layer_input, hidden_size, bias=bias, dtype=dtype, **cell_options)
                except ValueError as err:  # name the layer, not the cell, in the message
                    raise ValueError(str(err).replace(self.cell_class.__name__, name, 1)) from None
                for param_name, param in cell.named_parameters():
                    setattr(self, param_name + self._suffix(layer, direction), param)
                cells.append(cell)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        # Not registered: the layer's own attributes are the parameters; the cells give equations.
        object.__setattr__(self, "cells", tuple(cells))

    def forward(self, x: Any, h0: Any = None, lengths: Any = None) -> tuple[Any, Tensor]:
        """``out, h_n = layer(x, h0=None, lengths=None)`` (RNN and GRU; LSTM's state is a pair)."""
        out, (h_n,) = self._run(x, (h0,), lengths)
        return out, h_n

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
                raise ValueError(
                    f"{name}: a PackedSequence carries its own lengths; pass lengths= only with a padded input"
                )
            packed, batch_first = x, False  # packed data is time-major, whatever batch_first says
            x, lengths = pad_packed_sequence(packed)[0], packed.lengths()
        x = _as_tensor(x, dtype, name, "input")
        if x.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {x.ndim}D instead (shape {x.shape})")
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                f"got {x.shape[-1]} (input of shape {x.shape})"
            )
        unbatched = x.ndim == 2
        steps = x.shape[0] if unbatched or not batch_first else x.shape[1]
        if steps == 0:
            raise ValueError(f"{name}: Expected sequence length to be larger than 0 (input of shape {x.shape})")
        batch = 1 if unbatched else x.shape[1 if not batch_first else 0]
        running = None  # (T, B): does sequence b still run at step t?
        if lengths is not None:
            if unbatched:
                raise ValueError(
                    f"{name}: lengths= needs a batched input, (T, B, I) or (B, T, I) with "
                    f"batch_first; got shape {x.shape}"
                )
            lengths = check_lengths(lengths, batch, steps, name)
            running = np.arange(steps)[:, None] < lengths[None, :]
            if running.all():  # nothing is padding: the plain loop
                running = None
        D, L = self.num_directions, self.num_layers
        sizes = self.cells[0].state_sizes()
        initial = self._check_states(states, sizes, batch, unbatched, dtype)

        with tracing.scope(name.lower()):
            if unbatched:
                x = x.reshape(steps, 1, self.input_size)
            elif batch_first:
                x = x.transpose(0, 1)
            zeros = _Zeros(dtype)  # one zero state per size, for every layer
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
                            state = tuple(
                                zeros(batch, size) if s is None else s[index] for s, size in zip(initial, sizes)
                            )
                            at = {"layer": layer, "direction": "bwd" if direction else "fwd"}
                            # checkpointed segments cover full-length batches; a variable-length batch
                            # (running is not None) runs the plain loop: same results, no memory saving
                            if self.checkpoint_every and is_grad_enabled() and running is None:
                                out, state = _run_direction_checkpointed(
                                    cell, weights, x, state, direction == 1, self.checkpoint_every
                                )
                            else:
                                out, state = self._run_direction(cell, weights, x, state, direction == 1, at, running)
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
    def _run_direction(
        cell: RNNCellBase,
        weights: Mapping[str, Tensor | None],
        x: Tensor,
        state: tuple[Tensor, ...],
        reverse: bool,
        at: Mapping[str, Any] = EMPTY_TAGS,
        running: np.ndarray | None = None,
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """THE time loop, for every cell kind: x (T, B, I) -> outputs (T, B, H), final state.

        ``at`` ({"layer", "direction"}) joins the tags of everything the loop makes.

        With ``running`` (T, B) (a variable-length batch), a step where some sequence has ended
        keeps that sequence's state, and its outputs there are zero::

            state_t = where(running[t], cell(x_t, state_{t-1}), state_{t-1})
            out     = where(running, [h_0, ..., h_{T-1}], 0)          (once, after the loop)

        so h_n is each sequence's state at its own last step, the reverse direction starts at
        each sequence's own end (from h0), and padded steps pass no gradient to anything.
        """
        T, B, features = x.shape
        w = cell.prepare(weights)
        for name, weight in zip(w._fields, w):  # tag what each step reads, made once per call
            if weight is not None and weight.op is not None:  # (never a parameter: it outlives the call)
                tag(weight, at, role="weight", name=name)
        x_proj = cell.project(x.reshape(T * B, features), w)  # every timestep, one matmul
        x_proj = x_proj.reshape(T, B, x_proj.shape[-1])  # not -1: a batch of 0 is legal (PyTorch)
        tag(x_proj, at, role="input_projection", cell=cell.kind)
        outputs: list[Any] = [None] * T
        # Each step adds ~15 tensors to a graph that holds no reference cycles: pause the cyclic
        # collector, which would otherwise rescan the growing graph (cost per step grows with T).
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for t in range(T - 1, -1, -1) if reverse else range(T):
                at_step = {**at, "step": t}
                with tracing.scope(f"t{t}"):  # x_proj[t]: its attrs["index"] is t
                    new_state = cell.step(x_proj[t], state, w, at_step)
                    if running is None or running[t].all():
                        state = new_state
                    else:  # a sequence has ended (reversed: not begun): it keeps its state
                        state = _keep_finished(new_state, state, running[t], at_step)
                outputs[t] = state[0]
        finally:
            if gc_was_enabled:
                gc.enable()
        out = stack(outputs, axis=0)
        if running is not None:  # zeros past each sequence's end: one op for all steps
            out = tag(where(Tensor(running[:, :, None]), out, 0.0), at, role="mask", masked=True)
        return out, state

    def _check_states(
        self, states: tuple[Any, ...], sizes: tuple[int, ...], batch: int, unbatched: bool, dtype: Any
    ) -> list[Tensor | None]:
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
            raise ValueError(
                f"{name}: For {'unbatched 2-D' if unbatched else 'batched 3-D'} input, {what} "
                f"should also be {want}-D but got ({got}) tensor(s)"
            )
        full = []
        for k, (s, size) in enumerate(zip(states, sizes)):
            expected = (
                (self.num_directions * self.num_layers, size)
                if unbatched
                else (self.num_directions * self.num_layers, batch, size)
            )
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
        for key, value in self._cell_options.items():
            if key != "proj_size" and value != self.cell_option_defaults[key]:
                text += f", {key}={value}"
        return text


class RNN(RNNBase):
    """Elman RNN layers: ``out, h_n = rnn(x, h0=None)``; each step is ``RNNCell``'s equation.

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, dtype=None)``: PyTorch's order, ``nonlinearity`` fourth.
    Parameters per layer k (and ``_reverse``): ``weight_ih_l{k}`` (H, I or D*H), ``weight_hh_l{k}``
    (H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (H,).
    """

    cell_class = RNNCell
    cell_option_defaults = {"nonlinearity": "tanh"}

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(input_size, hidden_size, num_layers, *args, nonlinearity=nonlinearity, **kwargs)


class GRU(RNNBase):
    """GRU layers: ``out, h_n = gru(x, h0=None)``; each step is ``GRUCell``'s equations.

    ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, dtype=None, *, variant="reset_after")`` (variants as ``GRUCell``;
    "reset_after" is PyTorch's). Parameters per layer k (and ``_reverse``): ``weight_ih_l{k}``
    (G*H, I or D*H), ``weight_hh_l{k}`` (G*H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G*H,),
    G = 3 (2 for "minimal").
    """

    cell_class = GRUCell
    cell_option_defaults = {"variant": "reset_after"}


class LSTM(RNNBase):
    """LSTM layers: ``out, (h_n, c_n) = lstm(x, None or (h0, c0))``; each step is ``LSTMCell``'s.

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, dtype=None, *, proj_size=0, peephole=False)``. Parameters per layer k
    (and ``_reverse``): ``weight_ih_l{k}`` (4H, I or D*H), ``weight_hh_l{k}`` (4H, H),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (4H,); with ``proj_size=P`` also ``weight_hr_l{k}`` (P, H),
    h and the outputs have size P and ``weight_hh_l{k}`` is (4H, P); with ``peephole=True`` also
    ``weight_ci_l{k}``, ``weight_cf_l{k}``, ``weight_co_l{k}`` (H,). c_n is (D*num_layers, B, H).
    """

    cell_class = LSTMCell
    cell_option_defaults = {"proj_size": 0, "peephole": False}

    def forward(
        self, x: Any, state: tuple[Any, Any] | None = None, lengths: Any = None
    ) -> tuple[Any, tuple[Tensor, Tensor]]:
        h0, c0 = _state_pair(state, "LSTM")
        out, (h_n, c_n) = self._run(x, (h0, c0), lengths)
        return out, (h_n, c_n)


def _run_direction_checkpointed(
    cell: RNNCellBase,
    weights: Mapping[str, Tensor | None],
    x: Tensor,
    state: tuple[Tensor, ...],
    reverse: bool,
    every: int,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """The time loop in segments of ``every`` steps, each under ``checkpoint``: memory-efficient BPTT.

    Only the states at segment boundaries (and the input) are kept; in ``backward()`` each
    segment runs again, input projection included, and is differentiated at once (Chen et al.
    2016: segments of sqrt(T) steps keep O(sqrt(T)) states for one extra forward pass;
    Gruslys et al. 2016 for BPTT). Gradients equal the plain loop's.
    """
    T, B, features = x.shape
    p = cell.prepare(weights)  # W^T and folded biases: arguments of every segment
    fields = [name for name, value in p._asdict().items() if value is not None]
    n_states = len(state)

    def segment(x_chunk: Tensor, start: int, *tensors: Tensor) -> tuple[Tensor, ...]:
        seg_state = tensors[:n_states]
        seg_p = p._replace(**dict(zip(fields, tensors[n_states:])))
        steps = x_chunk.shape[0]
        projected = cell.project(x_chunk.reshape(steps * B, features), seg_p)
        x_gates = projected.reshape(steps, B, projected.shape[-1])
        outputs: list[Any] = [None] * steps
        for i in range(steps - 1, -1, -1) if reverse else range(steps):
            with tracing.scope(f"t{start + i}"):
                seg_state = cell.step(x_gates[i], seg_state, seg_p)
            outputs[i] = seg_state[0]
        return (stack(outputs, axis=0), *seg_state)

    starts = list(range(0, T, every))
    chunks: list[Any] = [None] * len(starts)
    for j in reversed(range(len(starts))) if reverse else range(len(starts)):
        start = starts[j]
        chunk_out, *state = checkpoint(
            segment, x[start : start + every], start, *state, *(getattr(p, name) for name in fields)
        )
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


def _keep_finished(
    new_state: tuple[Tensor, ...], old_state: tuple[Tensor, ...], running: np.ndarray, at_step: Mapping[str, Any]
) -> tuple[Tensor, ...]:
    """The new state for the sequences still running (``running``: (B,) bool), the old one for the rest.

    Tagged ``role="mask"``, ``masked=True`` (with the step's layer/direction/step) so a renderer can
    draw these as masking, not computation."""
    keep = Tensor(running[:, None])
    return tuple(
        tag(where(keep, new, old), at_step, role="mask", masked=True) for new, old in zip(new_state, old_state)
    )


def _as_tensor(value: Any, dtype: Any, owner: str, label: str) -> Tensor:
    return as_layer_input(value, dtype, owner, label)  # the dtype rule every layer shares


def _state_pair(state: Any, owner: str) -> tuple[Any, Any]:
    if state is None:
        return None, None
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise TypeError(
            f"{owner}: the state must be None or a pair (h, c), got {type(state).__name__}"
            + (f" of length {len(state)}" if isinstance(state, (tuple, list)) else "")
        )
    return state[0], state[1]
