"""Handwritten digits (scikit-learn's 8×8 set, shipped with the package) with optional label noise.

A fraction of training labels is replaced by uniformly random classes (Zhang et al. 2017:
at label_noise 1 every training label is random); validation labels stay clean. The examples
whose label is now wrong are recorded in `info["noisy"]`.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from refute.registry import Params
from refute.components.tasks import TASKS
from refute.components.tasks import Task, TaskData, TaskInfo, sized_split

N_DIGITS = 1797


class Digits(Params):
    n_train: int = Field(1000, ge=1, le=N_DIGITS - 1, description="training set size (of the 1,797 images)")
    n_val: int = Field(797, ge=1, le=N_DIGITS - 1, description="validation set size; n_train + n_val <= 1797")
    label_noise: float = Field(
        0.0, ge=0, le=1, description="fraction of training labels replaced by a uniformly random class (1: random labels)"
    )
    noise_seed: int = Field(0, ge=0, description="seed choosing which labels are replaced and by what")
    split_seed: int = Field(0, ge=0, description="seed of the train/validation split")

    @model_validator(mode="after")
    def _fits(self):
        if self.n_train + self.n_val > N_DIGITS:
            raise ValueError(f"n_train + n_val = {self.n_train + self.n_val} exceeds the {N_DIGITS} digits")
        return self


def load():
    """The 1,797 images (pixels 0..16, [N, 64]) and labels, read from the file scikit-learn ships.

    Read directly, as sklearn.datasets.load_digits does, because importing scikit-learn costs
    seconds per training job; load_digits itself is the fallback.
    """
    import importlib.util
    from pathlib import Path

    import numpy as np

    spec = importlib.util.find_spec("sklearn")
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec and spec.origin else None
    if path is None or not path.exists():
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.data, d.target
    table = np.loadtxt(path, delimiter=",")
    return table[:, :-1], table[:, -1].astype(np.int64)


@TASKS.register("digits", Digits)
class DigitsTask(Task):
    """scikit-learn's 8×8 digits, pixels in [0, 1], a fraction of training labels randomized"""

    provides = frozenset({"dense", "image"})

    def info(self, p: Digits) -> TaskInfo:
        return TaskInfo(p.n_train, p.n_val, "dense", 64, 10, "classification", image_shape=(1, 8, 8))

    def build(self, p: Digits) -> TaskData:
        import torch

        pixels, target = load()
        x = torch.tensor(pixels, dtype=torch.float32) / 16.0
        y = torch.tensor(target, dtype=torch.long)
        tr, va = sized_split(len(x), p.n_train, p.n_val, p.split_seed)
        y_tr = y[tr].clone()
        g = torch.Generator().manual_seed(p.noise_seed)
        replaced = torch.randperm(p.n_train, generator=g)[: round(p.label_noise * p.n_train)]
        y_tr[replaced] = torch.randint(0, 10, (len(replaced),), generator=g)
        return TaskData(x[tr], y_tr, x[va], y[va], inputs="dense", in_dim=64, out_dim=10, objective="classification",
                        image_shape=(1, 8, 8), info={"noisy": y_tr != y[tr], "clean_y_train": y[tr]})
