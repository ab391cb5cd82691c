"""The course's hand-written BPTT next to minigrad's autograd: the same gradient, two ways.

    python -m demos.rnn_step_by_step                      # RNN, dWaa side by side
    python -m demos.rnn_step_by_step --cell lstm --param dWf

Runs the assignment's ``rnn_forward`` / ``lstm_forward`` on random data, then gets dJ/dparams for
J = sum_t sum(da<t> * a<t>) twice: from the hand-written ``rnn_backward`` / ``lstm_backward``
(numpy, models/rnn_step_by_step.py) and from minigrad autograd over the same forward built from
primitives. Prints one parameter's gradient from both, side by side, then the largest difference
for every gradient in the dict.
"""

from __future__ import annotations

import numpy as np

from demos import _cli
from models import rnn_step_by_step as sbs


def _params(cell: str, rng: np.random.Generator, n_x: int, n_a: int, n_y: int) -> dict[str, np.ndarray]:
    if cell == "rnn":
        return {
            "Wax": rng.standard_normal((n_a, n_x)),
            "Waa": rng.standard_normal((n_a, n_a)),
            "Wya": rng.standard_normal((n_y, n_a)),
            "ba": rng.standard_normal((n_a, 1)),
            "by": rng.standard_normal((n_y, 1)),
        }
    p = {}
    for g in "fico":
        p[f"W{g}"] = rng.standard_normal((n_a, n_a + n_x))
        p[f"b{g}"] = rng.standard_normal((n_a, 1))
    p["Wy"], p["by"] = rng.standard_normal((n_y, n_a)), rng.standard_normal((n_y, 1))
    return p


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = _cli.parser(__doc__, "python -m demos.rnn_step_by_step")
    parser.add_argument("--cell", choices=["rnn", "lstm"], default="rnn")
    parser.add_argument(
        "--param",
        default=None,
        help="gradient to print side by side (default dWaa for rnn, dWf for lstm); "
        "any key of the gradient dict, e.g. dx, da0, dba, dWo",
    )
    parser.add_argument("--n-x", type=int, default=3, help="input size (default 3)")
    parser.add_argument("--n-a", type=int, default=5, help="hidden size (default 5)")
    parser.add_argument("--m", type=int, default=10, help="batch size, one column per example (default 10)")
    parser.add_argument("--steps", type=int, default=4, help="time steps T_x (default 4)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    for name in ("n_x", "n_a", "m", "steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    param = args.param or ("dWaa" if args.cell == "rnn" else "dWf")

    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.n_x, args.m, args.steps))
    a0 = rng.standard_normal((args.n_a, args.m))
    P = _params(args.cell, rng, args.n_x, args.n_a, 2)
    da = rng.standard_normal((args.n_a, args.m, args.steps))
    if args.cell == "rnn":
        hand = sbs.rnn_backward(da, sbs.rnn_forward(x, a0, P)[2])
        auto = sbs.rnn_backward_autograd(da, x, a0, P)
    else:
        hand = sbs.lstm_backward(da, sbs.lstm_forward(x, a0, P)[3])
        auto = sbs.lstm_backward_autograd(da, x, a0, P)
    if param not in hand:
        parser.error(f"--param {param!r} is not a gradient of {args.cell}_backward; choose from {sorted(hand)}")

    h, g = hand[param], auto[param]
    if h.ndim == 3:  # dx: show the last time step, where BPTT starts
        h, g, where = h[:, :, -1], g[:, :, -1], f"{param}[:, :, {args.steps - 1}]"
    else:
        where = param
    print(
        f"{args.cell.upper()}, n_x={args.n_x} n_a={args.n_a} m={args.m} T_x={args.steps}, J = sum_t sum(da<t> * a<t>)\n"
    )
    width = 11 * h.shape[1]
    print(f"{'hand-written ' + args.cell + '_backward':<{width}}   |   {'minigrad autograd (J.backward())'}")
    print(f"{where:<{width}}   |   {where}")
    for row_h, row_g in zip(h, g):
        print(" ".join(f"{v:10.6f}" for v in row_h) + "    |   " + " ".join(f"{v:10.6f}" for v in row_g))
    diffs = {k: float(np.max(np.abs(hand[k] - auto[k]))) for k in hand}
    print(f"\nmax |hand - autograd| over {param}: {diffs[param]:.2e}")
    print("every gradient: " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
    return diffs


if __name__ == "__main__":
    main()
