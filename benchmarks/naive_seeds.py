"""What a user would write without refute: plain PyTorch, one model per seed, seeds one after another.

    python benchmarks/naive_seeds.py {small|large} SEED [SEED ...] [--steps N] [--threads T]

The two reference workloads of benchmarks/trainer_speed.py, written the ordinary way (nn.Sequential,
torch.optim with its defaults), so "one process per seed" and "one process, seeds in a loop" are timed
on exactly the work refute's trainer does:

- small: sparse parity, n = 40 bits, k = 3 relevant, MLP 40→128→2 (cross-entropy on the two classes,
  as refute's sparse_parity task defines it), Adam lr 1e-3, a fresh minibatch of 32 every step.
- large: (a + b) mod 97 on 30% of the pairs (2,823), embedding 128 per token, hidden 512, AdamW lr 1e-3
  with weight decay 1.0, full batch.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn
import torch.nn.functional as F

N_BITS, K, WIDTH, BATCH = 40, 3, 128, 32
P, TRAIN_FRACTION, D_EMBED, HIDDEN = 97, 0.3, 128, 512


def small(seed: int, steps: int) -> float:
    torch.manual_seed(seed)
    relevant = torch.randperm(N_BITS)[:K]
    model = nn.Sequential(nn.Linear(N_BITS, WIDTH), nn.ReLU(), nn.Linear(WIDTH, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(steps):
        x = torch.randint(0, 2, (BATCH, N_BITS)).float() * 2 - 1
        y = (x[:, relevant].prod(1) < 0).long()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def large(seed: int, steps: int) -> float:
    g = torch.Generator().manual_seed(0)
    pairs = torch.cartesian_prod(torch.arange(P), torch.arange(P))
    train = pairs[torch.randperm(len(pairs), generator=g)[: round(TRAIN_FRACTION * len(pairs))]]
    y = (train[:, 0] + train[:, 1]) % P
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Embedding(P, D_EMBED), nn.Flatten(), nn.Linear(2 * D_EMBED, HIDDEN), nn.ReLU(),
                          nn.Linear(HIDDEN, P))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0)
    for _ in range(steps):
        loss = F.cross_entropy(model(train), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=["small", "large"])
    ap.add_argument("seeds", type=int, nargs="+")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    train = small if a.workload == "small" else large
    for seed in a.seeds:
        train(seed, a.steps)


if __name__ == "__main__":
    main()
