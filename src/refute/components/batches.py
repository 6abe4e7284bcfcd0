"""Each training step's batch, per seed: the full training set, a minibatch drawn from the seed's own
generator, or fresh examples from an online task. Shared by training and by probes that retrain (pruning)."""

from __future__ import annotations

import torch

from refute.components import objectives
from refute.components.tasks import TaskData


# Random draws are made for many steps at once, about this many bytes of examples (or indices) per
# seed per draw: on small models, per-step draws cost more than the model itself.
DRAW_BYTES = 1 << 20


class Batches:
    """Each step's training batch. Full batch shares the training set; minibatches are drawn per seed
    from the seed's own generator; an online task draws fresh examples per seed the same way.

    A draw covers `block` steps. Minibatch indices are then the very numbers one draw per step gives
    (a generator's stream does not depend on how it is cut); a resumed run redraws the current block
    from the generator states saved at its start.
    """

    def __init__(self, data: TaskData, batch_size, seeds: list[int], device: str = "cpu"):
        self.data, n, self.device = data, len(data.x_train), device
        self.size = n if batch_size == "full" else int(batch_size)
        self.full = not data.online and self.size >= n
        self.y_full = objectives.shared(data.y_train, len(seeds))
        # Offset from the init seed so data order and initialization are independent streams.
        self.gens = [torch.Generator().manual_seed(int(s) + 7919) for s in seeds]
        example_bytes = (data.x_train[0].numel() * data.x_train.element_size() + data.y_train[0].numel()
                         * data.y_train.element_size()) if data.online else 8
        self.block = max(1, DRAW_BYTES // (self.size * example_bytes))
        self._drawn, self._used, self._block_start = None, 0, None

    def next(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """(x, y, batched): x shared by all seeds ([B, ...], batched False) or per seed ([S, B, ...])."""
        d = self.data
        if self.full:
            return d.x_train, self.y_full, False
        if self._drawn is None or self._used == self.block:
            self._draw()
        k, self._used = self._used, self._used + 1
        if d.online:
            return self._drawn[0][:, k], self._drawn[1][:, k], True
        idx = self._drawn[:, k]
        return d.x_train[idx], d.y_train[idx], True

    def _draw(self) -> None:
        d, n = self.data, self.block * self.size
        self._block_start = [g.get_state() for g in self.gens]

        def by_step(per_seed):  # [S] x [block * size, ...] -> [S, block, size, ...]; a step is [:, k]
            return torch.stack(per_seed).view(len(per_seed), self.block, self.size, *per_seed[0].shape[1:])

        # Drawn on the CPU whatever the device, so every device sees the same examples.
        if d.online:
            xs, ys = zip(*(d.sample(g, n) for g in self.gens))
            self._drawn = (by_step(xs).to(self.device), by_step(ys).to(self.device))
        else:
            self._drawn = by_step([torch.randint(0, len(d.x_train), (n,), generator=g) for g in self.gens]).to(self.device)
        self._used = 0

    def state_dict(self) -> dict:
        """The generator states at the start of the current block and the steps of it already used."""
        if self._drawn is None:
            return {"generators": [g.get_state() for g in self.gens], "used": None}
        return {"generators": self._block_start, "used": self._used}

    def load_state_dict(self, state: dict) -> None:
        for g, s in zip(self.gens, state["generators"], strict=True):
            g.set_state(s)
        self._drawn = None
        if state["used"] is not None:
            self._draw()
            self._used = state["used"]
