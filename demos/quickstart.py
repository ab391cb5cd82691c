"""The smallest end-to-end run: a tanh RNN learns to sum a noisy sequence, loss printed as it falls.

    python -m demos.quickstart
"""

from __future__ import annotations

import argparse

import numpy as np

import minigrad as mg


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    hidden = 16
    w_xh = mg.tensor(rng.normal(0, 0.5, (1, hidden)), requires_grad=True, dtype=np.float32)
    w_hh = mg.tensor(rng.normal(0, 0.1, (hidden, hidden)), requires_grad=True, dtype=np.float32)
    w_hy = mg.tensor(rng.normal(0, 0.1, (hidden, 1)), requires_grad=True, dtype=np.float32)
    params = [w_xh, w_hh, w_hy]
    for step in range(args.steps + 1):
        x = rng.uniform(-1, 1, (8, 32, 1)).astype(np.float32)       # (T, B, 1)
        target = x.sum(axis=0) / 4
        h = mg.zeros(32, hidden)
        for t in range(x.shape[0]):
            h = (mg.tensor(x[t]) @ w_xh + h @ w_hh).tanh()            # h_t = tanh(x_t W_xh + h_{t-1} W_hh)
        loss = ((h @ w_hy - target) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        for p in params:
            p.add_(p.grad, alpha=-0.5)
        if step % 50 == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
