"""Modular arithmetic: predict (a op b) mod p from the tokens a and b (Power et al. 2022)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from refute.registry import Params
from refute.components.tasks import TASKS
from refute.components.tasks import Task, TaskData, TaskInfo


class ModularArithmetic(Params):
    p: int = Field(97, ge=2, le=2000, description="the modulus; tokens are 0..p-1")
    op: Literal["+", "-", "*", "/"] = Field("+", description="the operation; '/' needs a prime p and b != 0")
    train_fraction: float | None = Field(
        None, gt=0, lt=1, description="fraction of all pairs used for training (0.3 when neither it nor n_train is given)"
    )
    n_train: int | None = Field(
        None, ge=1, description="training set size in pairs; replaces train_fraction (give one of the two)"
    )
    split_seed: int = Field(0, ge=0, description="seed of the train/validation split (the same for every run)")

    @model_validator(mode="after")
    def _division_needs_prime(self):
        if self.op == "/" and any(self.p % d == 0 for d in range(2, int(self.p**0.5) + 1)):
            raise ValueError(f"op '/' needs a prime modulus, and {self.p} is not prime")
        return self

    @model_validator(mode="after")
    def _one_size(self):
        if self.n_train is not None and self.train_fraction is not None:
            raise ValueError("give n_train or train_fraction, not both")
        pairs = self.p * (self.p - 1) if self.op == "/" else self.p**2
        if self.n_train is not None and self.n_train >= pairs:
            raise ValueError(f"n_train = {self.n_train} leaves no validation pairs (there are {pairs})")
        return self


@TASKS.register("modular_arithmetic", ModularArithmetic)
class ModularArithmeticTask(Task):
    """(a op b) mod p over all pairs, split once at random into train and validation"""

    provides = frozenset({"tokens"})

    def info(self, params: ModularArithmetic) -> TaskInfo:
        pairs = params.p * (params.p - 1) if params.op == "/" else params.p**2
        n_train = params.n_train or max(1, round((params.train_fraction or 0.3) * pairs))
        return TaskInfo(n_train, pairs - n_train, "tokens", 2, params.p, "classification", vocab_size=params.p)

    def build(self, params: ModularArithmetic) -> TaskData:
        import torch

        p = params.p
        a, b = torch.cartesian_prod(torch.arange(p), torch.arange(p)).T
        if params.op == "/":
            keep = b != 0
            a, b = a[keep], b[keep]
            # b^(p-2) is b's inverse mod a prime p (Fermat); pow with a modulus keeps it exact.
            inv = torch.tensor([pow(int(v), p - 2, p) for v in range(p)])
            y = (a * inv[b]) % p
        else:
            y = {"+": a + b, "-": a - b, "*": a * b}[params.op] % p
        x = torch.stack([a, b], dim=1)
        g = torch.Generator().manual_seed(params.split_seed)
        order = torch.randperm(len(x), generator=g)
        n_train = self.info(params).n_train
        tr, va = order[:n_train], order[n_train:]
        return TaskData(x[tr], y[tr], x[va], y[va], inputs="tokens", in_dim=2, out_dim=p,
                        objective="classification", vocab_size=p)
